"""refCOCOg as Seg-Zero / the authors' ``segzero.py``: the prompt asks for a box and two points, the ground-truth
points are the mask's two inscribed-circle centres, and the reference answer scores the maximum 4.4."""

from __future__ import annotations

import json

import pytest
import torch

from omni_r1.answer.reference import reference_answer
from omni_r1.data.points import inscribed_circle_points
from omni_r1.data.refcocog import RefCOCOgDataset
from omni_r1.data.synthetic import write_refcocog
from omni_r1.data.types import VideoSample
from omni_r1.models.prompts import PromptBuilder
from omni_r1.rewards import HierarchicalReward
from omni_r1.rewards.refcocog import REFCOCOG_MAX


@pytest.fixture(scope="module")
def grounding_samples(tmp_path_factory: pytest.TempPathFactory) -> list[VideoSample]:
    root = write_refcocog(tmp_path_factory.mktemp("refcocog"), num_images=3)
    dataset = RefCOCOgDataset(root, split="train")
    return [dataset[i] for i in range(len(dataset))]


def refcocog_term(reward: HierarchicalReward, text: str, sample: VideoSample, image_hw=None) -> float:
    return float(reward([text], sample, image_hw=image_hw, num_tokens=[10]).terms["refcocog"][0])


def test_inscribed_circle_points_by_hand() -> None:
    # An 11×11 square centred at (x 7, y 7) and a 7×7 one centred at (33, 5). The first centre is the larger
    # square's; the 10-pixel disc around it covers the whole square, so the second is the smaller square's centre.
    mask = torch.zeros(20, 40, dtype=torch.bool)
    mask[2:13, 2:13] = True
    mask[2:9, 30:37] = True
    assert inscribed_circle_points(mask) == ((7.0, 7.0), (33.0, 5.0))
    small = torch.zeros(9, 9, dtype=torch.bool)
    small[3:6, 3:6] = True  # nothing left outside the disc: the centre twice (the authors draw a random pixel)
    assert inscribed_circle_points(small) == ((4.0, 4.0), (4.0, 4.0))
    assert inscribed_circle_points(torch.zeros(4, 4)) is None
    with pytest.raises(ValueError, match="H, W"):
        inscribed_circle_points(torch.zeros(2, 4, 4))


def test_the_prompt_asks_for_what_the_reward_scores() -> None:
    prompt = PromptBuilder()("grounding", "The red square on the left.", 1.0)
    assert prompt.startswith("Please find 'the red square on the left' with bbox and points.")  # Seg-Zero's wording
    assert '{"bbox_2d": [x1, y1, x2, y2], "points_1": [x3, y3], "points_2": [x4, y4]}' in prompt
    assert "points_1" not in PromptBuilder(style="kit")("grounding", "x", 1.0)  # the kit's former prompt


@pytest.mark.parametrize("image_hw", [None, (128, 192)])
def test_a_perfect_answer_scores_the_maximum(grounding_samples: list[VideoSample], image_hw) -> None:
    reward = HierarchicalReward()
    for sample in grounding_samples:
        text = reference_answer(sample, image_hw=image_hw)
        answer = json.loads(text.split("<answer>")[1].split("</answer>")[0])
        assert set(answer) == {"bbox_2d", "points_1", "points_2"}
        # exact at the original size; rounding to whole pixels of the 2× image costs at most a little IoU
        assert refcocog_term(reward, text, sample, image_hw) == pytest.approx(REFCOCOG_MAX, abs=0.05)


def test_a_box_only_answer_no_longer_scores_3_4(grounding_samples: list[VideoSample]) -> None:
    sample = grounding_samples[0]
    full = json.loads(reference_answer(sample).split("<answer>")[1].split("</answer>")[0])
    box_only = f"<think>t</think><answer>{json.dumps({'bbox_2d': full['bbox_2d']})}</answer>"
    # IoU 1 → 1.4, box L1 0 → 1; no points → 0, not the strict format → 0
    assert refcocog_term(HierarchicalReward(), box_only, sample) == pytest.approx(2.4)
    # the kit's former reward: box centres stood in for the points, so the point term was 1
    former = HierarchicalReward(refcocog_points="box_centres")
    assert refcocog_term(former, box_only, sample) == pytest.approx(3.4)


def test_points_outside_the_predicted_box_score_nothing(grounding_samples: list[VideoSample]) -> None:
    sample = grounding_samples[0]
    full = json.loads(reference_answer(sample).split("<answer>")[1].split("</answer>")[0])
    x2, y2 = full["bbox_2d"][2:]
    full["points_2"] = [x2 + 5, y2 + 5]
    text = f"<think>t</think><answer>{json.dumps(full)}</answer>"
    assert refcocog_term(HierarchicalReward(), text, sample) == pytest.approx(REFCOCOG_MAX - 1.0)


def test_reward_key_is_checked() -> None:
    with pytest.raises(ValueError, match="refcocog_points"):
        HierarchicalReward(refcocog_points="corners")  # type: ignore[arg-type]
