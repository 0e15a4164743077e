"""The kit's LightningCLI: ``--ckpt_path``, value checks before anything is built, atomic checkpoint IO.

Shared by ``python -m omni_r1.fit`` (which builds and fits) and :mod:`omni_r1.config` (which only parses, for the
planner, the exporter, ``evaluate`` and ``predict``), so every command reads a config exactly as training does.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from omni_r1.callbacks.config_logging import LogConfigCallback
from omni_r1.callbacks.progress_bar import StepProgressBar
from omni_r1.callbacks.run_summary import RunSummaryCallback
from omni_r1.checkpoint import CheckpointError, check_local_checkpoint, use_safe_checkpoint_io
from omni_r1.validation import ConfigError, validate_tree


class OmniR1CLI(LightningCLI):
    """LightningCLI with ``--ckpt_path`` for resuming (``run=False`` has no subcommands to carry it), value checks
    before instantiation and the kit's atomic checkpoint IO."""

    def __init__(self, *args: Any, parser_kwargs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        # omegaconf+ resolves ``${trainer.default_root_dir}`` after every config file and flag is merged, so the
        # trainer configs derive the logger's and the checkpoints' folders from that one key.
        kwargs.setdefault("save_config_callback", LogConfigCallback)  # config.yaml + every key as a hyperparameter
        super().__init__(*args, parser_kwargs={"parser_mode": "omegaconf+", **(parser_kwargs or {})}, **kwargs)

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
        if not any(isinstance(callback, RunSummaryCallback) for callback in trainer.callbacks):
            trainer.callbacks.append(RunSummaryCallback())  # the summary and plots.png at the end of every run
        bar = trainer.progress_bar_callback
        if type(bar) is RichProgressBar:  # Lightning's own bar shows "Epoch 74/-2" when max_steps ends the run
            trainer.callbacks[trainer.callbacks.index(bar)] = StepProgressBar(
                bar.refresh_rate, bar._leave, bar.theme, bar._console_kwargs
            )
        return trainer
