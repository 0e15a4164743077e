"""Fixtures of the Detail-system tests: a small synthetic VOS / RefAVS prompt, tiny SAM2, a tiny Qwen2.5-VL.

The synthetic prompt is a 12-frame video of 24×32 pixels whose S1 clip is every other frame (n = 6 at 2 fps):

- object 0 is visible on every clip frame ``k`` at rows 4–11 × cols ``2 + 2k`` – ``9 + 2k`` (box
  ``(2 + 2k, 4, 10 + 2k, 12)``);
- object 1 is visible on clip frames 3–5 only, at rows 14–19 × cols 20–27 (box ``(20, 14, 28, 20)``).

The odd (non-clip) frames hold full-frame decoy masks, so code that forgets ``s1_indices`` fails visibly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from omni_r1.data.types import VideoSample

HEIGHT, WIDTH, CLIP = 24, 32, 6


def clip_masks() -> torch.Tensor:
    """``(2, 6, 24, 32)`` bool ground truth over the S1 clip (module docstring)."""
    masks = torch.zeros(2, CLIP, HEIGHT, WIDTH, dtype=torch.bool)
    for k in range(CLIP):
        masks[0, k, 4:12, 2 + 2 * k : 10 + 2 * k] = True
    masks[1, 3:, 14:20, 20:28] = True
    return masks


def make_sample(task: str = "vos") -> VideoSample:
    """The synthetic prompt; objects are drawn bright on a dark textured background."""
    clip = clip_masks()
    masks = torch.ones(2, 2 * CLIP, HEIGHT, WIDTH, dtype=torch.bool)
    masks[:, 0::2] = clip
    generator = torch.Generator().manual_seed(0)
    frames = (torch.rand(2 * CLIP, 3, HEIGHT, WIDTH, generator=generator) * 60).to(torch.uint8)
    frames[0::2] += (clip.any(dim=0)[:, None] * 180).to(torch.uint8)
    return VideoSample(
        dataset="synthetic",
        task=task,
        video_id="vid0",
        exp_id="0",
        expression="the box moving to the right",
        expression_type=0,
        frames=frames,
        frame_names=[f"{i:05d}" for i in range(2 * CLIP)],
        s1_indices=torch.arange(0, 2 * CLIP, 2),
        masks=masks,
        obj_ids=[1, 2],
    )


@pytest.fixture
def vos_sample() -> VideoSample:
    return make_sample("vos")


@pytest.fixture
def avs_sample() -> VideoSample:
    return make_sample("avs")


@pytest.fixture(scope="session")
def tiny_sam2():
    """Random-weight SAM2.1 hiera-t video predictor at 128 px (shared: tests must not change its settings)."""
    from omni_r1.detail.sam2_tiny import build_tiny_sam2_video_predictor

    return build_tiny_sam2_video_predictor(image_size=128)


def build_tiny_qwen2_5_vl(path: Path, seed: int = 0) -> Path:
    """Save a tiny random ``Qwen2_5_VLForConditionalGeneration`` and its processor (offline, ~0.3 M parameters).

    It reuses the kit's tiny tokenizer and chat template; the model's image / vision-start ids are that
    tokenizer's Omni-style tokens, which ``Qwen2_5_VLProcessor`` picks up from ``tokenizer.image_token``.
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    from omni_r1.models.tiny import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tokenizer

    tokenizer = build_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
            "max_position_embeddings": 4096,
            "bos_token_id": None,
            "pad_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "patch_size": 14,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
            "out_hidden_size": 64,
        },
        image_token_id=ids["<|IMAGE|>"],
        video_token_id=ids["<|VIDEO|>"],
        vision_start_token_id=ids["<|vision_bos|>"],
        vision_end_token_id=ids["<|vision_eos|>"],
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config).eval()
    size = {"shortest_edge": 56 * 56, "longest_edge": 112 * 112}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        video_processor=Qwen2VLVideoProcessor(size=size),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_vl") / "qwen2.5-vl")
