"""``python -m omni_r1.fit`` as a user meets it: its help names the kit's modules, no ``--config`` runs the demo, and
the two Lightning warnings the kit's design raises are silenced only where the design is their cause."""

from __future__ import annotations

import importlib
import re
import warnings

import pytest
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.demos.boring_classes import BoringDataModule, BoringModel
from torch import nn

import omni_r1.fit as fit
from omni_r1.fit import expect_intended_warnings, frozen_eval_modules, main, run


def test_help_names_the_kits_modules_and_how_to_see_their_keys(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m omni_r1.fit")
    assert "--model.help omni_r1.training.grpo_module.GRPOModule" in out and "--data.help" in out
    for name in ("GRPOModule", "SFTModule", "ReVOSDataModule", "RefAVSDataModule", "MixtureDataModule"):
        assert name in out
    paths = set(re.findall(r"omni_r1(?:\.[a-z_0-9]+)+\.[A-Z]\w+", fit.EPILOG))
    assert len(paths) == 9
    for path in paths:  # every class the help names exists under that name
        module, _, name = path.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), name), type)


def test_without_config_the_demo_is_the_default(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--print_config", "--trainer.max_steps", "7"])
    assert exit_info.value.code == 0
    config = yaml.safe_load(capsys.readouterr().out)
    assert config["model"]["class_path"] == "omni_r1.training.sft_module.SFTModule"
    assert config["trainer"]["max_steps"] == 7 and config["trainer"]["default_root_dir"] == "runs/demo"


def test_without_config_and_without_the_demo_file_it_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(fit, "DEMO_CONFIG", tmp_path / "configs" / "demo.yaml")  # an installed wheel
    assert run(["--trainer.max_steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no --config given" in err[0] and "pass --config FILE" in err[0]


class WithReference(BoringModel):
    """A trained layer next to a frozen copy kept in eval mode (as the KL reference is), without validation."""

    validation_step = LightningModule.validation_step  # none, like GRPO

    def __init__(self, reference_trains: bool = False) -> None:
        super().__init__()
        self.reference = nn.Sequential(nn.Linear(32, 32), nn.Dropout(0.1)).eval()
        self.reference.requires_grad_(reference_trains)


def test_frozen_eval_modules_counts_only_frozen_parts() -> None:
    assert frozen_eval_modules(WithReference()) == 3  # the Sequential, its Linear, its Dropout
    assert frozen_eval_modules(WithReference(reference_trains=True)) == 0
    model = BoringModel()
    model.dropout = nn.Dropout(0.5).eval()  # eval mode in a trained model: a mistake, no parameters to be frozen
    assert frozen_eval_modules(model) == 0


def _fit_warnings(model: LightningModule) -> list[str]:
    trainer = Trainer(
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expect_intended_warnings(model)
        trainer.fit(model, datamodule=BoringDataModule())
    return [str(w.message) for w in caught]


def test_the_kits_intended_warnings_are_silenced_and_a_real_one_stays() -> None:
    quiet = _fit_warnings(WithReference())
    assert not [m for m in quiet if "eval mode" in m or "val_dataloader" in m]
    loud = _fit_warnings(WithReference(reference_trains=True))
    assert any("Found 3 module(s) in eval mode" in m for m in loud)
