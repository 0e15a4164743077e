"""The tiny SAM2 predictor: seeded random weights, box tracking on CPU, and the documented bf16 pitfall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1.detail.sam2_tiny import build_tiny_sam2_video_predictor

# sam2 warns once that its optional CUDA extension (hole filling) is missing on CPU machines.
NO_CUDA_EXTENSION = pytest.mark.filterwarnings("ignore:cannot import name '_C':UserWarning")


@pytest.fixture(scope="module")
def sam2_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    rng = np.random.default_rng(0)
    for i in range(3):
        frame = np.full((48, 64, 3), 30, dtype=np.uint8)
        frame[10 + i : 30 + i, 16:40] = rng.integers(150, 255, size=3, dtype=np.uint8)  # a bright block drifting
        Image.fromarray(frame).save(folder / f"{i:05d}.jpg")
    return folder


def test_tiny_sam2_is_seeded() -> None:
    first = build_tiny_sam2_video_predictor(image_size=128, seed=0).state_dict()
    again = build_tiny_sam2_video_predictor(image_size=128, seed=0).state_dict()
    other = build_tiny_sam2_video_predictor(image_size=128, seed=1).state_dict()
    assert all(torch.equal(value, again[name]) for name, value in first.items())
    assert not all(torch.equal(value, other[name]) for name, value in first.items())
    with pytest.raises(ValueError, match="multiple of 32"):
        build_tiny_sam2_video_predictor(image_size=112)


@NO_CUDA_EXTENSION
def test_tiny_sam2_tracks_a_box_on_cpu(sam2_frames: Path) -> None:
    predictor = build_tiny_sam2_video_predictor(image_size=128, seed=0)
    assert predictor.image_size == 128
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        state = predictor.init_state(video_path=str(sam2_frames))
        _, obj_ids, _ = predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=np.array([16, 10, 40, 30]))
        masks = {frame: logits > 0 for frame, _, logits in predictor.propagate_in_video(state)}
    assert list(obj_ids) == [1]
    assert sorted(masks) == [0, 1, 2]
    assert all(m.shape == (1, 1, 48, 64) and m.dtype == torch.bool for m in masks.values())


@NO_CUDA_EXTENSION
def test_tiny_sam2_cpu_needs_bf16_autocast(sam2_frames: Path) -> None:
    """The documented pitfall: objects prompted on different keyframes fail on CPU unless under bf16 autocast."""
    predictor = build_tiny_sam2_video_predictor(image_size=128, seed=0)

    def track() -> dict[int, torch.Tensor]:
        state = predictor.init_state(video_path=str(sam2_frames))
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=np.array([16, 10, 40, 30]))
        predictor.add_new_points_or_box(state, frame_idx=2, obj_id=2, box=np.array([0, 0, 20, 20]))
        return {frame: logits > 0 for frame, _, logits in predictor.propagate_in_video(state)}

    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        masks = track()
    assert sorted(masks) == [0, 1, 2] and all(m.shape == (2, 1, 48, 64) for m in masks.values())
    with torch.inference_mode(), pytest.raises(RuntimeError, match="same dtype"):
        track()
