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

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from omni_r1.checkpoint import CheckpointError, check_local_checkpoint, use_safe_checkpoint_io
from omni_r1.config_files import ConfigFileError, check_config_files
from omni_r1.distributed import process_group_teardown
from omni_r1.validation import ConfigError, validate_tree


class OmniR1CLI(LightningCLI):
    """LightningCLI with ``--ckpt_path`` for resuming (``run=False`` has no subcommands to carry it), value checks
    before instantiation and the kit's atomic checkpoint IO."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume from")

    def before_instantiate_classes(self) -> None:
        """Check every value of the parsed config, so that a bad one stops the run before any weight loads."""
        config = self.config
        ckpt_path = config.get("ckpt_path")
        if ckpt_path is not None:
            try:
                check_local_checkpoint(ckpt_path)
            except CheckpointError as error:
                raise ConfigError("ckpt_path", ckpt_path, error.problem) from None
        validate_tree({key: config.get(key) for key in ("model", "data", "trainer")})

    def instantiate_trainer(self, **kwargs) -> Trainer:
        trainer = super().instantiate_trainer(**kwargs)
        use_safe_checkpoint_io(trainer)
        return trainer


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
