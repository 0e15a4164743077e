"""The Global system of experiments/mini_repro can perceive what its reference answers name.

Linear probes (:mod:`omni_r1.mini_repro.probes`) on the frozen tiny encoders as the thinker sees them, fitted on
training clips and scored on held-out clips: the words the SFT targets use (``description``) and the tones the
audio queries need must be readable, AUC >= 0.8. A reference answer naming what S1 cannot see would teach it to
guess.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.mini_repro.probes import probe_auc, roc_auc, run_probes

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


def test_roc_auc_hand_values() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    assert roc_auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), labels) == 0.75
    assert roc_auc(torch.tensor([1.0, 1.0, 1.0, 1.0]), labels) == 0.5  # ties count half
    assert roc_auc(torch.tensor([0.9, 0.8, 0.1, 0.2]), labels) == 0.0


def test_probe_separates_signal_from_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 8, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot((x[:, 0] > 0).long(), 2).double()  # class readable off one feature
    assert probe_auc(x[:200], y[:200], x[200:], y[200:]) > 0.95
    noise = torch.nn.functional.one_hot(torch.randint(0, 2, (400,), generator=g), 2).double()
    assert probe_auc(x[:200], noise[:200], x[200:], noise[200:]) < 0.7


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, float], str]:
    config = resolved_config(
        [
            "--config",
            str(EXPERIMENT / "sft.yaml"),
            "--model.init_args.policy.init_args.model_name_or_path",
            "tiny://qwen2.5-omni?seed=100",  # the tuning seed's encoders
        ]
    )
    module = instantiate_model(config["model"])
    root = tmp_path_factory.mktemp("probes") / "data"
    return run_probes(module.policy, root, train_clips=16, test_clips=8), module.description


def test_the_words_of_the_reference_descriptions_are_perceivable(probes) -> None:
    result, description = probes
    needed = ["colour"] if description == "colour" else ["colour", "kind"]
    for name in needed:
        assert result[name] >= 0.8, f"S1 cannot see the {name} its reference answers name: AUC {result[name]:.2f}"


def test_the_tones_the_audio_queries_need_reach_the_thinker(probes) -> None:
    result, _ = probes
    assert result["tone"] >= 0.8, f"which colour sounds in a second: AUC {result['tone']:.2f}"
