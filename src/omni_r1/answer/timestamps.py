"""The timestamp format of the Global system's answers, written by prompts and reference answers alike.

:func:`~omni_r1.answer.parse.parse_timestamp` reads what :func:`format_timestamp` writes (and the looser forms a
sampled answer uses).
"""

from __future__ import annotations


def format_timestamp(seconds: float) -> str:
    """Seconds → ``mm:ss.ff``, the timestamp format of the paper's answers."""
    seconds = max(0.0, float(seconds))
    minutes = int(seconds // 60)
    return f"{minutes:02d}:{seconds - 60 * minutes:05.2f}"
