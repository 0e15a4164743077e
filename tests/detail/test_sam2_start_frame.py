"""SAM2Segmenter's default start frame is the authors': propagation from clip frame 0, not from the first prompt.

The authors' SAM2 server adds every box and then calls ``propagate_in_video(start_frame_idx=0)`` once (forward
only), so frames before the first keyframe are tracked too. With random weights the masks mean nothing, so the
tests check which frames SAM2 *processed*: a spy on the predictor's per-frame step records the frame of each call
(the prompted frame runs it once, when its box is added).
"""

from __future__ import annotations

import warnings

import pytest
import torch

from omni_r1.detail import SAM2Segmenter

NUM_FRAMES, KEYFRAME = 10, 5
BOX = (4.0, 4.0, 20.0, 16.0)


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    frames = (torch.rand(NUM_FRAMES, 3, 24, 32, generator=generator) * 80).to(torch.uint8)
    frames[:, :, 4:16, 4:20] += 150
    return frames


@pytest.fixture(autouse=True)
def quiet() -> None:
    warnings.filterwarnings("ignore", message=".*cannot import name '_C'.*")


def tracked_frames(predictor, monkeypatch: pytest.MonkeyPatch, segmenter: SAM2Segmenter, clip: torch.Tensor):
    """``(masks, sorted frames SAM2 ran its tracking step on)`` for one rollout prompted on ``KEYFRAME`` only."""
    frames: list[int] = []
    step = predictor._run_single_frame_inference

    def spy(*args, **kwargs):
        frames.append(kwargs["frame_idx"])
        return step(*args, **kwargs)

    monkeypatch.setattr(predictor, "_run_single_frame_inference", spy)
    (masks,) = segmenter.segment(clip, [[(KEYFRAME, BOX)]])
    monkeypatch.undo()
    return masks, sorted(frames)


@pytest.mark.parametrize("batched", [True, False])
def test_default_tracks_the_frames_before_the_first_keyframe(
    tiny_sam2, clip, monkeypatch: pytest.MonkeyPatch, batched: bool
) -> None:
    segmenter = SAM2Segmenter(predictor=tiny_sam2, batched=batched)
    assert segmenter.start == "first_frame"
    masks, frames = tracked_frames(tiny_sam2, monkeypatch, segmenter, clip)
    assert masks.shape == (NUM_FRAMES, 24, 32)
    assert frames == list(range(NUM_FRAMES))  # frames 0-4 processed too, not only the keyframe and after


def test_batched_default_equals_one_public_api_state(tiny_sam2, clip) -> None:
    """Batched tracking from frame 0 gives exactly what SAM2's ``propagate_in_video(start_frame_idx=0)`` gives."""
    (batched,) = SAM2Segmenter(predictor=tiny_sam2).segment(clip, [[(KEYFRAME, BOX)]])
    (oracle,) = SAM2Segmenter(predictor=tiny_sam2, batched=False).segment(clip, [[(KEYFRAME, BOX)]])
    assert torch.equal(batched, oracle)


def test_first_prompt_keeps_the_former_behaviour(tiny_sam2, clip, monkeypatch: pytest.MonkeyPatch) -> None:
    segmenter = SAM2Segmenter(predictor=tiny_sam2, start="first_prompt")
    masks, frames = tracked_frames(tiny_sam2, monkeypatch, segmenter, clip)
    assert frames == list(range(KEYFRAME, NUM_FRAMES))
    assert not masks[:KEYFRAME].any()  # never tracked: empty by construction, not by chance
