"""Reference answers in the Global system's output format, built from ground truth.

They teach the format in the SFT warm start (the paper's SFT baseline) and are the inverse of
``omni_r1.answer.parse_answer``: ``<think>…</think><answer>`` + one JSON object per chosen moment.
"""

from __future__ import annotations

import json

import torch

from omni_r1.answer.timestamps import format_timestamp
from omni_r1.data.types import VideoSample


def visible_keyframes(sample: VideoSample, max_keyframes: int = 4) -> list[int]:
    """Positions in the S1 clip (0..n-1) where the target is visible, spread evenly over those frames.

    Spreading follows the prompt's instruction (moments over the whole video, not adjacent). A target that is
    never visible yields the first frame, so the answer stays well-formed.
    """
    union = sample.union_masks[sample.s1_indices]  # (n, H, W)
    visible = union.flatten(1).any(dim=1).nonzero().flatten()
    if visible.numel() == 0:
        return [0]
    k = min(max_keyframes, visible.numel())
    picks = torch.linspace(0, visible.numel() - 1, k).round().long()
    return sorted({int(visible[i]) for i in picks})


def reference_answer(sample: VideoSample, max_keyframes: int = 4, image_hw: tuple[int, int] | None = None) -> str:
    """A well-formed completion for ``sample``: reasoning text plus one JSON moment per keyframe.

    Grounding samples (refCOCOg) answer with the target's box, in the pixels of the image the model saw
    (``image_hw``, after the processor's resize), which is what the grounding reward compares against.
    """
    if sample.task == "grounding":
        return _grounding_answer(sample, image_hw)
    if sample.task == "avs":
        frames = [0]
        think = (
            f'The expression is "{sample.expression}". I listen for which object makes the sound and find it '
            "in the first frame."
        )
    else:
        frames = visible_keyframes(sample, max_keyframes)
        times = ", ".join(format_timestamp(i / sample.fps) for i in frames)
        think = (
            f'The instruction asks for "{sample.expression}". The target is clearly visible at {times}; these '
            "moments are spread over the clip."
        )
    moments = [
        json.dumps(
            {
                "start_time": format_timestamp(i / sample.fps),
                "end_time": format_timestamp(i / sample.fps),
                "description": sample.expression,
            }
        )
        for i in frames
    ]
    return f"<think>{think}</think><answer>{' '.join(moments)}</answer>"


def _grounding_answer(sample: VideoSample, image_hw: tuple[int, int] | None) -> str:
    mask = sample.union_masks[int(sample.s1_indices[0])]
    ys, xs = mask.nonzero(as_tuple=True)
    if ys.numel() == 0:
        raise ValueError(f"grounding sample {sample.video_id}/{sample.exp_id} has an empty target mask")
    height, width = mask.shape
    sy, sx = (image_hw[0] / height, image_hw[1] / width) if image_hw else (1.0, 1.0)
    box = [round(float(xs.min()) * sx), round(float(ys.min()) * sy)]
    box += [round(float(xs.max() + 1) * sx), round(float(ys.max() + 1) * sy)]
    think = f'The expression is "{sample.expression}". I find the object it describes and box it.'
    return f"<think>{think}</think><answer>{json.dumps({'bbox_2d': box})}</answer>"
