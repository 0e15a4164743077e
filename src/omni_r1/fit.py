"""``python -m omni_r1.fit --config configs/….yaml``: train a module on a DataModule with LightningCLI.

The module and the DataModule are chosen by ``class_path`` in the config (subclass mode); their parts (policy,
rewards, optimizer) are injected the same way, so every run is described by its saved ``config.yaml``.

Before anything is built, the config files are read (a YAML error names its file and line), every value is
checked (:mod:`omni_r1.validation`: one line naming the key) and ``--ckpt_path`` must be an existing local file.
Checkpoints are written atomically (:mod:`omni_r1.checkpoint`), and a distributed rank tears its process group
down on the way out (:mod:`omni_r1.distributed`).
"""

from __future__ import annotations

import sys

from lightning.pytorch import LightningDataModule, LightningModule

from omni_r1.checkpoint import CheckpointError
from omni_r1.cli import OmniR1CLI
from omni_r1.config_files import ConfigFileError, check_config_files
from omni_r1.distributed import process_group_teardown
from omni_r1.validation import ConfigError


def main(args: list[str] | None = None) -> OmniR1CLI:
    """Parse ``args`` (defaults to ``sys.argv``), build everything, then fit.

    Raises:
        ConfigFileError: a config file that is missing or not valid YAML.
        ConfigError: a value that is not allowed (before anything is built).
    """
    check_config_files(sys.argv[1:] if args is None else args)
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
        )
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
