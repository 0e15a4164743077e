"""What happened in a run, said when it ends: a short summary, ``summary.json`` and ``plots.png`` in the run folder.

A run used to end on Lightning's ``max_steps reached`` line, leaving the user to find out whether training worked
and where its outputs are. This callback records every ``train/…`` and ``val/…`` metric the module logs (from
``trainer.callback_metrics``, so no logger is needed), and at the end of ``fit`` prints the stage, the steps and
wall time, the reward (and each reward term) over the first steps against the last, the SFT losses, and the paths
of the checkpoint, the resolved config, the metrics, the completions table and the plot. ``omni_r1.fit`` adds it
to every run; a config may list it itself to change ``window``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info

from omni_r1.callbacks.run_plots import draw_run_plots
from omni_r1.validation import init_arguments, require_int


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


class RunSummaryCallback(L.Callback):
    """Records the run's metrics and summarises them at the end of ``fit`` (see the module docstring).

    Args:
        window: steps averaged at the start and at the end of the run for the "start → end" figures (at most half
            the run each).
    """

    def __init__(self, window: int = 8) -> None:
        RunSummaryCallback.validate_init_args(init_arguments(locals()))
        self.window = window
        self.history: dict[str, list[tuple[int, float]]] = {}
        self.started = time.perf_counter()
        self.summary: dict[str, Any] = {}

    @classmethod
    def validate_init_args(cls, args: dict[str, Any]) -> None:
        require_int("window", args.get("window"), minimum=1)

    # ------------------------------------------------------------------ recording
    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.perf_counter()
        self.history = {}

    def _record(self, trainer: L.Trainer, prefix: str) -> None:
        step = trainer.global_step
        for key, value in trainer.callback_metrics.items():
            if not key.startswith(prefix):
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            series = self.history.setdefault(key, [])
            if series and series[-1][0] == step:
                series[-1] = (step, number)
            else:
                series.append((step, number))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        self._record(trainer, "train/")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._record(trainer, "val/")

    # ------------------------------------------------------------------ the end
    def _start_end(self, key: str) -> tuple[float, float, int] | None:
        """Means over the first and the last ``window`` values (at most half the run each), and that window."""
        values = [v for _, v in self.history.get(key, [])]
        if not values:
            return None
        window = max(1, min(self.window, len(values) // 2))
        return _mean(values[:window]), _mean(values[-window:]), window

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        folder = Path(trainer.log_dir or trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stage = type(pl_module).__name__
        figures: dict[str, Any] = {}
        terms = sorted(k for k in self.history if k.startswith("train/rewards/") and k.endswith("/mean"))
        for key in ["train/reward", *terms, "train/kl", "train/loss"]:
            pair = self._start_end(key)
            if pair is not None:
                figures[key] = {"start": pair[0], "end": pair[1], "steps": pair[2]}
        for key in sorted(k for k in self.history if k.startswith("val/")):
            figures[key] = {"first": self.history[key][0][1], "last": self.history[key][-1][1]}
        paths = self._paths(trainer, folder)
        figure = draw_run_plots(self.history, folder / "plots.png", title=f"{stage}: {trainer.global_step} steps")
        paths["plots"] = str(folder / "plots.png")
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key="run/plots", images=[str(folder / "plots.png")])
        import matplotlib.pyplot as plt

        plt.close(figure)
        self.summary = {
            "stage": stage,
            "steps": trainer.global_step,
            "wall_time_s": round(time.perf_counter() - self.started, 1),
            "window": self.window,
            "metrics": figures,
            "paths": paths,
        }
        (folder / "summary.json").write_text(json.dumps(self.summary, indent=2) + "\n")
        paths["summary"] = str(folder / "summary.json")
        rank_zero_info(render_summary(self.summary))

    @staticmethod
    def _paths(trainer: L.Trainer, folder: Path) -> dict[str, str]:
        paths: dict[str, str] = {}
        for callback in trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint):
                last = callback.last_model_path or callback.best_model_path
                if last:
                    paths["checkpoint"] = last
                    break
        for name, file in (("config", "config.yaml"), ("metrics", "metrics.csv"), ("completions", "completions.jsonl")):
            if (folder / file).is_file():
                paths[name] = str(folder / file)
        return paths


def render_summary(summary: dict[str, Any]) -> str:
    """The summary as the lines printed at the end of a run."""
    lines = [f"omni_r1: {summary['stage']} finished: {summary['steps']} steps in {summary['wall_time_s']:.0f} s"]
    for key, value in summary["metrics"].items():
        name = key.removeprefix("train/").removeprefix("rewards/").removesuffix("/mean")
        indent = "    " if key.startswith("train/rewards/") else "  "
        if "start" in value:
            first, last, when = value["start"], value["end"], f"first {value['steps']} steps"
        else:
            first, last, when = value["first"], value["last"], "first validation"
        lines.append(f"{indent}{name:<22} {first:9.4f} ({when}) -> {last:9.4f} (last {value.get('steps', 1)})")
    for name, path in summary["paths"].items():
        lines.append(f"  {name:<12} {path}")
    return "\n".join(lines)
