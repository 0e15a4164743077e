"""Greedy grounding with a Hugging Face VLM: chat prompt + image → text → boxes in original pixels.

Shared by the grounders that run a model (the reference policy, any HF VLM). The image goes through the model's
own processor with the S2 pixel budget; the processor's ``image_grid_thw`` gives the resized image the model
saw (``grid × patch size`` pixels per side), in whose coordinates Qwen2.5-VL style models answer, so boxes are
mapped back to the original frame per axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from omni_r1.detail.box_parsing import MAX_BOXES, parse_bbox_2d, rescale_boxes
from omni_r1.models.global_system import PixelBudget
from omni_r1.models.preprocess import no_autocast

# The paper's S2 budget: keyframes at high resolution (min 64·28·28, max 900·28·28 pixels; the later code uses 1600).
S2_PIXELS = PixelBudget(min_pixels=64 * 28 * 28, max_pixels=900 * 28 * 28)


@dataclass
class GroundingText:
    """One grounding answer before parsing.

    Args:
        text: the decoded completion (special tokens removed).
        resized_hw: ``(h, w)`` of the image as the model saw it.
    """

    text: str
    resized_hw: tuple[int, int]


def chat_text(processor: object, prompt: str) -> str:
    """The processor's chat template around one image followed by the instruction, ready for generation."""
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


@torch.no_grad()
def generate_grounding(
    model: nn.Module,
    processor: object,
    images: Sequence[Tensor],
    prompts: Sequence[str],
    *,
    pixels: PixelBudget,
    max_new_tokens: int,
    batch_size: int,
    bad_words_ids: list[list[int]] | None,
    eos_token_id: list[int],
) -> list[GroundingText]:
    """Greedy answers of ``model`` for (image, prompt) pairs, ``batch_size`` pairs per ``generate`` call.

    The model is put in eval mode for the call (no dropout in a greedy answer) and restored afterwards; the
    processor's tokenizer must pad on the left.
    """
    if len(images) != len(prompts):
        raise ValueError(f"grounding: {len(images)} images for {len(prompts)} prompts")
    tokenizer = processor.tokenizer
    patch = int(processor.image_processor.patch_size)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    answers: list[GroundingText] = []
    try:
        for first in range(0, len(images), batch_size):
            chunk = slice(first, first + batch_size)
            with no_autocast():  # preprocessing, not model compute: never in the trainer's half precision
                inputs = processor(
                    text=[chat_text(processor, prompt) for prompt in prompts[chunk]],
                    images=list(images[chunk]),
                    images_kwargs={"size": pixels.as_size()},
                    return_tensors="pt",
                    padding=True,
                )
            resized = [(h * patch, w * patch) for _, h, w in inputs["image_grid_thw"].tolist()]
            inputs = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}
            out = model.generate(
                **inputs,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                max_new_tokens=max_new_tokens,
                bad_words_ids=bad_words_ids or None,
                eos_token_id=eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
            texts = tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            answers += [GroundingText(text, hw) for text, hw in zip(texts, resized, strict=True)]
    finally:
        if was_training:
            model.train()
    return answers


def answers_to_boxes(
    answers: Sequence[GroundingText], images: Sequence[Tensor], max_boxes: int = MAX_BOXES
) -> list[Tensor]:
    """``(m_i, 4)`` float32 boxes in each original image's pixels (see :mod:`omni_r1.detail.box_parsing`)."""
    return [
        rescale_boxes(parse_bbox_2d(answer.text, max_boxes), answer.resized_hw, tuple(image.shape[-2:]))
        for answer, image in zip(answers, images, strict=True)
    ]


def stop_token_ids(tokenizer: object) -> list[int]:
    """End-of-turn ids of a Qwen-style tokenizer (``<|im_end|>`` and the eos token)."""
    ids = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id}
    return sorted(i for i in ids if isinstance(i, int) and i >= 0 and i != tokenizer.unk_token_id)
