"""The completions table: every sampled answer with its rewards and advantage, to read what GRPO is learning.

Every ``every_n_steps`` optimizer steps the last generation batch's B·G completions are appended to
``completions.jsonl`` in the log folder (one JSON row each: step, video, prompt, completion, reward, advantage and
every reward term) and, when the logger is wandb, logged as a table. It reads the module's ``last_experience`` (the
scored batch the GRPO step just trained on), so it costs nothing on the other steps and does nothing under SFT.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L

from omni_r1.validation import init_arguments, require_int


def completion_rows(batch: Sequence[Any], experience: Any, step: int) -> list[dict[str, Any]]:
    """One row per completion of ``experience`` (prompt ``i // G`` of ``batch``)."""
    rollouts, rewards, advantages = experience.rollouts, experience.rewards, experience.advantages
    group = len(rollouts.texts) // max(len(batch), 1)
    rows = []
    for i, text in enumerate(rollouts.texts):
        sample = batch[i // group]
        row = {
            "step": step,
            "video": sample.video_id,
            "prompt": sample.expression,
            "completion": text,
            "reward": float(rewards[i]),
            "advantage": float(advantages[i]),
        }
        row.update({name: float(value[i]) for name, value in experience.terms.items()})
        rows.append(row)
    return rows


class CompletionsTableCallback(L.Callback):
    """Writes the completions table every ``every_n_steps`` optimizer steps (see the module docstring).

    Args:
        every_n_steps: optimizer steps between tables (the step count after the batch's updates).
    """

    def __init__(self, every_n_steps: int = 1) -> None:
        CompletionsTableCallback.validate_init_args(init_arguments(locals()))
        self.every_n_steps = every_n_steps

    @classmethod
    def validate_init_args(cls, args: dict[str, Any]) -> None:
        require_int("every_n_steps", args.get("every_n_steps"), minimum=1)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        experience = getattr(pl_module, "last_experience", None)
        step = trainer.global_step
        if experience is None or step % self.every_n_steps:
            return
        rows = completion_rows(batch, experience, step)
        if not rows:
            return
        if trainer.log_dir is not None and trainer.is_global_zero:
            path = Path(trainer.log_dir) / "completions.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as file:
                file.writelines(json.dumps(row) + "\n" for row in rows)
        for logger in trainer.loggers:
            if hasattr(logger, "log_table"):  # WandbLogger
                columns = list(rows[0])
                logger.log_table(key="completions", columns=columns, data=[[row[c] for c in columns] for row in rows])
