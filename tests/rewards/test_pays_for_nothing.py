"""Each row of ``docs/rewards_for_nothing.md``: what a completion that does nothing earns, term by term.

The conftest clip has 6 frames; the target union is empty in none of them, so a second clip (target visible in 2
of 8 frames) shows what the DAVIS convention would pay for an empty track. Every completion here is 400 tokens
long, inside the length bonus's 320–750 window, so a term that paid for nothing would also unlock the bonus.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import torch

from omni_r1.answer.handover import HandoverConfig, make_handovers
from omni_r1.data.types import VideoSample
from omni_r1.rewards import DetailOutput, HierarchicalReward

LONG = 400  # tokens: inside the length bonus window


def moment(start: str, end: str, description: str = "the red circle") -> str:
    return json.dumps({"start_time": start, "end_time": end, "description": description})


def sparse_sample(make_sample: Callable[..., VideoSample]) -> VideoSample:
    """One object visible in frames 3 and 4 of 8 (4×4 square at rows/cols 2–5)."""
    masks = torch.zeros(1, 8, 8, 8, dtype=torch.bool)
    masks[0, 3:5, 2:6, 2:6] = True
    return make_sample(masks=masks)


def score(sample: VideoSample, text: str, detail: DetailOutput | None, **kwargs) -> dict[str, float]:
    reward = HierarchicalReward(**kwargs)
    # Two copies: the length bonus needs two qualifying completions in a group (the authors' rule).
    details = None if detail is None else [detail, detail]
    out = reward([text, text], sample, details=details, num_tokens=[LONG, LONG])
    terms = {name: float(value[0]) for name, value in out.terms.items()}
    terms["total"] = float(out.total[0])
    return terms


def vos_detail(sample: VideoSample, text: str, boxes: list[torch.Tensor] | None, masks: torch.Tensor | None):
    handover = make_handovers([text], sample, HandoverConfig())[0]
    keyframes = [k.index for k in handover.keyframes]
    if boxes is None:
        boxes = [torch.zeros(0, 4) for _ in keyframes]
    return DetailOutput(keyframes=keyframes, boxes=boxes, masks=masks)


# ------------------------------------------------------------------------------------------------ rows
def test_empty_completion_earns_nothing(make_sample: Callable[..., VideoSample]) -> None:
    sample = make_sample()
    terms = score(sample, "", DetailOutput())
    assert all(value == 0.0 for value in terms.values()), terms


def test_empty_answer_block_earns_no_format_unless_authors(make_sample: Callable[..., VideoSample]) -> None:
    sample, text = make_sample(), "<think></think><answer> </answer>"
    assert score(sample, text, DetailOutput())["total"] == 0.0
    authors = score(sample, text, DetailOutput(), pay_for_nothing=True)
    assert authors["format"] == 1.0 and authors["total"] == 1.0


def test_no_valid_moment_hands_nothing_over_and_earns_nothing(make_sample: Callable[..., VideoSample]) -> None:
    sample = make_sample()  # 3 s clip: a moment ending at 9 s is invalid and dropped
    text = f"<think>t</think><answer>{moment('00:01.00', '00:09.00')}</answer>"
    terms = score(sample, text, DetailOutput())
    assert terms["format"] == 1.0  # the answer is there, in the format asked for
    others = ("structure", "num", "div", "sal", "box", "mask", "length")
    assert {name: terms[name] for name in others} == dict.fromkeys(others, 0.0)
    authors = score(sample, text, DetailOutput(), pay_for_nothing=True)
    assert authors["structure"] == pytest.approx(0.4) and authors["length"] == 1.0  # JSON credit unlocks the bonus


def test_rollout_the_grounder_boxes_nothing_scores_no_mask_reward(make_sample: Callable[..., VideoSample]) -> None:
    sample = sparse_sample(make_sample)
    text = f"<think>t</think><answer>{moment('00:00.00', '00:00.00')} {moment('00:03.00', '00:03.00')}</answer>"
    empty = torch.zeros(8, 8, 8, dtype=torch.bool)  # what a segmenter without prompts returns
    detail = vos_detail(sample, text, None, empty)
    for authors in (False, True):
        terms = score(sample, text, detail, pay_for_nothing=authors)
        assert terms["mask"] == 0.0, "the DAVIS convention would pay 6/8 for target-absent frames"
        assert terms["box"] == 0.0


def test_an_empty_track_from_real_boxes_scores_zero_unless_authors(make_sample: Callable[..., VideoSample]) -> None:
    sample = sparse_sample(make_sample)
    text = f"<think>t</think><answer>{moment('00:01.50', '00:01.50')}</answer>"  # frame 3: target visible
    detail = vos_detail(sample, text, [torch.tensor([[0.0, 0.0, 1.0, 1.0]])], torch.zeros(8, 8, 8, dtype=torch.bool))
    assert score(sample, text, detail)["mask"] == 0.0
    assert score(sample, text, detail, pay_for_nothing=True)["mask"] == pytest.approx(
        6 / 8
    )  # cal_metric: J = 1 on absent frames


def test_a_real_track_keeps_the_davis_credit_for_absent_frames(make_sample: Callable[..., VideoSample]) -> None:
    sample = sparse_sample(make_sample)
    text = f"<think>t</think><answer>{moment('00:01.50', '00:01.50')}</answer>"
    masks = torch.zeros(8, 8, 8, dtype=torch.bool)
    masks[3:5, 2:6, 2:6] = True  # the target exactly
    detail = vos_detail(sample, text, [torch.tensor([[2.0, 2.0, 6.0, 6.0]])], masks)
    assert score(sample, text, detail)["mask"] == 1.0


def test_no_such_object_answer_on_a_present_target_earns_no_grounding(make_sample: Callable[..., VideoSample]) -> None:
    sample = sparse_sample(make_sample)
    text = "<think>none</think><answer>no such object</answer>"
    terms = score(sample, text, DetailOutput())
    assert terms["format"] == 1.0
    assert terms["total"] == 1.0  # format only: no moment, no box, no mask, no length bonus


def test_refavs_empty_answer_and_unboxed_answer_earn_nothing(make_sample: Callable[..., VideoSample]) -> None:
    sample = make_sample(task="avs")
    for text in ("", "<think>t</think><answer></answer>"):
        assert score(sample, text, DetailOutput(keyframes=[0], boxes=[torch.zeros(0, 4)]))["total"] == 0.0
    text = f"<think>t</think><answer>{moment('00:00.00', '00:00.00')}</answer>"
    terms = score(sample, text, DetailOutput(keyframes=[0], boxes=[torch.zeros(0, 4)]))
    assert terms["refavs"] == 0.0 and terms["length"] == 0.0


def test_refcocog_answer_without_box_earns_nothing(make_sample: Callable[..., VideoSample]) -> None:
    sample = make_sample(task="grounding")
    for text in ("", "<think>t</think><answer>{}</answer>", "<think>t</think><answer>the dog</answer>"):
        terms = score(sample, text, None)
        assert terms["refcocog"] == 0.0 and terms["length"] == 0.0
