"""Reference answers in the Global system's output format, built from ground truth.

They teach the format in the SFT warm start (the paper's SFT baseline) and answer what the prompts
(:mod:`omni_r1.models.prompts`) ask for:

- VOS: ``<think>…</think><answer>`` + one JSON moment per chosen keyframe (the inverse of
  :func:`~omni_r1.answer.parse.parse_answer`);
- RefAVS: the plain-text description the authors' RefAVS prompt asks for (it goes to the grounder as written);
- refCOCOg: Seg-Zero's ``{"bbox_2d", "points_1", "points_2"}`` object, the points being the target's two
  inscribed-circle centres (:func:`~omni_r1.data.points.inscribed_circle_points`), as the grounding reward scores.
"""

from __future__ import annotations

import json

import torch

from omni_r1.answer.timestamps import format_timestamp
from omni_r1.data.points import inscribed_circle_points
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
    """A well-formed completion for ``sample`` (see the module docstring for each task's answer).

    Grounding samples (refCOCOg) answer with the target's box and points, in the pixels of the image the model
    saw (``image_hw``, after the processor's resize), which is what the grounding reward compares against.
    """
    if sample.task == "grounding":
        return _grounding_answer(sample, image_hw)
    if sample.task == "avs":
        think = (
            f'The expression is "{sample.expression}". I listen for which object makes the sound and find it '
            "in the first frame."
        )
        return f"<think>{think}</think><answer>{sample.expression}</answer>"
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
    (x1, y1), (x2, y2) = inscribed_circle_points(mask)  # the mask is not empty (checked above)
    answer = {
        "bbox_2d": box,
        "points_1": [round(x1 * sx), round(y1 * sy)],
        "points_2": [round(x2 * sx), round(y2 * sy)],
    }
    think = f'The expression is "{sample.expression}". I find the object, box it and mark two points in it.'
    return f"<think>{think}</think><answer>{json.dumps(answer)}</answer>"
