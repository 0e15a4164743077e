"""AVHBench judge scores: accuracy on yes/no hallucination questions, plus the POPE-style companions.

AVHBench's leaderboard reports accuracy, precision, recall, F1 and the share of "yes" answers for its yes/no
tasks; the release has no scoring script, and those are the POPE definitions (the positive class is "yes").
A model that answers "yes" to everything reaches 50% accuracy on a balanced set with a yes-ratio of 100%, so the
yes-ratio tells a hallucinating model apart from a calibrated one with the same accuracy.

Free-form answers are read with POPE's rule: keep the text before the first ``.``, drop commas, split on spaces;
the answer is "no" when one of the words is ``No``, ``no`` or ``not``, otherwise "yes". Completions in the kit's
``<think>…</think><answer>…</answer>`` format are read from their answer part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_NEGATIONS = frozenset({"No", "no", "not"})


def parse_yes_no(text: str) -> bool:
    """``True`` when a free-form answer says "yes" under POPE's rule (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"answers must be strings, got {type(text).__name__}")
    match = _ANSWER.search(text)
    sentence = (match.group(1) if match else text).strip().split(".")[0]
    return not _NEGATIONS.intersection(sentence.replace(",", "").split(" "))


def avhbench_confusion(predicted_yes: Tensor, label_yes: Tensor) -> Tensor:
    """Counts ``[tp, fp, tn, fn]`` (int64) with "yes" as the positive class.

    Args:
        predicted_yes: ``(N,)`` bool, the model said yes.
        label_yes: ``(N,)`` bool, the correct answer is yes.
    """
    if predicted_yes.shape != label_yes.shape or predicted_yes.ndim != 1:
        raise ValueError(
            f"need two (N,) vectors of the same length, got {tuple(predicted_yes.shape)}, {tuple(label_yes.shape)}"
        )
    pred, label = predicted_yes.bool(), label_yes.to(predicted_yes.device).bool()
    return torch.stack([(pred & label).sum(), (pred & ~label).sum(), (~pred & ~label).sum(), (~pred & label).sum()])


def avhbench_scores_from_confusion(confusion: Tensor) -> dict[str, Tensor]:
    """Accuracy, precision, recall, F1 and yes-ratio (fractions, float64) from ``[tp, fp, tn, fn]``.

    A ratio whose denominator is zero (no "yes" predicted, or no "yes" label) is 0 rather than NaN.
    """
    tp, fp, tn, fn = confusion.double()
    total = tp + fp + tn + fn

    def ratio(num: Tensor, den: Tensor) -> Tensor:
        return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    return {
        "accuracy": ratio(tp + tn, total),
        "precision": precision,
        "recall": recall,
        "f1": ratio(2 * precision * recall, precision + recall),
        "yes_ratio": ratio(tp + fp, total),
    }


def avhbench_scores(answers: Sequence[str] | Tensor, labels: Sequence[str | bool] | Tensor) -> dict[str, Tensor]:
    """Judge scores of a list of answers.

    Args:
        answers: model outputs (parsed with :func:`parse_yes_no`) or an ``(N,)`` bool tensor of "said yes".
        labels: ``"Yes"`` / ``"No"`` strings as in the AVHBench json files, bools, or an ``(N,)`` bool tensor.

    Returns:
        ``{"accuracy", "precision", "recall", "f1", "yes_ratio"}`` as float64 scalars (fractions).
    """
    said_yes = answers if isinstance(answers, Tensor) else torch.tensor([parse_yes_no(a) for a in answers])
    return avhbench_scores_from_confusion(avhbench_confusion(said_yes, label_tensor(labels)))


def label_tensor(labels: Sequence[str | bool] | Tensor) -> Tensor:
    """``(N,)`` bool "the answer is yes" from ``"Yes"`` / ``"No"`` labels (case and a final period ignored)."""
    if isinstance(labels, Tensor):
        return labels.bool()
    values = []
    for k, label in enumerate(labels):
        if isinstance(label, bool):
            values.append(label)
            continue
        text = label.strip().rstrip(".").lower() if isinstance(label, str) else None
        if text not in ("yes", "no"):
            raise ValueError(f"label {k} must be 'Yes' or 'No', got {label!r}")
        values.append(text == "yes")
    return torch.tensor(values, dtype=torch.bool)
