"""The end-of-run summary: metrics recorded without a logger, start vs end figures, plots.png with its panels."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from omni_r1.callbacks.run_plots import draw_run_plots, plot_keys
from omni_r1.callbacks.run_summary import RunSummaryCallback, render_summary


class RisingReward(L.LightningModule):
    """Logs the metric names the GRPO module logs, with a reward that rises by 1 per step."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        step = float(self.global_step)
        self.log_dict(
            {
                "train/reward": torch.tensor(step),
                "train/rewards/format/mean": torch.tensor(1.0),
                "train/rewards/mask/mean": torch.tensor(step / 10),
                "train/kl": torch.tensor(0.01 * step),
                "train/loss": torch.tensor(1.0 / (1 + step)),
            }
        )
        return (self.weight**2).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_summary_and_plots_at_the_end_of_fit(tmp_path: Path) -> None:
    callback = RunSummaryCallback(window=2)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=6,
        logger=L.pytorch.loggers.CSVLogger(tmp_path, name="logs"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
        log_every_n_steps=1,
    )
    trainer.fit(RisingReward(), DataLoader(torch.zeros(6, 1), batch_size=1))
    folder = Path(trainer.log_dir)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["stage"] == "RisingReward" and summary["steps"] == 6
    reward = summary["metrics"]["train/reward"]
    assert reward == {"start": 0.5, "end": 4.5, "steps": 2}  # steps 0-1 vs 4-5 (the count before each update)
    assert summary["metrics"]["train/rewards/mask/mean"]["end"] > summary["metrics"]["train/rewards/mask/mean"]["start"]
    assert (folder / "plots.png").stat().st_size > 0 and summary["paths"]["plots"] == str(folder / "plots.png")
    text = render_summary(summary)
    assert "RisingReward finished: 6 steps" in text and "mask" in text and "plots.png" in text


def test_plot_panels_are_named_by_metric() -> None:
    history = {
        "train/reward": [(1, 0.1), (2, 0.4)],
        "train/rewards/format/mean": [(1, 1.0), (2, 1.0)],
        "train/rewards/format/std": [(1, 0.0), (2, 0.0)],
        "train/kl": [(1, 0.0), (2, 0.01)],
        "train/completions/mean_length": [(1, 30.0), (2, 28.0)],
        "val/loss": [(2, 1.5)],
        "train/lr": [(1, 1e-3)],
    }
    assert plot_keys(history) == [
        "train/reward",
        "train/rewards/format/mean",
        "train/kl",
        "train/completions/mean_length",
        "val/loss",
    ]
    figure = draw_run_plots(history)
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == plot_keys(history)
