"""Structure reward, R_num, R_div and R_sal against hand-computed values on the conftest clip."""

from __future__ import annotations

import json

import pytest
import torch

from omni_r1.answer.keyframes import KeyframeSelection
from omni_r1.rewards import (
    ClipTargets,
    ParsedAnswer,
    Segment,
    div_reward,
    div_reward_batch,
    num_reward,
    num_reward_batch,
    parse_answer,
    saliency_reward,
    saliency_reward_batch,
    select_keyframes,
    structure_reward,
    structure_reward_batch,
)


def moment(start: str, end: str, description: str = "x") -> str:
    return json.dumps({"start_time": start, "end_time": end, "description": description})


def test_structure_hand_value(targets: ClipTargets) -> None:
    text = (
        "<answer>"
        + " ".join(
            [
                # frames 0–2: present cells 1 + 1 + 2 of 2·3 → 0.6 + 4/6
                moment("00:00.00", "00:01.00"),
                # frame 5 (end = duration is allowed): 1 of 2 cells → 0.6 + 0.5
                moment("00:02.50", "00:03.00"),
                # ends after the 3 s clip: complete but not consistent → 0.4
                moment("00:02.00", "00:09.00"),
                # not a moment at all → 0.2
                json.dumps({"start_time": "x"}),
            ]
        )
        + "</answer>"
    )
    expected = (0.6 + 4 / 6 + 1.1 + 0.4 + 0.2) / 4
    assert structure_reward(parse_answer(text), targets.presence) == pytest.approx(expected)


def test_structure_reversed_and_negative_times_are_inconsistent(targets: ClipTargets) -> None:
    parsed = ParsedAnswer(segments=[Segment(2.0, 1.0, "r"), Segment(-0.5, 1.0, "n")], num_objects=2)
    assert structure_reward(parsed, targets.presence) == pytest.approx(0.4)


def test_structure_bounds_and_empty_cases(targets: ClipTargets) -> None:
    perfect = ParsedAnswer(segments=[Segment(1.0, 1.5, "x")], num_objects=1)  # frames 2–3, all cells present
    assert structure_reward(perfect, targets.presence) == pytest.approx(1.6)
    assert structure_reward(None, targets.presence) == 0.0
    assert structure_reward(ParsedAnswer(), targets.presence) == 0.0
    no_objects = torch.zeros(0, 6, dtype=torch.bool)
    assert structure_reward(perfect, no_objects) == pytest.approx(0.6)  # no cells → no mask ratio
    empty_gt = torch.zeros(2, 6, dtype=torch.bool)
    assert structure_reward(perfect, empty_gt) == pytest.approx(0.6)
    batch = structure_reward_batch([perfect, None], targets.presence)
    torch.testing.assert_close(batch, torch.tensor([1.6, 0.0]))


def test_structure_rejects_bad_presence() -> None:
    with pytest.raises(ValueError, match=r"\(O, n\)"):
        structure_reward(None, torch.zeros(6, dtype=torch.bool))


def selection_with(raw: list[int], lengths: list[int] | None = None, cap: int = 4) -> KeyframeSelection:
    return KeyframeSelection(raw_indices=raw, segment_lengths=lengths or [1] * len(raw), max_keyframes=cap)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [([], 0.0), ([3], 0.4), ([0, 2, 2], 0.8), ([0, 1, 2, 3], 1.6), ([0, 1, 2, 3, 4], 0.8), ([0, 1, 2, 3, 4, 5], 0.4)],
)
def test_num_reward(raw: list[int], expected: float) -> None:
    assert num_reward(selection_with(raw)) == pytest.approx(expected)


def test_num_reward_goes_negative_past_2k0_minus_1() -> None:
    assert num_reward(selection_with(list(range(9)))) == pytest.approx(0.4 * (8 - 9 - 1))


def test_div_reward() -> None:
    # Interval example of the hand-over test: segments of 5 and 1 frames, frame 2 repeated once.
    parsed = ParsedAnswer(segments=[Segment(0.0, 2.0, "a"), Segment(1.0, 1.0, "b")], num_objects=2)
    selection = select_keyframes(parsed, num_frames=6, max_keyframes=4, mode="interval", drop_invalid=True)
    assert div_reward(selection) == pytest.approx(-0.2 * 4 - 0.5)
    start = select_keyframes(parsed, num_frames=6, max_keyframes=4, mode="start", drop_invalid=True)
    assert div_reward(start) == pytest.approx(-0.2 * 4)  # start mode: no repeats
    assert div_reward(selection_with([1, 3, 5])) == 0.0
    assert div_reward(selection_with([1, 1, 1])) == pytest.approx(-1.0)


def test_keyframe_batches() -> None:
    selections = [selection_with([0, 1]), selection_with([2, 2])]
    torch.testing.assert_close(num_reward_batch(selections), torch.tensor([0.8, 0.4]))
    torch.testing.assert_close(div_reward_batch(selections), torch.tensor([0.0, -0.5]))


def test_saliency_reward(targets: ClipTargets) -> None:
    # Union areas 6, 6, 22, 22, 16, 16.
    assert saliency_reward([0, 2], targets.union_area) == pytest.approx((6 / 22 + 1) / 2)
    assert saliency_reward([4], targets.union_area) == pytest.approx(16 / 22)
    assert saliency_reward([], targets.union_area) == 0.0
    assert saliency_reward([1], torch.zeros(6)) == 0.0
    batch = saliency_reward_batch([[2, 3], []], targets.union_area)
    torch.testing.assert_close(batch, torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="outside"):
        saliency_reward([6], targets.union_area)
