"""Keyframe hand-over: timestamp → frame mapping, uniqueness, the K0 cap, descriptions and both modes."""

from __future__ import annotations

import pytest

from omni_r1.rewards import (
    Keyframe,
    ParsedAnswer,
    Segment,
    keyframes_from_answer,
    select_keyframes,
    time_to_frame,
)


def answer(*segments: tuple[float, float, str]) -> ParsedAnswer:
    return ParsedAnswer(segments=[Segment(*s) for s in segments], num_objects=len(segments))


@pytest.mark.parametrize(
    ("seconds", "frame"),
    [(0.0, 0), (0.49, 0), (0.5, 1), (1.26, 2), (2.5, 5), (2.99, 5), (3.0, 5), (99.0, 5), (1e300, 5), (-3.0, 0)],
)
def test_time_to_frame(seconds: float, frame: int) -> None:
    assert time_to_frame(seconds, num_frames=6, fps=2.0) == frame


def test_duplicate_and_out_of_range_starts() -> None:
    parsed = answer((1.0, 1.0, "a"), (0.4, 0.4, "b"), (1.2, 1.2, "c"), (-3.0, 0.0, "d"), (99.0, 99.0, "e"))
    selection = select_keyframes(parsed, num_frames=6)
    # starts → frames 2, 0, 2, 0, 5
    assert selection.raw_indices == [2, 0, 2, 0, 5]
    assert selection.keyframes == [Keyframe(0, "b"), Keyframe(2, "a"), Keyframe(5, "e")]
    assert (selection.num_unique, selection.num_duplicates) == (3, 2)
    assert selection.segment_lengths == [1, 1, 1, 1, 1]


def test_cap_keeps_the_first_k0_unique_indices_sorted() -> None:
    parsed = answer(*[(t, t, f"m{t}") for t in (2.5, 0.0, 2.0, 1.0, 0.5)])
    selection = select_keyframes(parsed, num_frames=6, max_keyframes=4)
    assert selection.indices == [0, 1, 2, 4]
    assert selection.num_unique == 5  # R_num counts all, before the cap
    assert keyframes_from_answer(parsed, num_frames=6) == selection.keyframes


def test_description_comes_from_the_first_containing_segment() -> None:
    # Segment "a" covers frames 0–4 and is written first, so it also names frame 2, the start of "b".
    parsed = answer((0.0, 2.0, "a"), (1.0, 1.0, "b"))
    assert keyframes_from_answer(parsed, num_frames=6) == [Keyframe(0, "a"), Keyframe(2, "a")]


def test_interval_mode_uses_every_frame_of_each_segment() -> None:
    parsed = answer((0.0, 2.0, "a"), (1.0, 1.0, "b"))
    selection = select_keyframes(parsed, num_frames=6, mode="interval")
    assert selection.raw_indices == [0, 1, 2, 3, 4, 2]
    assert selection.indices == [0, 1, 2, 3]
    assert (selection.num_unique, selection.num_duplicates) == (5, 1)
    assert selection.segment_lengths == [5, 1]


def test_reversed_segment_covers_its_start_frame() -> None:
    selection = select_keyframes(answer((2.0, 0.5, "r")), num_frames=6, mode="interval")
    assert (selection.raw_indices, selection.segment_lengths) == ([4], [1])


def test_fps_scales_the_mapping() -> None:
    assert keyframes_from_answer(answer((2.0, 2.0, "a")), num_frames=10, fps=1.0) == [Keyframe(2, "a")]


@pytest.mark.parametrize("parsed", [None, answer()])
def test_nothing_to_hand_over(parsed: ParsedAnswer | None) -> None:
    selection = select_keyframes(parsed, num_frames=6)
    assert (selection.keyframes, selection.raw_indices, selection.num_unique) == ([], [], 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0}, "num_frames"),
        ({"num_frames": 6, "fps": 0.0}, "fps"),
        ({"num_frames": 6, "max_keyframes": 0}, "max_keyframes"),
        ({"num_frames": 6, "mode": "middle"}, "mode"),
    ],
)
def test_bad_configuration_is_an_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_keyframes(answer((1.0, 1.0, "a")), **kwargs)
