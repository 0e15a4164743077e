"""SAM2Segmenter: all rollouts in one state must give exactly the masks of one state per rollout.

The oracle is ``batched=False``: SAM2's public API (``add_new_points_or_box`` + ``propagate_in_video``), one fresh
state per rollout, as the reference code calls it. A random-weight hiera-t at 128 px on a 4-frame clip keeps
each case to a few seconds on two cores.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image

from omni_r1.detail import BoxPrompt, SAM2Segmenter
from omni_r1.detail.sam2_video import memory_state

A, B, C = (4.0, 4.0, 20.0, 16.0), (10.0, 2.0, 30.0, 20.0), (1.0, 12.0, 12.0, 23.0)


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    clip = (torch.rand(4, 3, 24, 32, generator=generator) * 80).to(torch.uint8)
    clip[:, :, 4:16, 4:20] += 150
    return clip


@pytest.fixture(autouse=True)
def quiet() -> None:
    warnings.filterwarnings("ignore", message=".*cannot import name '_C'.*")


def segment(predictor, frames, prompts, **kwargs) -> tuple[list[torch.Tensor], SAM2Segmenter]:
    segmenter = SAM2Segmenter(predictor=predictor, **kwargs)
    return segmenter.segment(frames, prompts), segmenter


@pytest.mark.parametrize(
    ("start", "bidirectional"), [("first_prompt", False), ("first_prompt", True), ("first_frame", False)]
)
def test_batched_equals_one_state_per_rollout(tiny_sam2, frames, start: str, bidirectional: bool) -> None:
    prompts = [
        [(1, A), (2, B)],  # starts at frame 1
        [(0, C)],  # starts at frame 0
        [(1, A), (2, B)],  # a duplicate of rollout 0
        [],  # no prompt
        [BoxPrompt(1, A, 0), BoxPrompt(3, B, 0), BoxPrompt(3, C, 1)],  # object 0 prompted on two frames
    ]
    kwargs = {"start": start, "bidirectional": bidirectional}
    batched, seg = segment(tiny_sam2, frames, prompts, batched=True, **kwargs)
    oracle, ref = segment(tiny_sam2, frames, prompts, batched=False, **kwargs)
    assert [m.shape for m in batched] == [(4, 24, 32)] * 5 and all(m.dtype == torch.bool for m in batched)
    for rollout, (ours, theirs) in enumerate(zip(batched, oracle)):
        assert torch.equal(ours, theirs), f"rollout {rollout}: {(ours != theirs).float().mean():.4f} of pixels differ"
    assert batched[0].any() and not batched[3].any()
    assert not torch.equal(batched[0], batched[1])  # different prompts, different masks: the check is not vacuous
    assert (seg.last_stats.objects, seg.last_stats.tracked, seg.last_stats.states) == (7, 5, 1)
    assert (ref.last_stats.tracked, ref.last_stats.states) == (7, 4)


def test_first_prompt_leaves_earlier_frames_empty(tiny_sam2, frames) -> None:
    (forward,), _ = segment(tiny_sam2, frames, [[(2, A)]], start="first_prompt")
    (both,), _ = segment(tiny_sam2, frames, [[(2, A)]], start="first_prompt", bidirectional=True)
    assert not forward[:2].any() and forward[2:].any()
    assert both[:2].any() and torch.equal(both[3], forward[3])


def test_dedup_tracks_shared_objects_once(tiny_sam2, frames) -> None:
    prompts = [[(0, A), (2, B)], [(0, A), (2, B)], [(0, A)]]  # rollout 2 shares object (0, A) with the others
    shared, seg = segment(tiny_sam2, frames, prompts, start="first_frame")
    separate, no_dedup = segment(tiny_sam2, frames, prompts, start="first_frame", dedup=False)
    assert (seg.last_stats.objects, seg.last_stats.tracked) == (5, 2)
    assert no_dedup.last_stats.tracked == 5
    assert all(torch.equal(a, b) for a, b in zip(shared, separate))
    assert torch.equal(shared[0], shared[1])


def test_each_frame_is_encoded_once(tiny_sam2, frames) -> None:
    calls = []
    handle = tiny_sam2.image_encoder.register_forward_hook(lambda *_: calls.append(1))
    try:
        prompts = [[(1, A), (3, B)], [(0, C), (2, A)], [(3, C)]]
        segment(tiny_sam2, frames, prompts)
        batched_calls = len(calls)
        calls.clear()
        segment(tiny_sam2, frames, prompts, batched=False)
    finally:
        handle.remove()
    assert batched_calls == 4
    assert len(calls) > 3 * 4  # one state per rollout encodes its frames again, and again while prompting


def test_memory_state_mirrors_init_state(tiny_sam2, frames, tmp_path: Path) -> None:
    for index, frame in enumerate(frames):
        Image.fromarray(frame.permute(1, 2, 0).numpy()).save(tmp_path / f"{index:05d}.jpg", quality=100, subsampling=0)
    with torch.inference_mode():
        reference = tiny_sam2.init_state(str(tmp_path))
    ours = memory_state(tiny_sam2, frames)
    assert set(ours) == set(reference)
    assert (ours["video_height"], ours["video_width"], ours["num_frames"]) == (24, 32, 4)
    assert ours["images"].shape == reference["images"].shape
    # JPEG is lossy even at quality 100: the in-memory frames are close to, not equal to, the loader's.
    assert (ours["images"] - reference["images"]).abs().mean() < 0.02


def test_errors(tiny_sam2, frames) -> None:
    with pytest.raises(ValueError, match="start"):
        SAM2Segmenter(predictor=tiny_sam2, start="middle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="track 0 has several boxes on one frame"):
        SAM2Segmenter(predictor=tiny_sam2).segment(frames, [[(1, A, 0), (1, B, 0)]])
    with pytest.raises(ValueError, match="multiple of 32"):
        SAM2Segmenter(image_size=100)
