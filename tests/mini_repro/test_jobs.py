"""The mini reproduction's job runner: dependencies first, a failure blocks only what needs it, finished jobs are
skipped next time, and each marker records wall and CPU time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from omni_r1.mini_repro.jobs import run_jobs
from omni_r1.mini_repro.plan import Job


def _job(tmp: Path, name: str, code: str, deps: list[str] | None = None) -> Job:
    return Job(name, "test", tmp / name, lambda: [[sys.executable, "-c", code]], deps or [])


def test_order_failures_markers_and_skips(tmp_path: Path) -> None:
    order = tmp_path / "order.txt"
    write = f"open({str(order)!r}, 'a').write('{{}}\\n')"
    jobs = [
        _job(tmp_path, "b", write.format("b"), ["a"]),
        _job(tmp_path, "a", write.format("a") + "; sum(range(30_000_000))"),
        _job(tmp_path, "bad", "raise SystemExit(3)"),
        _job(tmp_path, "after_bad", write.format("x"), ["bad"]),
    ]
    outcomes = {o.job.name: o for o in run_jobs(jobs, slots=2, announce=lambda _: None)}
    assert order.read_text().split() == ["a", "b"]
    assert [outcomes[n].status for n in ("a", "b", "bad", "after_bad")] == ["finished", "finished", "failed", "blocked"]
    assert "exit status 3" in outcomes["bad"].error
    record = json.loads((tmp_path / "a" / "DONE.json").read_text())
    assert record["stage"] == "test" and record["cpu_seconds"] > 0 and record["seconds"] > 0
    again = {o.job.name: o.status for o in run_jobs(jobs, slots=2, announce=lambda _: None)}
    assert again == {"a": "skipped", "b": "skipped", "bad": "failed", "after_bad": "blocked"}
    assert order.read_text().split() == ["a", "b"]
