"""The tiny SAM2 of tests and CPU demos: SAM2.1 hiera-tiny with seeded random weights at a small input size."""

from __future__ import annotations

from typing import Any

from omni_r1.models.tiny import seeded


def build_tiny_sam2_video_predictor(device: str = "cpu", image_size: int = 256, seed: int = 0) -> Any:
    """SAM2.1 hiera-tiny video predictor with seeded random weights at a small input size.

    At the default 1024 px one CPU frame costs seconds; 256 (or 128) keeps tests fast. ``image_size`` must be a
    multiple of 32 (the Hiera stride times the mask decoder's upscaling).

    CPU pitfall: the predictor stores memory features in bfloat16. Wherever a frame's memory holds no float32
    object pointer to promote it (objects prompted on different keyframes, as S2 does, or propagation starting
    before the first prompt), the memory attention gets bf16 keys against float32 weights and
    ``propagate_in_video`` fails with "mat1 and mat2 must have the same dtype". Run tracking on CPU under
    ``torch.autocast("cpu", dtype=torch.bfloat16)``. The CUDA post-processing extension is optional: without
    it sam2 warns once and skips hole filling.

    Args:
        device: torch device of the model.
        image_size: square input resolution of the image encoder.
        seed: torch seed of the random weights.

    Returns:
        A ``sam2.sam2_video_predictor.SAM2VideoPredictor`` in eval mode.
    """
    if image_size <= 0 or image_size % 32:
        raise ValueError(
            f"build_tiny_sam2_video_predictor: image_size must be a positive multiple of 32, got {image_size}"
        )
    from sam2.build_sam import build_sam2_video_predictor  # slow import (hydra): only when asked for

    return seeded(
        seed,
        lambda: build_sam2_video_predictor(
            "configs/sam2.1/sam2.1_hiera_t.yaml",
            ckpt_path=None,
            device=device,
            hydra_overrides_extra=[f"++model.image_size={image_size}"],
        ),
    )
