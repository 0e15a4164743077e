"""A sweep point that stopped before finishing resumes from its ``last.ckpt`` when its config is unchanged (the
mini reproduction's GRPO stages run through the sweep and must survive being stopped)."""

from __future__ import annotations

from pathlib import Path

from omni_r1.sweep import Point, last_checkpoint, resolve_point, run_point

REPO = Path(__file__).resolve().parents[2]
BASE = ["--config", str(REPO / "configs" / "demo.yaml")]


def test_an_interrupted_point_is_started_from_its_last_checkpoint(tmp_path: Path) -> None:
    point = Point("p", {"trainer.max_steps": 2})
    run_dir = tmp_path / "p"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "run.yaml").write_text(resolve_point(BASE, point, str(run_dir)))  # what the first attempt wrote
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(b"not a checkpoint")  # the fit CLI checks it before building anything: a fast failure
    assert last_checkpoint(run_dir) == last
    result = run_point(BASE, point, tmp_path)
    assert result.status == "failed"
    log = (run_dir / "fit.log").read_text()
    assert f"resuming from {last}" in log and "weights_only" in log  # it resumed; the broken file stopped it


def test_a_point_whose_config_changed_starts_over(tmp_path: Path) -> None:
    run_dir = tmp_path / "p"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "run.yaml").write_text("trainer: {max_steps: 1}\n")  # another config than the point's
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    point = Point("p", {"trainer.max_steps": 2, "trainer.limit_train_batches": 0})  # no training: a quick exit 0
    result = run_point(BASE, point, tmp_path)
    assert result.status == "finished"
    assert "resuming from" not in (run_dir / "fit.log").read_text()
