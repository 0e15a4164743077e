"""Fuzz: arbitrary and adversarial completions through parse → keyframes → every reward.

No input may raise, and every reward must be finite and inside its documented bounds. The default suite runs
500 examples; the ``slow`` tier runs 10,000.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omni_r1.answer.handover import HandoverConfig, make_handover
from omni_r1.data.types import VideoSample
from omni_r1.rewards import (
    ClipTargets,
    DetailOutput,
    HierarchicalReward,
    box_matching_reward,
    div_reward,
    format_reward,
    length_bonus,
    mask_reward,
    num_reward,
    parse_answer,
    refavs_box_reward,
    refcocog_reward,
    saliency_reward,
    select_keyframes,
    structure_reward,
)
from omni_r1.rewards.refcocog import REFCOCOG_MAX
from omni_r1.rewards.structure import STRUCTURE_MAX

K0 = 4
TAGS = ["<think>", "</think>", "<answer>", "</answer>", "{", "}", "[", "]", ",", ":", '"', "\n", " ", "\\", "NaN"]
HUGE_UNITS = [
    "{",
    "[",
    "<answer>",
    "</think><answer>",
    '{"a": "',
    "9",
    "\ud800",
    '{"start_time": "00:01.00", "end_time": "00:01.00", "description": "x"},',
    '{"start_time": 1e999, "end_time": ',
]

timestamps = st.one_of(
    st.from_regex(r"\d{1,3}:\d{1,3}(\.\d{1,4})?", fullmatch=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.text(max_size=8),
    st.sampled_from(["NaN", "Infinity", "-1.5", "1e999", "00:00.00", "99:99.99"]),
    st.none(),
    st.booleans(),
)
moments = st.fixed_dictionaries(
    {"start_time": timestamps, "end_time": timestamps},
    optional={"description": st.one_of(st.text(max_size=12), st.integers()), "bbox_2d": st.just([1, 2, 30, 40])},
).map(json.dumps)
plausible_times = st.one_of(
    st.from_regex(r"0\d:[0-5]\d\.\d\d", fullmatch=True), st.floats(-2, 10), st.sampled_from(["00:01.50", "2.5"])
)
plausible_moments = st.fixed_dictionaries(
    {"start_time": plausible_times, "end_time": plausible_times, "description": st.text(max_size=12)}
).map(json.dumps)
fragments = st.one_of(
    plausible_moments,
    plausible_moments,
    moments,
    st.tuples(moments, st.integers(0, 80)).map(lambda cut: cut[0][: cut[1]]),  # broken JSON
    st.lists(st.one_of(moments, plausible_moments), max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
    st.sampled_from(TAGS),
    st.text(max_size=10),
)
structured = st.builds(
    lambda think, gap, body, tail: f"<think>{think}</think>{gap}<answer>{body}</answer>{tail}",
    st.text(max_size=20),
    st.sampled_from(["", " ", "\n\n", "x"]),
    st.lists(fragments, max_size=8).map("\n".join),
    st.sampled_from(["", "", "\n", "</answer>", "<answer>"]),
)
huge = st.builds(
    lambda unit, size, wrap: ("<answer>" if wrap else "") + unit * (size // len(unit)) + ("</answer>" if wrap else ""),
    st.sampled_from(HUGE_UNITS),
    st.integers(1_000, 100_000),
    st.booleans(),
)
completions = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=200),  # any str, lone surrogates included
    st.lists(st.one_of(st.sampled_from(TAGS), fragments), max_size=12).map("".join),
    structured,
    structured,
    huge,
)
coordinates = st.one_of(st.floats(-50, 50), st.floats(allow_nan=True, allow_infinity=True))
boxes = st.lists(st.tuples(coordinates, coordinates, coordinates, coordinates), max_size=4)


def clip_masks() -> torch.Tensor:
    masks = torch.zeros(2, 6, 8, 8, dtype=torch.bool)
    masks[0, 0:4, 1:3, 1:4] = True
    masks[1, 2:6, 4:8, 4:8] = True
    return masks


TARGETS = {
    "two objects": ClipTargets.from_masks(clip_masks()),
    "all empty": ClipTargets.from_masks(torch.zeros(2, 6, 8, 8, dtype=torch.bool)),
    "no objects": ClipTargets.from_masks(torch.zeros(0, 6, 8, 8, dtype=torch.bool)),
}
SAMPLES = {
    task: VideoSample(
        dataset="synthetic",
        task=task,
        video_id="vid",
        exp_id="0",
        expression="the target",
        expression_type=0,
        frames=torch.zeros(6, 3, 8, 8, dtype=torch.uint8),
        frame_names=[str(i) for i in range(6)],
        s1_indices=torch.arange(6),
        masks=clip_masks(),
    )
    for task in ("vos", "avs", "grounding")
}
REWARD = HierarchicalReward({"length": 1.0})


def in_range(value: float, low: float, high: float) -> bool:
    return math.isfinite(value) and low - 1e-9 <= value <= high + 1e-9


def predicted_masks(text: str, num_frames: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(zlib.crc32(text.encode("utf-8", "surrogatepass")))
    return torch.rand(num_frames, 8, 8, generator=generator) > 0.5


def check_completion(text: str, pred_boxes: list[tuple[float, ...]]) -> None:
    parsed = parse_answer(text)
    assert format_reward(text) in (0.0, 1.0)
    segments = len(parsed.segments) if parsed is not None else 0
    for targets in TARGETS.values():
        n, objects = targets.num_frames, targets.num_objects
        assert in_range(structure_reward(parsed, targets.presence), 0.0, STRUCTURE_MAX)
        for mode, drop_invalid in itertools.product(("start", "interval"), (False, True)):
            selection = select_keyframes(parsed, n, max_keyframes=K0, mode=mode, drop_invalid=drop_invalid)
            indices = selection.indices
            assert len(indices) <= K0 and indices == sorted(set(indices)) and all(0 <= i < n for i in indices)
            assert in_range(num_reward(selection), min(0.0, 0.4 * (2 * K0 - 1 - n)), 0.4 * K0)
            assert in_range(div_reward(selection), -segments * (0.2 * (n - 1) + 0.5 * n), 0.0)
            assert in_range(saliency_reward(indices, targets.union_area), 0.0, 1.0)
            per_frame = [pred_boxes] * len(indices)
            surplus = max(0, len(pred_boxes) - objects) * len(indices)
            floor = -0.5 * surplus / (max(objects, 1) * max(len(indices), 1))
            for first_boxes_only in (True, False):
                value = box_matching_reward(per_frame, indices, targets, first_boxes_only=first_boxes_only)
                assert in_range(value, floor, 1.0)
        assert in_range(mask_reward(predicted_masks(text, n), targets.union), 0.0, 1.0)
        first = pred_boxes[0] if pred_boxes else None
        for empty_target in ("dummy_box", "no_box"):
            assert in_range(refavs_box_reward(first, targets.union[0], empty_target), 0.0, 1.0)
    assert in_range(refcocog_reward(text, (1.0, 2.0, 30.0, 40.0)), 0.0, REFCOCOG_MAX)
    assert length_bonus(len(text), 0.5) in (0.0, 1.0)


def check_hierarchical(text: str, pred_boxes: list[tuple[float, ...]]) -> None:
    selection = make_handover(text, SAMPLES["vos"], HandoverConfig()).selection
    detail = DetailOutput(
        keyframes=selection.indices,
        boxes=[torch.tensor(pred_boxes, dtype=torch.float64).reshape(-1, 4)] * len(selection.indices),
        masks=predicted_masks(text, 6),
    )
    for task, sample in SAMPLES.items():
        out = REWARD([text, "garbage"], sample, details=[detail, DetailOutput()], num_tokens=[len(text), 7])
        assert out.total.shape == (2,) and bool(torch.isfinite(out.total).all()), task
        assert all(bool(torch.isfinite(value).all()) for value in out.terms.values()), task


def fuzz(text: str, pred_boxes: list[tuple[float, ...]]) -> None:
    check_completion(text, pred_boxes)
    check_hierarchical(text, pred_boxes)


FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=500, **FUZZ_SETTINGS)
@given(completions, boxes)
def test_fuzz_completions(text: str, pred_boxes: list[tuple[float, ...]]) -> None:
    fuzz(text, pred_boxes)


@pytest.mark.slow
@settings(max_examples=10_000, **FUZZ_SETTINGS)
@given(completions, boxes)
def test_fuzz_completions_10k(text: str, pred_boxes: list[tuple[float, ...]]) -> None:
    fuzz(text, pred_boxes)
