"""Progress with an ETA for the kit's long loops (prompts of a split, runs of a sweep, files of a data check).

On a terminal it is a tqdm bar on stderr, shown only once the loop has run for ``delay`` seconds, so quick loops
stay silent. When stderr is not a terminal (a log file, a batch job) a bar's carriage returns would pile up on one
line, so it logs a line instead at most every ``interval`` seconds, and the final counts at the end when it logged any::

    evaluate run: 120/4000 prompts (3%), 0:02:10 elapsed, ETA 1:10:05; failed=2
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta
from types import TracebackType
from typing import Any, TextIO

logger = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class Progress:
    """A progress counter: ``with Progress(total, "evaluate run", unit="prompts") as bar: bar.update(1, failed=0)``.

    Args:
        total: how many units the loop will do.
        description: what is counted, shown first (the command's name).
        unit: the unit's name (plural).
        interval: seconds between two log lines when stderr is not a terminal.
        delay: seconds before a terminal bar appears.
        stream: where to write; the current ``sys.stderr`` when ``None`` (looked up at creation).
    """

    def __init__(
        self,
        total: int,
        description: str,
        *,
        unit: str = "it",
        interval: float = 30.0,
        delay: float = 2.0,
        stream: TextIO | None = None,
    ) -> None:
        self.total, self.description, self.unit, self.interval = total, description, unit, interval
        self.done = 0
        self.status: dict[str, Any] = {}
        self._start = self._last = time.monotonic()
        self._logged_at: int | None = None  # the count of the last line logged
        self._closed = False
        stream = stream if stream is not None else sys.stderr
        self._bar = None
        if getattr(stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, unit=f" {unit}", file=stream, delay=delay, leave=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def update(self, n: int = 1, **status: Any) -> None:
        """Count ``n`` more units done; ``status`` (``failed=2``) is shown after the counts until changed."""
        self.done += n
        self.status.update(status)
        if self._bar is not None:
            if status:
                self._bar.set_postfix(self.status, refresh=False)
            self._bar.update(n)
        elif time.monotonic() - self._last >= self.interval:
            self._log()

    def line(self) -> str:
        """The counts, elapsed time, ETA and status as one line."""
        elapsed = time.monotonic() - self._start
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"{self.description}: {self.done}/{self.total} {self.unit}{share}, {_clock(elapsed)} elapsed"
        if 0 < self.done < self.total:
            text += f", ETA {_clock(elapsed / self.done * (self.total - self.done))}"
        if self.status:
            text += "; " + ", ".join(f"{k}={v}" for k, v in self.status.items())
        return text

    def _log(self) -> None:
        self._last, self._logged_at = time.monotonic(), self.done
        logger.info(self.line())

    def close(self) -> None:
        """Remove the bar, or log the final counts when intermediate lines were logged."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._logged_at is not None and self._logged_at != self.done:
            self._log()
