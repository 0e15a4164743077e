"""The whole resolved config as the logger's hyperparameters, so runs can be grouped and compared by any key.

LightningCLI writes ``config.yaml`` into the log folder but gives the logger only what the module saved with
``save_hyperparameters`` (no learning rate, no reward weights, no model path). This callback logs every leaf of the
resolved config under its dotted key (``model.init_args.optimizer.init_args.lr``,
``model.init_args.reward.init_args.weights.mask``, ``trainer.max_steps``…) to every logger: ``hparams.yaml`` for
CSV, the run config for wandb, the HPARAMS tab for TensorBoard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import SaveConfigCallback


def flatten_config(config: Any, prefix: str = "") -> dict[str, Any]:
    """Leaves of a nested config as ``{dotted.key: value}``; lists of nodes are indexed (``callbacks.0.…``)."""
    if hasattr(config, "as_dict"):
        config = config.as_dict()
    flat: dict[str, Any] = {}
    if isinstance(config, Mapping):
        items = config.items()
    elif isinstance(config, list) and any(isinstance(v, (Mapping, list)) for v in config):
        items = ((str(i), v) for i, v in enumerate(config))
    else:
        return {prefix: config} if prefix else {}
    for key, value in items:
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (Mapping, list)) or hasattr(value, "as_dict"):
            nested = flatten_config(value, name)
            flat.update(nested if nested or isinstance(value, list) else {name: None})
        else:
            flat[name] = value
    return flat


class LogConfigCallback(SaveConfigCallback):
    """``config.yaml`` in the log folder (as LightningCLI does) and every config leaf as a hyperparameter."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not trainer.loggers:
            return
        flat = {k: v for k, v in flatten_config(self.config).items() if k != "config"}
        for logger in trainer.loggers:
            logger.log_hyperparams(flat)
