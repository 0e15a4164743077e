"""Keyframe hand-over: timestamp → frame mapping, uniqueness, the K0 cap, descriptions, both modes and the validity
rule. ``KIT`` is the kit's former setting (start frames, every moment clamped into the clip), ``AUTHORS`` the
authors' (``time_reward_multi_time``: interval frames, moments outside the clip dropped), now the default of
:class:`~omni_r1.answer.handover.HandoverConfig`."""

from __future__ import annotations

import pytest

from omni_r1.answer.handover import HandoverConfig
from omni_r1.answer.keyframes import segment_in_clip
from omni_r1.rewards import (
    Keyframe,
    ParsedAnswer,
    Segment,
    keyframes_from_answer,
    select_keyframes,
    time_to_frame,
)

KIT = {"max_keyframes": 4, "mode": "start", "drop_invalid": False}
AUTHORS = {"max_keyframes": 4, "mode": "interval", "drop_invalid": True}


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
    selection = select_keyframes(parsed, num_frames=6, **KIT)
    # starts → frames 2, 0, 2, 0, 5
    assert selection.raw_indices == [2, 0, 2, 0, 5]
    assert selection.keyframes == [Keyframe(0, "b"), Keyframe(2, "a"), Keyframe(5, "e")]
    assert (selection.num_unique, selection.num_duplicates) == (3, 2)
    assert selection.segment_lengths == [1, 1, 1, 1, 1]


def test_cap_keeps_the_first_k0_unique_indices_sorted() -> None:
    parsed = answer(*[(t, t, f"m{t}") for t in (2.5, 0.0, 2.0, 1.0, 0.5)])
    selection = select_keyframes(parsed, num_frames=6, **KIT)
    assert selection.indices == [0, 1, 2, 4]
    assert selection.num_unique == 5  # R_num counts all, before the cap
    assert keyframes_from_answer(parsed, num_frames=6, **KIT) == selection.keyframes


def test_description_comes_from_the_first_containing_segment() -> None:
    # Segment "a" covers frames 0–4 and is written first, so it also names frame 2, the start of "b".
    parsed = answer((0.0, 2.0, "a"), (1.0, 1.0, "b"))
    assert keyframes_from_answer(parsed, num_frames=6, **KIT) == [Keyframe(0, "a"), Keyframe(2, "a")]


def test_interval_mode_uses_every_frame_of_each_segment() -> None:
    parsed = answer((0.0, 2.0, "a"), (1.0, 1.0, "b"))
    selection = select_keyframes(parsed, num_frames=6, **{**KIT, "mode": "interval"})
    assert selection.raw_indices == [0, 1, 2, 3, 4, 2]
    assert selection.indices == [0, 1, 2, 3]
    assert (selection.num_unique, selection.num_duplicates) == (5, 1)
    assert selection.segment_lengths == [5, 1]


def test_reversed_segment_covers_its_start_frame() -> None:
    selection = select_keyframes(answer((2.0, 0.5, "r")), num_frames=6, **{**KIT, "mode": "interval"})
    assert (selection.raw_indices, selection.segment_lengths) == ([4], [1])
    # the authors' rule drops it: start > end
    assert select_keyframes(answer((2.0, 0.5, "r")), num_frames=6, **AUTHORS).raw_indices == []


def test_fps_scales_the_mapping() -> None:
    assert keyframes_from_answer(answer((2.0, 2.0, "a")), num_frames=10, fps=1.0, **KIT) == [Keyframe(2, "a")]


@pytest.mark.parametrize("parsed", [None, answer()])
def test_nothing_to_hand_over(parsed: ParsedAnswer | None) -> None:
    selection = select_keyframes(parsed, num_frames=6, **AUTHORS)
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
        select_keyframes(answer((1.0, 1.0, "a")), **{**AUTHORS, **kwargs})


def test_authors_intervals_zero_to_two_and_one_to_three_seconds() -> None:
    # A 4 s clip (n = 8 at 2 fps). 0–2 s covers frames 0–4, 1–3 s frames 2–6: raw frames 0 1 2 3 4 2 3 4 5 6,
    # U = 7 unique, 3 repeats; the first K0 = 4 unique frames ascending (np.unique(...)[:4]), all inside "a".
    parsed = answer((0.0, 2.0, "a"), (1.0, 3.0, "b"))
    selection = select_keyframes(parsed, num_frames=8, **AUTHORS)
    assert selection.raw_indices == [0, 1, 2, 3, 4, 2, 3, 4, 5, 6]
    assert selection.keyframes == [Keyframe(0, "a"), Keyframe(1, "a"), Keyframe(2, "a"), Keyframe(3, "a")]
    assert (selection.num_unique, selection.num_duplicates, selection.segment_lengths) == (7, 3, [5, 5])
    # the kit's former setting handed over the two start frames
    assert select_keyframes(parsed, num_frames=8, **KIT).indices == [0, 2]


def test_authors_drop_moments_outside_the_clip() -> None:
    # 3 s clip: 2.5–3.0 s ends at the clip's end (kept), 2.0–3.5 s ends after it (dropped), 1.0–0.5 s is reversed.
    parsed = answer((2.0, 3.5, "late"), (1.0, 0.5, "reversed"), (2.5, 3.0, "end"))
    selection = select_keyframes(parsed, num_frames=6, **AUTHORS)
    assert (selection.keyframes, selection.raw_indices, selection.segment_lengths) == ([Keyframe(5, "end")], [5], [1])
    only_invalid = select_keyframes(answer((2.0, 3.5, "late")), num_frames=6, **AUTHORS)
    assert (only_invalid.keyframes, only_invalid.raw_indices, only_invalid.num_unique) == ([], [], 0)
    assert select_keyframes(answer((2.0, 3.5, "late")), num_frames=6, **KIT).indices == [4]  # clamped, kept


@pytest.mark.parametrize(
    ("start", "end", "inside"),
    [(0.0, 0.0, True), (1.0, 3.0, True), (3.0, 3.0, True), (2.0, 3.01, False), (2.0, 1.0, False), (-0.5, 1.0, False)],
)
def test_segment_in_clip(start: float, end: float, inside: bool) -> None:
    assert segment_in_clip(Segment(start, end, "x"), duration=3.0) is inside


def test_handover_config_defaults_are_the_authors() -> None:
    config = HandoverConfig()
    assert (config.max_keyframes, config.keyframe_mode, config.drop_invalid_segments) == (4, "interval", True)
    with pytest.raises(ValueError, match="drop_invalid_segments"):
        HandoverConfig(drop_invalid_segments="no")  # type: ignore[arg-type]
