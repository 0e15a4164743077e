"""DetailSystem.run on a synthetic ReVOS / RefAVS prompt, checked through the rewards that consume it.

The sample is described in ``conftest.py``: clip frame ``k`` shows object 0 at cols ``2+2k .. 9+2k`` × rows 4–11
and, on frames 3–5, object 1 at cols 20–27 × rows 14–19.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omni_r1.answer.handover import Handover, HandoverConfig, make_handovers
from omni_r1.answer.outputs import DetailOutput
from omni_r1.detail import BoxSegmenter, DetailSystem, OracleGrounder, ReferenceGrounder, SAM2Segmenter
from omni_r1.models.global_system import PixelBudget
from omni_r1.models.loading import LoraConfig
from omni_r1.rewards import HierarchicalReward


def answer(*moments: tuple[str, str]) -> str:
    blocks = [{"start_time": start, "end_time": start, "description": text} for start, text in moments]
    return f"<think>I look at the clip.</think><answer>{json.dumps(blocks)}</answer>"


COMPLETIONS = [
    answer(("00:00.50", "the box"), ("00:02.00", "the bright box")),  # keyframes 1 and 4
    answer(("00:00.50", "the box"), ("00:02.00", "the bright box")),  # the same answer again
    "<think>no answer block",
    answer(("00:01.00", "the box")),  # keyframe 2
]


def handed(sample, completions: Sequence[str], **config) -> list[Handover]:
    """The hand-overs the GRPO step makes once per completion and gives to ``DetailSystem.run``."""
    return make_handovers(completions, sample, HandoverConfig(**config))


def rewarded(
    completions: Sequence[str], sample, outputs: Sequence[DetailOutput], pay_for_nothing: bool = False, **handover
):
    """The default reward of the outputs; completions of 10 tokens, so the length bonus (on by default) is 0."""
    handovers = handed(sample, completions, **handover)
    return HierarchicalReward(pay_for_nothing=pay_for_nothing)(
        completions, sample, details=outputs, num_tokens=[10] * len(completions), handovers=handovers
    )


class RecordingOracle(OracleGrounder):
    """The oracle grounder, remembering each call's descriptions (to check that requests are deduplicated)."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def ground(self, images: Sequence[torch.Tensor], descriptions: Sequence[str], **kwargs) -> list[torch.Tensor]:
        self.calls.append(list(descriptions))
        return super().ground(images, descriptions, **kwargs)


def test_oracle_boxes_and_box_masks_give_hand_computed_rewards(vos_sample) -> None:
    grounder = RecordingOracle()
    outputs = DetailSystem(grounder, BoxSegmenter()).run(vos_sample, handed(vos_sample, COMPLETIONS))
    assert [o.keyframes for o in outputs] == [[1, 4], [1, 4], [], [2]]
    assert len(grounder.calls) == 1 and sorted(grounder.calls[0]) == ["the box", "the box", "the bright box"]
    torch.testing.assert_close(outputs[0].boxes[0], torch.tensor([[4.0, 4.0, 12.0, 12.0]]))
    torch.testing.assert_close(outputs[0].boxes[1], torch.tensor([[10.0, 4.0, 18.0, 12.0], [20.0, 14.0, 28.0, 20.0]]))
    assert outputs[2].masks is None and outputs[2].boxes == []
    assert outputs[0].masks.shape == (6, 24, 32) and outputs[0].masks.dtype == torch.bool

    terms = rewarded(COMPLETIONS, vos_sample, outputs).terms
    torch.testing.assert_close(terms["box"], torch.tensor([1.0, 1.0, 0.0, 1.0]))
    # Rollout 0: frames 0-2 get the frame-1 box (J 0.6, 1, 0.6), frames 3-5 the frame-4 boxes (J 0.75, 1, 0.75).
    # Rollout 3: every frame gets the frame-2 box: J = 1/3, 0.6, 1, 0.375, 2/9, 0.1.
    expected = torch.tensor([4.7 / 6, 4.7 / 6, 0.0, (1 / 3 + 0.6 + 1 + 0.375 + 2 / 9 + 0.1) / 6])
    torch.testing.assert_close(terms["mask"], expected)


def test_refavs_grounds_frame_zero_without_a_segmenter(avs_sample) -> None:
    completions = [
        answer(("00:00.00", "the bright box")),
        "<think>the sound comes from the left</think><answer>the bright box on the left</answer>",
        "<think>nothing</think>",
    ]
    outputs = DetailSystem(OracleGrounder(), BoxSegmenter()).run(avs_sample, handed(avs_sample, completions))
    assert [o.keyframes for o in outputs] == [[0], [0], []]
    assert all(o.masks is None for o in outputs)
    torch.testing.assert_close(outputs[0].boxes[0], torch.tensor([[2.0, 4.0, 10.0, 12.0]]))  # union box, frame 0
    terms = rewarded(completions, avs_sample, outputs).terms
    torch.testing.assert_close(terms["refavs"], torch.tensor([1.0, 1.0, 0.0]))


def interval(start: str, end: str, text: str) -> str:
    return json.dumps({"start_time": start, "end_time": end, "description": text})


def test_authors_handover_intervals_and_a_moment_after_the_clip(vos_sample) -> None:
    # The clip lasts 3 s (6 frames at 2 fps). 0–2 s and 1–3 s: the first K0 = 4 unique interval frames 0–3, all
    # named by the first moment. 2.0–3.5 s ends after the clip: dropped, so that completion is not grounded.
    moments = f"{interval('00:00.00', '00:02.00', 'the box')} {interval('00:01.00', '00:03.00', 'b')}"
    both = f"<think>t</think><answer>{moments}</answer>"
    late = f"<think>t</think><answer>{interval('00:02.00', '00:03.50', 'the late box')}</answer>"
    completions = [both, late]
    grounder = RecordingOracle()
    outputs = DetailSystem(grounder, BoxSegmenter()).run(vos_sample, handed(vos_sample, completions))
    assert [o.keyframes for o in outputs] == [[0, 1, 2, 3], []]
    assert grounder.calls == [["the box"] * 4]  # one request per keyframe; "the late box" is never asked for
    assert outputs[1].masks is None and outputs[1].boxes == []
    terms = rewarded(completions, vos_sample, outputs).terms
    # R_num = 0.4·(2·4 − 6 − 1), R_div = 0.2·(1 − 5) + 0.2·(1 − 4) − 0.5·3 (frames 2–4 repeated)
    torch.testing.assert_close(terms["num"], torch.tensor([0.4, 0.0]))
    torch.testing.assert_close(terms["div"], torch.tensor([-2.9, 0.0]))
    assert terms["box"][1] == 0 and terms["mask"][1] == 0
    assert terms["structure"][1] == 0  # a complete moment, but not inside the clip: nothing handed over
    authors = rewarded(completions, vos_sample, outputs, pay_for_nothing=True).terms
    assert authors["structure"][1] == pytest.approx(0.4)  # the authors credit its JSON all the same
    # The kit's former hand-over grounded the late moment at its (clamped) start frame.
    former = {"keyframe_mode": "start", "drop_invalid_segments": False}
    outputs = DetailSystem(OracleGrounder(), BoxSegmenter()).run(vos_sample, handed(vos_sample, [late], **former))
    assert outputs[0].keyframes == [4] and outputs[0].masks is not None
    assert rewarded([late], vos_sample, outputs, **former).terms["num"][0] == pytest.approx(0.4)


def test_long_descriptions_are_cut_before_grounding(vos_sample) -> None:
    grounder = RecordingOracle()
    long_answer = [answer(("00:00.00", "x" * 1000))]
    DetailSystem(grounder, max_description_chars=10).run(vos_sample, handed(vos_sample, long_answer))
    assert grounder.calls == [["x" * 10]]


def test_segment_video_maps_keyframes_back_to_original_frames(vos_sample) -> None:
    system = DetailSystem(OracleGrounder(), BoxSegmenter())
    outputs = system.run(vos_sample, handed(vos_sample, COMPLETIONS[:1]))
    (video,) = system.segment_video(vos_sample, outputs)
    assert video.shape == (12, 24, 32)
    # Keyframes 1 and 4 are original frames 2 and 8: frames 0-5 (5 is a tie) take the first, 6-11 the second.
    assert all(torch.equal(video[t], outputs[0].masks[1]) for t in range(6))
    assert all(torch.equal(video[t], outputs[0].masks[4]) for t in range(6, 12))


def test_sam2_per_box_and_per_object(vos_sample, tiny_sam2) -> None:
    segmenter = SAM2Segmenter(predictor=tiny_sam2, start="first_frame")
    # per_box: one object per box (3 in rollout 0); per_object: one per linked ground-truth object (object 0 at
    # keyframes 1 and 4, object 1 at 4: 2 in rollout 0). Rollout 1 repeats rollout 0 and is tracked for free.
    for layout, stats in (("per_box", (3 + 3 + 0 + 1, 4)), ("per_object", (2 + 2 + 0 + 1, 3))):
        system = DetailSystem(OracleGrounder(), segmenter, object_prompts=layout)
        outputs = system.run(vos_sample, handed(vos_sample, COMPLETIONS))
        assert [o.masks.shape if o.masks is not None else None for o in outputs] == [(6, 24, 32)] * 2 + [None] + [
            (6, 24, 32)
        ]
        assert torch.equal(outputs[0].masks, outputs[1].masks)
        assert (segmenter.last_stats.objects, segmenter.last_stats.tracked) == stats  # rollout 1 repeats rollout 0
        terms = rewarded(COMPLETIONS, vos_sample, outputs).terms
        assert ((terms["mask"] >= 0) & (terms["mask"] <= 1)).all() and terms["mask"][2] == 0


def test_reference_grounder_end_to_end(vos_sample, tiny_policy_factory) -> None:
    policy = tiny_policy_factory(lora=LoraConfig(r=4))
    grounder = ReferenceGrounder(pixels=PixelBudget(4 * 28 * 28, 8 * 28 * 28), max_new_tokens=8)
    outputs = DetailSystem(grounder, BoxSegmenter()).bind(policy).run(vos_sample, handed(vos_sample, COMPLETIONS))
    assert all(isinstance(o, DetailOutput) for o in outputs) and len(outputs) == 4
    assert all(b.shape[1] == 4 for o in outputs for b in o.boxes)
    terms = rewarded(COMPLETIONS, vos_sample, outputs).terms
    assert torch.isfinite(terms["box"]).all() and torch.isfinite(terms["mask"]).all()


def test_errors(vos_sample) -> None:
    with pytest.raises(ValueError, match="object_prompts"):
        DetailSystem(OracleGrounder(), object_prompts="per_frame")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_keyframes"):
        HandoverConfig(max_keyframes=0)
    vos_sample.task = "grounding"
    with pytest.raises(ValueError, match="'vos' and 'avs'"):
        DetailSystem(OracleGrounder()).run(vos_sample, handed(vos_sample, COMPLETIONS))
    vos_sample.task = "vos"
    vos_sample.masks = vos_sample.masks[:0]
    with pytest.raises(ValueError, match="per_object"):
        system = DetailSystem(OracleGrounder(), BoxSegmenter(), object_prompts="per_object")
        system.run(vos_sample, handed(vos_sample, COMPLETIONS))


moment = st.fixed_dictionaries(
    {
        "start_time": st.one_of(st.text(max_size=12), st.floats(allow_nan=True), st.integers(-(10**30), 10**30)),
        "end_time": st.one_of(st.text(max_size=12), st.floats(allow_nan=True)),
        "description": st.text(max_size=40),
    }
)
completion = st.one_of(
    st.text(max_size=300),
    st.lists(moment, max_size=6).map(lambda ms: f"<think>t</think><answer>{json.dumps(ms)}</answer>"),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(completion, min_size=1, max_size=4))
def test_any_completions_give_rewardable_outputs(vos_sample, completions: list[str]) -> None:
    outputs = DetailSystem(OracleGrounder(), BoxSegmenter()).run(vos_sample, handed(vos_sample, completions))
    assert len(outputs) == len(completions)
    for output in outputs:
        assert len(output.keyframes) <= 4 and all(0 <= k < 6 for k in output.keyframes)
        assert (output.masks is None) == (not output.keyframes)
    out = rewarded(completions, vos_sample, outputs)
    assert torch.isfinite(out.total).all()
    assert ((out.terms["mask"] >= 0) & (out.terms["mask"] <= 1)).all()
