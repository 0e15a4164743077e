"""Grounders: which weights the reference grounder uses, HF VLM loading, oracle boxes, prompts."""

from __future__ import annotations

import copy

import pytest
import torch

from omni_r1.detail import GroundingPrompts, HFGrounder, OracleGrounder, ReferenceGrounder
from omni_r1.detail.vlm_grounding import GroundingText, answers_to_boxes
from omni_r1.models.global_system import PixelBudget
from omni_r1.models.loading import LoraConfig

# 60×90 and 100×50 images under a 4·784 .. 16·784 budget: resized to multiples of 28 (56×84 and 112×56).
PIXELS = PixelBudget(min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28)
PROMPTS = ["find the dog", "the red car on the left"]


@pytest.fixture(scope="module")
def images() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [
        torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8, generator=generator),
        torch.randint(0, 256, (3, 100, 50), dtype=torch.uint8, generator=generator),
    ]


@pytest.fixture(scope="module")
def lora_policy(tiny_policy_factory):
    """Tiny policy whose LoRA adapters are far from zero, so adapters on and off answer differently."""
    policy = tiny_policy_factory(lora=LoraConfig(r=4, alpha=8, dropout=0.0))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in policy.model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator))
    return policy


@pytest.fixture(scope="module")
def base_texts(images) -> list[str]:
    """Greedy answers of the tiny thinker's base weights, loaded independently through AutoModel."""
    grounder = HFGrounder("tiny://qwen2.5-omni", dtype="float32", pixels=PIXELS, max_new_tokens=12)
    return [answer.text for answer in grounder.generate(images, PROMPTS)]


def test_reference_grounder_disables_adapters(lora_policy, images, base_texts) -> None:
    lora_policy.model.train()
    grounder = ReferenceGrounder(pixels=PIXELS, max_new_tokens=12).bind(lora_policy)
    answers = grounder.generate(images, PROMPTS)
    assert [a.text for a in answers] == base_texts
    assert [a.resized_hw for a in answers] == [(56, 84), (112, 56)]
    assert lora_policy.model.training  # grounding switches to eval mode and back
    live = ReferenceGrounder(lora_policy, weights="policy", pixels=PIXELS, max_new_tokens=12)
    assert [a.text for a in live.generate(images, PROMPTS)] != base_texts


def test_reference_grounder_without_adapters(tiny_policy_factory, images, base_texts) -> None:
    policy = tiny_policy_factory()
    with pytest.raises(RuntimeError, match="no LoRA adapters"):
        ReferenceGrounder(policy, pixels=PIXELS).generate(images, PROMPTS)
    with pytest.raises(RuntimeError, match="bind"):
        ReferenceGrounder().ground(images, PROMPTS)
    frozen = copy.deepcopy(policy.model).eval().requires_grad_(False)
    grounder = ReferenceGrounder(policy, frozen=frozen, pixels=PIXELS, max_new_tokens=12)
    assert [a.text for a in grounder.generate(images, PROMPTS)] == base_texts
    boxes = grounder.ground(images, ["a dog", "a car"])
    assert len(boxes) == 2 and all(b.dtype == torch.float32 and b.shape[1] == 4 for b in boxes)
    assert grounder.ground([], []) == []


def test_hf_grounder_on_a_tiny_qwen2_5_vl(tiny_vl_dir, images) -> None:
    grounder = HFGrounder(str(tiny_vl_dir), dtype="float32", pixels=PIXELS, max_new_tokens=12, batch_size=1)
    assert type(grounder.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    answers = grounder.generate(images, PROMPTS)
    assert [a.resized_hw for a in answers] == [(56, 84), (112, 56)]
    again = HFGrounder(str(tiny_vl_dir), dtype="float32", pixels=PIXELS, max_new_tokens=12, batch_size=2)
    assert [a.text for a in again.generate(images, PROMPTS)] == [a.text for a in answers]  # greedy, batch-free
    for boxes, image in zip(grounder.ground(images, PROMPTS, task="avs"), images):
        assert boxes.dtype == torch.float32 and boxes.shape[1] == 4
        assert (boxes[:, 2:] <= torch.tensor(image.shape[-1:-3:-1])).all()


def test_answers_to_boxes_rescales_per_image(images) -> None:
    answers = [
        GroundingText('[{"bbox_2d": [28, 14, 56, 42], "label": "dog"}]', (56, 84)),  # 60×90 shown as 56×84
        GroundingText("I cannot find it.", (112, 56)),
    ]
    boxes = answers_to_boxes(answers, images)
    torch.testing.assert_close(boxes[0], torch.tensor([[30.0, 15.0, 60.0, 45.0]]))
    assert boxes[1].shape == (0, 4)


def test_oracle_grounder(images) -> None:
    gt = [torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.zeros(0, 4)]
    out = OracleGrounder().ground(images, ["x", "y"], gt_boxes=gt)
    assert torch.equal(out[0], gt[0]) and out[1].shape == (0, 4)
    with pytest.raises(ValueError, match="needs gt_boxes"):
        OracleGrounder().ground(images, ["x", "y"])
    with pytest.raises(ValueError, match=r"gt_boxes\[0\] must be \(o, 4\)"):
        OracleGrounder().ground(images[:1], ["x"], gt_boxes=[torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="2 images for 1 descriptions"):
        OracleGrounder().ground(images, ["x"], gt_boxes=gt)
    with pytest.raises(ValueError, match=r"\(3, H, W\) uint8"):
        OracleGrounder().ground([torch.zeros(3, 4, 4)], ["x"], gt_boxes=gt[:1])


def test_grounding_prompts() -> None:
    prompts = GroundingPrompts()
    assert '"the man in red"' in prompts("the man in red") and "all objects" in prompts("x")
    assert "Find the bounding box" in prompts("the violin", task="avs") and "bbox_2d" in prompts("x", task="avs")
    assert GroundingPrompts(vos="<{description}>")("cat") == "<cat>"
    with pytest.raises(ValueError, match="unknown task"):
        prompts("x", task="grounding")
