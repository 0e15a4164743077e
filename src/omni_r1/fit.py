"""``python -m omni_r1.fit --config configs/….yaml``: train a module on a DataModule with LightningCLI.

The module and the DataModule are chosen by ``class_path`` in the config (subclass mode); their parts (policy,
rewards, optimizer) are injected the same way, so every run is described by its saved ``config.yaml``.
"""

from __future__ import annotations

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI


class OmniR1CLI(LightningCLI):
    """LightningCLI with ``--ckpt_path`` for resuming (``run=False`` has no subcommands to carry it)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="checkpoint to resume from")


def main(args: list[str] | None = None) -> OmniR1CLI:
    """Parse ``args`` (defaults to ``sys.argv``), build everything, then fit."""
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


if __name__ == "__main__":
    main()
