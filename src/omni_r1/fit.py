"""``python -m omni_r1.fit --config configs/….yaml``: train a module on a DataModule with LightningCLI.

The module and the DataModule are chosen by ``class_path`` in the config (subclass mode); their parts (policy,
rewards, optimizer) are injected the same way, so every run is described by its saved ``config.yaml``. Without
``--config`` the demo's first stage runs (``configs/demo.yaml`` of the source checkout).

Before anything is built, the config files are read (a YAML error names its file and line), every value is
checked (:mod:`omni_r1.validation`: one line naming the key) and ``--ckpt_path`` must be an existing local file.
Checkpoints are written atomically (:mod:`omni_r1.checkpoint`), and a distributed rank tears its process group
down on the way out (:mod:`omni_r1.distributed`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from lightning.fabric.utilities.warnings import PossibleUserWarning
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.utilities.model_helpers import is_overridden

from omni_r1.checkpoint import CheckpointError
from omni_r1.cli import OmniR1CLI
from omni_r1.command_line import HelpFormatter, configure_logging
from omni_r1.config_files import ConfigFileError, check_config_files
from omni_r1.data import avhbench, mevis, mixture, refavs, refcocog, revos, videoqa
from omni_r1.distributed import process_group_teardown
from omni_r1.training import grpo_module, sft_module
from omni_r1.validation import ConfigError

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"  # in a source checkout, not a wheel
MODULES = {  # imported here, so that --help lists them as the known subclasses of --model and --data
    "model": (grpo_module.GRPOModule, sft_module.SFTModule),
    "data": (
        revos.ReVOSDataModule,
        mevis.MeViSDataModule,
        refavs.RefAVSDataModule,
        refcocog.RefCOCOgDataModule,
        videoqa.VideoQADataModule,
        avhbench.AVHBenchDataModule,
        mixture.MixtureDataModule,
    ),
}


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_DATA_LINES = "\n           ".join(_path(cls) for cls in MODULES["data"])
DESCRIPTION = """Train a Global system with GRPO (or SFT) on a dataset, as the config describes it.

A config names a module (model: class_path, init_args), a DataModule (data:) and the Trainer's settings (trainer:);
later --config files and --key value flags override single keys, e.g.
  python -m omni_r1.fit --config configs/demo.yaml --trainer.max_steps 50 --model.init_args.optimizer.init_args.lr 1e-4
Without --config, configs/demo.yaml of the source checkout runs (the demo's SFT stage)."""
EPILOG = f"""the kit's modules (their keys: --model.help CLASS, --data.help CLASS):
  --model  {_path(MODULES["model"][0])}   GRPO with the Detail system in the loop (the paper)
           {_path(MODULES["model"][1])}     supervised fine-tuning (warm start, SFT baseline)
  --data   {_DATA_LINES}

examples:
  python -m omni_r1.fit --model.help {_path(MODULES["model"][0])}
  python -m omni_r1.fit --data.help {_path(MODULES["data"][0])}
  python -m omni_r1.fit --config configs/demo_grpo.yaml --print_config    every key of a config, resolved
"""

PARSER = {
    "prog": "python -m omni_r1.fit",
    "description": DESCRIPTION,
    "epilog": EPILOG,
    "formatter_class": HelpFormatter,  # the description and the module list kept as written
}


def _with_default_config(args: list[str]) -> list[str]:
    """``args`` with ``--config configs/demo.yaml`` first when they name no config (and ask for no help).

    Raises:
        ConfigFileError: no ``--config`` was given and the demo config is not there (an installed wheel).
    """
    asking_help = any(a in ("-h", "--help") or a.endswith(".help") or ".help=" in a for a in args)
    if asking_help or any(a in ("-c", "--config") or a.startswith("--config=") for a in args):
        return args
    if not DEMO_CONFIG.is_file():
        raise ConfigFileError(
            DEMO_CONFIG,
            "no --config given, and the default demo config is not here (it ships with the source "
            "checkout, not the package): pass --config FILE",
        )
    return ["--config", str(DEMO_CONFIG), *args]


def frozen_eval_modules(model: LightningModule) -> int:
    """How many modules Lightning will find in eval mode, when every one of them lies in a frozen part; else 0.

    The kit keeps frozen parts (the KL reference's copy of the initial weights) in eval mode on purpose: nothing in
    them is trained, and dropout must not perturb the reference log-probabilities. A module in eval mode that is not
    inside such a part (some of its parameters train, or it holds none) is a user's mistake, so it returns 0 and
    Lightning's warning stays.
    """
    frozen_roots: list[str] = []
    count = 0
    for name, module in model.named_modules():
        if module.training:
            continue
        count += 1
        if any(name.startswith(root + ".") for root in frozen_roots):
            continue
        parameters = list(module.parameters())
        if not parameters or any(p.requires_grad for p in parameters):
            return 0
        frozen_roots.append(name)
    return count


def expect_intended_warnings(model: LightningModule) -> None:
    """Filter the two Lightning warnings the kit's modules raise by design, exactly when the design is the cause:

    - ``You passed in a val_dataloader but have no validation_step``: a GRPO run is judged by ``omni_r1.evaluate``
      on the benchmark, not by a validation loss, so the val split its DataModule offers stays unused; a module
      with a ``validation_step`` (SFT) keeps the warning.
    - ``Found N module(s) in eval mode``: only with N the count of :func:`frozen_eval_modules`.
    """
    if not is_overridden("validation_step", model):
        warnings.filterwarnings(
            "ignore", message=r"You passed in a `val_dataloader` but have no `validation_step`", category=UserWarning
        )
    frozen = frozen_eval_modules(model)
    if frozen:
        warnings.filterwarnings(
            "ignore",
            message=rf"Found {frozen} module\(s\) in eval mode at the start of training",
            category=PossibleUserWarning,
        )


def main(args: list[str] | None = None) -> OmniR1CLI:
    """Parse ``args`` (defaults to ``sys.argv``), build everything, then fit.

    Raises:
        ConfigFileError: a config file that is missing or not valid YAML (or no ``--config`` and no demo config).
        ConfigError: a value that is not allowed (before anything is built).
    """
    configure_logging()
    args = _with_default_config(list(sys.argv[1:] if args is None else args))
    check_config_files(args)
    # the command line is always passed as a list (it may gain the demo config): Lightning's note on that is moot
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended", category=UserWarning)
    with process_group_teardown():
        cli = OmniR1CLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            run=False,
            args=args,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            parser_kwargs=PARSER,
        )
        expect_intended_warnings(cli.model)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.get("ckpt_path"))
    return cli


def run(args: list[str] | None = None) -> int:
    """``main`` for the command line: a configuration or checkpoint error is one line on stderr and exit code 2."""
    try:
        main(args)
    except (ConfigError, ConfigFileError, CheckpointError) as error:
        print(f"omni_r1.fit: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run())
