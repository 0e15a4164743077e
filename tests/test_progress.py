"""``omni_r1.progress``: a bar with an ETA on a terminal, periodic log lines with an ETA elsewhere, silence for
quick loops."""

from __future__ import annotations

import io
import logging
import time

import pytest

from omni_r1.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_lines_with_counts_eta_and_status(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="omni_r1.progress"),
        Progress(4, "evaluate run", unit="prompts", interval=0.0, stream=io.StringIO()) as bar,
    ):
        bar.update(1, failed=0)
        bar.update(2, failed=1)
        bar.interval = 3600.0  # the next update is not logged: the end is
        bar.update(1)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "evaluate run: 1/4 prompts (25%), 0:00:00 elapsed, ETA 0:00:00; failed=0"
    assert lines[1].startswith("evaluate run: 3/4 prompts (75%)") and lines[1].endswith("failed=1")
    assert lines[2] == "evaluate run: 4/4 prompts (100%), 0:00:00 elapsed; failed=1" and len(lines) == 3


def test_a_quick_loop_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="omni_r1.progress"),
        Progress(1000, "data check", unit="files", stream=io.StringIO()) as bar,
    ):
        for _ in range(1000):
            bar.update()
    assert caplog.records == []


def test_a_terminal_gets_a_bar_with_counts_and_status() -> None:
    terminal = Terminal()
    with Progress(3, "sweep", unit="runs", delay=0.0, stream=terminal) as bar:
        time.sleep(0.2)  # tqdm redraws at most every 0.1 s
        bar.update(2, failed=1)
    shown = terminal.getvalue()
    assert "sweep" in shown and "2/3" in shown and "runs" in shown and "failed=1" in shown
