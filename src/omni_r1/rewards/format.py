"""Think/answer format reward.

The reference checks ``re.fullmatch(r"<think>.*?</think>\\s*<answer>.*?</answer>", text, re.DOTALL)``. That
regex backtracks quadratically on adversarial text (thousands of ``</think><answer>`` pairs with no final
``</answer>``), so :func:`matches_think_answer` decides the same language in linear time; a differential test
pins the two together.

Whitespace: only the gap between ``</think>`` and ``<answer>`` may hold whitespace. The completion must start
with ``<think>`` and end with ``</answer>`` exactly (fullmatch), so a leading space or a trailing newline scores 0,
as in the reference; callers decode completions with special tokens skipped and without stripping.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
FORMAT_PATTERN = r"<think>.*?</think>\s*<answer>.*?</answer>"

_WHITESPACE = re.compile(r"\s*")


def matches_think_answer(text: str) -> bool:
    """Whether ``text`` fully matches :data:`FORMAT_PATTERN` with DOTALL, in O(len(text)).

    Both ``.*?`` gaps may be empty or hold further tags, so the text matches iff it starts with ``<think>``, ends
    with ``</answer>``, and some ``</think>`` after the opening tag is followed (after optional whitespace) by an
    ``<answer>`` that ends no later than the final ``</answer>`` starts.
    """
    if not (text.startswith(THINK_OPEN) and text.endswith(ANSWER_CLOSE)):
        return False
    last_answer_open = len(text) - len(ANSWER_CLOSE) - len(ANSWER_OPEN)
    pos = len(THINK_OPEN)
    while True:
        close_at = text.find(THINK_CLOSE, pos)
        if close_at < 0 or close_at + len(THINK_CLOSE) > last_answer_open:
            return False
        # Each whitespace run is skipped for at most one candidate: the next </think> starts after it.
        answer_at = _WHITESPACE.match(text, close_at + len(THINK_CLOSE)).end()
        if answer_at <= last_answer_open and text.startswith(ANSWER_OPEN, answer_at):
            return True
        pos = close_at + 1


def format_reward(text: str) -> float:
    """1.0 iff the whole completion is ``<think>…</think>`` + optional whitespace + ``<answer>…</answer>``; else 0.0."""
    return 1.0 if matches_think_answer(text) else 0.0


def format_reward_batch(completions: Sequence[str]) -> Tensor:
    """``(G,)`` float32 format rewards of a group of completions."""
    return torch.tensor([format_reward(text) for text in completions], dtype=torch.float32)
