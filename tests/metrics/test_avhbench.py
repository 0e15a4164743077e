"""AVHBench judge scores: POPE's answer rule, hand-computed confusion scores, and the Metric class."""

from __future__ import annotations

import pytest
import torch

from omni_r1.metrics import AVHBenchScore
from omni_r1.metrics.functional import avhbench_scores, parse_yes_no


@pytest.mark.parametrize(
    ("text", "said_yes"),
    [
        ("Yes", True),
        ("Yes, the dog is barking.", True),
        ("No.", False),
        ("no, it is silent", False),
        ("The guitar is not visible. No doubt.", False),
        ("It is visible. No doubt.", True),  # only the first sentence counts
        ("<think>No sound? Let me check.</think><answer>yes</answer>", True),
        ("<think>I hear it.</think>\n<answer>No</answer>", False),
        ("NO", True),  # POPE's rule matches "No", "no" and "not" only
        ("", True),
    ],
)
def test_pope_rule(text: str, said_yes: bool) -> None:
    assert parse_yes_no(text) is said_yes


def test_scores_hand_computed() -> None:
    """Answers yes, no, yes, yes against Yes, No, No, Yes: tp 2, fp 1, tn 1, fn 0."""
    scores = avhbench_scores(["Yes.", "No.", "Yes.", "yes"], ["Yes", "No", "No", "Yes"])
    assert scores["accuracy"].item() == 0.75
    assert scores["precision"].item() == pytest.approx(2 / 3)
    assert scores["recall"].item() == 1.0
    assert scores["f1"].item() == pytest.approx(0.8)
    assert scores["yes_ratio"].item() == 0.75
    # Always "no": precision and F1 have no positive prediction to divide by and are 0, not NaN.
    never = avhbench_scores(torch.zeros(4, dtype=torch.bool), ["Yes", "No", "No", "Yes"])
    assert never["accuracy"].item() == 0.5 and never["precision"].item() == 0.0 and never["f1"].item() == 0.0
    assert never["yes_ratio"].item() == 0.0


def test_class_accumulates_batches() -> None:
    answers = ["yes", "no", "No, it is not.", "yes", "<answer>no</answer>", "Yes"]
    labels = ["Yes", "No", "Yes", "No", "no.", "Yes"]
    metric = AVHBenchScore()
    metric.update(answers[:4], labels[:4])
    metric.update(torch.tensor([False, True]), torch.tensor([False, True]))
    got, want = metric.compute(), avhbench_scores(answers, labels)
    assert {k: v.item() for k, v in got.items()} == {k: v.item() for k, v in want.items()}
    assert got["accuracy"].item() == pytest.approx(4 / 6)


def test_bad_labels_raise() -> None:
    with pytest.raises(ValueError, match="label 1 must be 'Yes' or 'No'"):
        avhbench_scores(["yes", "no"], ["Yes", "maybe"])
    with pytest.raises(ValueError, match="same length"):
        avhbench_scores(["yes"], ["Yes", "No"])
    with pytest.raises(TypeError, match="strings"):
        parse_yes_no(None)  # type: ignore[arg-type]
