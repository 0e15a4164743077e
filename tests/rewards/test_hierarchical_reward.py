"""HierarchicalReward: hand-computed totals per task, weights, and errors for missing inputs.

The length bonus is on by default (the authors' ``--len_control true``), so calls pass token counts; ``SHORT``
completions (10 tokens) earn no bonus.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
import torch

from omni_r1.answer.handover import HandoverConfig, make_handovers
from omni_r1.data.types import VideoSample
from omni_r1.rewards import ClipTargets, DetailOutput, HierarchicalReward, RewardWeights

OBJ0 = [1.0, 1.0, 4.0, 3.0]


def moment(start: str, description: str) -> str:
    return json.dumps({"start_time": start, "end_time": start, "description": description})


# Keyframes 0 and 2 of the conftest clip.
GOOD = f"<think>t</think><answer>{moment('00:00.00', 'a')}\n{moment('00:01.00', 'b')}</answer>"
GOOD_TERMS = {
    "format": 1.0,
    "structure": ((0.6 + 1 / 2) + (0.6 + 2 / 2)) / 2,
    "num": 0.8,
    "div": 0.0,
    "sal": (6 / 22 + 22 / 22) / 2,
    "box": (1 + 0.5 + 0) / 3,  # see test_detail_rewards.test_box_reward_hand_value
    "mask": 5 / 6,  # prediction misses the target only in the last frame
    "length": 0.0,  # 10 tokens: outside 320–750
}
SHORT = [10, 10, 10]


@pytest.fixture
def good_detail(masks: torch.Tensor) -> DetailOutput:
    union = ClipTargets.from_masks(masks).union.clone()
    union[5] = False
    boxes = [torch.tensor([OBJ0, [0.0, 0.0, 8.0, 8.0]]), torch.tensor([[4.0, 4.0, 8.0, 6.0]])]
    return DetailOutput(keyframes=[0, 2], boxes=boxes, masks=union)


def test_vos_terms_and_total(make_sample: Callable[..., VideoSample], good_detail: DetailOutput) -> None:
    out = HierarchicalReward()(
        [GOOD, "garbage"], make_sample(), details=[good_detail, DetailOutput()], num_tokens=SHORT[:2]
    )
    assert set(out.terms) == set(GOOD_TERMS)
    for name, value in GOOD_TERMS.items():
        torch.testing.assert_close(out.terms[name], torch.tensor([value, 0.0]), msg=name)
    torch.testing.assert_close(out.total, torch.tensor([sum(GOOD_TERMS.values()), 0.0]))
    assert out.total.dtype == torch.float32 and out.total.shape == (2,)


def test_paper_script_weights(make_sample: Callable[..., VideoSample], good_detail: DetailOutput) -> None:
    out = HierarchicalReward(RewardWeights.paper_script())(
        [GOOD], make_sample(), details=[good_detail], num_tokens=[10]
    )
    weights = {"sal": 0.0, "mask": 2.0}
    expected = sum(weights.get(name, 1.0) * value for name, value in GOOD_TERMS.items())
    torch.testing.assert_close(out.total, torch.tensor([expected]))
    assert "sal" in out.terms  # weight 0 but computable: still logged


def test_weights_from_mapping_and_without_a_segmenter(make_sample: Callable[..., VideoSample]) -> None:
    reward = HierarchicalReward({"box": 0.0, "mask": 0.0, "structure": 0.5, "length": 0.0})
    out = reward([GOOD], make_sample())
    assert set(out.terms) == {"format", "structure", "num", "div", "sal"}
    expected = 1.0 + 0.5 * GOOD_TERMS["structure"] + GOOD_TERMS["num"] + GOOD_TERMS["sal"]
    torch.testing.assert_close(out.total, torch.tensor([expected]))


def test_the_keyframe_mode_changes_the_handover(make_sample: Callable[..., VideoSample]) -> None:
    text = f"<answer>{json.dumps({'start_time': '00:00.00', 'end_time': '00:01.00', 'description': 'a'})}</answer>"
    reward = HierarchicalReward({"box": 0, "mask": 0, "length": 0})
    sample = make_sample()
    kit = HandoverConfig(keyframe_mode="start", drop_invalid_segments=False)  # the kit's former setting
    handovers = make_handovers([text], sample, kit)
    start = reward([text], sample, handovers=handovers)
    torch.testing.assert_close(start.terms["num"], torch.tensor([0.4]))
    assert handovers[0].indices == [0]
    interval = reward([text], sample)  # no hand-overs given: the default setting (the authors' interval frames)
    torch.testing.assert_close(interval.terms["num"], torch.tensor([0.4 * 3]))
    torch.testing.assert_close(interval.terms["div"], torch.tensor([-0.2 * 2]))


def test_authors_intervals_and_a_moment_after_the_clip(make_sample: Callable[..., VideoSample]) -> None:
    # The conftest clip lasts 3 s (n = 6). 0–2 s covers frames 0–4, 1–3 s frames 2–5: U = 6 unique of 9 raw frames.
    # R_num = 0.4·(2·4 − 6 − 1) = 0.4, R_div = 0.2·(1 − 5) + 0.2·(1 − 4) − 0.5·3 = −2.9 (time_reward_multi_time).
    two = (
        "<answer>"
        + " ".join(
            json.dumps(m)
            for m in [
                {"start_time": "00:00.00", "end_time": "00:02.00", "description": "a"},
                {"start_time": "00:01.00", "end_time": "00:03.00", "description": "b"},
            ]
        )
        + "</answer>"
    )
    # Ends after the clip: dropped, nothing is handed over, R_num = R_div = 0 (the authors skip grounding).
    late = f"<answer>{json.dumps({'start_time': '00:02.00', 'end_time': '00:03.50', 'description': 'c'})}</answer>"
    sample = make_sample()
    handovers = make_handovers([two, late], sample, HandoverConfig())
    assert [h.indices for h in handovers] == [[0, 1, 2, 3], []]
    out = HierarchicalReward({"box": 0, "mask": 0, "length": 0})([two, late], sample, handovers=handovers)
    torch.testing.assert_close(out.terms["num"], torch.tensor([0.4, 0.0]))
    torch.testing.assert_close(out.terms["div"], torch.tensor([-2.9, 0.0]))
    # The kit's former setting handed the late moment over at frame 4 and scored it.
    kit = make_handovers([late], sample, HandoverConfig(keyframe_mode="start", drop_invalid_segments=False))
    assert kit[0].indices == [4]


def test_missing_inputs_are_errors_when_weighted(make_sample: Callable[..., VideoSample]) -> None:
    sample = make_sample()
    with pytest.raises(ValueError, match="'box'.*no detail outputs"):
        HierarchicalReward()([GOOD], sample)
    maskless = DetailOutput(keyframes=[0], boxes=[torch.tensor([OBJ0])])
    with pytest.raises(ValueError, match="'mask'"):
        HierarchicalReward()([GOOD], sample, details=[maskless])
    out = HierarchicalReward({"mask": 0})([GOOD], sample, details=[maskless], num_tokens=[10])
    assert "mask" not in out.terms and "box" in out.terms
    with pytest.raises(ValueError, match="'length'.*token counts"):
        HierarchicalReward({"length": 1, "box": 0, "mask": 0})([GOOD], sample)
    with pytest.raises(ValueError, match="'length'.*token counts"):  # on by default: the authors' len_control
        HierarchicalReward({"box": 0, "mask": 0})([GOOD], sample)


def test_length_bonus_in_the_group(make_sample: Callable[..., VideoSample]) -> None:
    reward = HierarchicalReward({"length": 1.0, "box": 0, "mask": 0})
    out = reward([GOOD, GOOD, "garbage"], make_sample(), num_tokens=[400, 800, 400])
    torch.testing.assert_close(out.terms["length"], torch.tensor([1.0, 0.0, 0.0]))
    base = 1.0 + GOOD_TERMS["structure"] + GOOD_TERMS["num"] + GOOD_TERMS["sal"]
    torch.testing.assert_close(out.total, torch.tensor([base + 1, base, 0.0]))


def test_avs(make_sample: Callable[..., VideoSample]) -> None:
    completions = [
        "<think>a</think><answer>the barking dog</answer>",
        "<think>a</think><answer> </answer>",  # empty answer: no reward whatever S2 found
        "no answer",
    ]
    details = [
        DetailOutput([0], [torch.tensor([[1.0, 1.0, 4.0, 5.0]])]),  # IoU 6/12 with the frame-0 box (1, 1, 4, 3)
        DetailOutput([0], [torch.tensor([OBJ0])]),
        DetailOutput(),
    ]
    out = HierarchicalReward()(completions, make_sample("avs"), details=details, num_tokens=SHORT)
    assert set(out.terms) == {"format", "refavs", "length"}
    torch.testing.assert_close(out.terms["refavs"], torch.tensor([0.5, 0.0, 0.0]))
    torch.testing.assert_close(out.total, torch.tensor([1.5, 0.0, 0.0]))  # an empty answer earns no format either
    authors = HierarchicalReward(pay_for_nothing=True)(
        completions, make_sample("avs"), details=details, num_tokens=SHORT
    )
    torch.testing.assert_close(authors.total, torch.tensor([1.5, 1.0, 0.0]))


def test_grounding_rescales_the_ground_truth(make_sample: Callable[..., VideoSample]) -> None:
    answer = {"bbox_2d": [2, 2, 8, 6], "points_1": [3, 3], "points_2": [6, 5]}
    text = f"<think>t</think><answer>{json.dumps(answer)}</answer>"
    sample = make_sample("grounding")
    # At (16, 16) the 8×8 ground-truth box (1, 1, 4, 3) becomes (2, 2, 8, 6) and the mask's inscribed-circle
    # points (1, 1) twice (the 2×3 object is smaller than the 10-pixel disc) become (2, 2): every term is maximal.
    out = HierarchicalReward()([text], sample, image_hw=(16, 16), num_tokens=[10])
    torch.testing.assert_close(out.terms["refcocog"], torch.tensor([4.4]))
    torch.testing.assert_close(out.total, torch.tensor([5.4]))
    # Unscaled: IoU 2/28 → 0, points 4.6 px from (1, 1) on average → 1, box L1 2.25 → 1, strict format → 1.
    unscaled = HierarchicalReward()([text], sample, num_tokens=[10]).terms["refcocog"]
    torch.testing.assert_close(unscaled, torch.tensor([3.0]))


def test_configuration_errors(make_sample: Callable[..., VideoSample]) -> None:
    with pytest.raises(ValueError, match="keyframe_mode"):
        HandoverConfig(keyframe_mode="end")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_keyframes"):
        HandoverConfig(max_keyframes=0)
    with pytest.raises(ValueError, match="unknown reward terms"):
        HierarchicalReward({"alpha_g": 2.0})
    with pytest.raises(ValueError, match="finite"):
        RewardWeights(mask=math.nan)
    with pytest.raises(ValueError, match="task"):
        HierarchicalReward()([GOOD], make_sample("captioning"))
    with pytest.raises(ValueError, match="2 detail outputs for 1"):
        HierarchicalReward()([GOOD], make_sample(), details=[DetailOutput(), DetailOutput()])
    with pytest.raises(ValueError, match="box lists"):
        DetailOutput(keyframes=[0, 1], boxes=[])
    empty = make_sample("grounding", masks=torch.zeros(1, 6, 8, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="empty ground-truth"):
        HierarchicalReward()(["x"], empty)
