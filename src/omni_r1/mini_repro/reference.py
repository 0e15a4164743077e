"""Reference answers of the sounding-shapes task: the SFT targets, with the rewrite a correct answer gives.

The kit's generic reference answer (:func:`omni_r1.answer.reference.reference_answer`) repeats the query as the
description, which is right for a referring query and useless for "the first object to make a sound": no
single-image grounder can find that. Here the description is what the target looks like, read off the ground
truth (:func:`~omni_r1.data.synthetic.sounding.describe`): "the red circle". The keyframes are the generic ones
(frames where the target is visible, spread over them), and the reasoning names the target once, so that each
moment's description can copy it.

The words are what S1 can perceive: ``"colour"`` descriptions ("the red shape") name only the colour, which the
tiny thinker's frozen encoders carry (linear-probe AUC 0.98 at the experiment's pixel budget) and which picks out
one object per clip (colours are distinct); ``"colour_kind"`` ("the red circle") adds the kind, which they do not
carry (AUC ≈ 0.5, :mod:`omni_r1.mini_repro.probes`), so SFT would be taught words it cannot ground in the frames.
Either way the answer is what an annotator writes from the masks and the query (visibility and looks), never what
the Detail system turned out to segment best.
"""

from __future__ import annotations

import json
import random
import zlib
from typing import Literal, get_args

from omni_r1.answer.reference import visible_keyframes
from omni_r1.answer.timestamps import format_timestamp
from omni_r1.data.synthetic.sounding import describe
from omni_r1.data.types import VideoSample

DescriptionWords = Literal["colour_kind", "colour"]
DESCRIPTION_WORDS: tuple[str, ...] = get_args(DescriptionWords)
ReferenceKeyframes = Literal["spread", "salient", "sampled"]
REFERENCE_KEYFRAMES: tuple[str, ...] = get_args(ReferenceKeyframes)


def sampled_keyframes(sample: VideoSample, max_keyframes: int) -> list[int]:
    """1 to ``max_keyframes`` frames drawn among those where the target is visible, how many and which fixed per
    prompt (seeded by its video and expression): an annotator marking some frames that show the target, knowing
    where it is visible but not which frames the Detail system tracks it best from. A target never visible yields
    frame 0."""
    union = sample.union_masks[sample.s1_indices]  # (n, H, W)
    visible = union.flatten(1).any(dim=1).nonzero().flatten().tolist()
    if not visible:
        return [0]
    rng = random.Random(zlib.crc32(f"{sample.video_id}/{sample.exp_id}".encode()))
    count = rng.randint(1, min(max_keyframes, len(visible)))
    return sorted(rng.sample(visible, count))


def salient_keyframe(sample: VideoSample) -> list[int]:
    """The S1-clip frame where the target union is largest (the first of ties): the frame an annotator marks as
    showing the target best, R_sal's best frame. A target never visible yields frame 0."""
    union = sample.union_masks[sample.s1_indices]  # (n, H, W)
    return [int(union.flatten(1).sum(dim=1).argmax())]


def target_description(sample: VideoSample, words: DescriptionWords = "colour_kind") -> str:
    """``"the red circle"`` (``words="colour"``: ``"the red shape"``; ``" and "``-joined for several targets): each
    target described at the clip frame where it is largest; ``"no such object"`` when no target is visible."""
    names = []
    for masks in sample.masks:  # (T, H, W) per target
        areas = masks.flatten(1).sum(dim=1)
        if int(areas.max()) == 0:
            continue
        t = int(areas.argmax())
        name = describe(sample.frames[t].permute(1, 2, 0).cpu().numpy(), masks[t].cpu().numpy())
        names.append(f"{name.rsplit(' ', 1)[0]} shape" if words == "colour" else name)
    return " and ".join(names) if names else "no such object"


def rewrite_answer(
    sample: VideoSample,
    max_keyframes: int,
    words: DescriptionWords = "colour_kind",
    name: str | None = None,
    keyframes: ReferenceKeyframes = "spread",
) -> str:
    """``<think>the red circle</think><answer>`` + one JSON moment per keyframe describing the target by its looks.

    VOS samples get up to ``max_keyframes`` moments spread over the frames where the target is visible
    (``keyframes="spread"``), one moment at the frame where it is largest (``"salient"``, :func:`salient_keyframe`)
    or 1 to K0 moments on visible frames drawn per prompt (``"sampled"``, :func:`sampled_keyframes`);
    RefAVS samples one moment at frame 0 (the frame S1 sees and S2 grounds). ``name`` replaces the description (a
    constant answer: the same words whatever the query).
    """
    name = target_description(sample, words) if name is None else name
    if sample.task == "avs":
        frames = [0]
    elif keyframes == "salient":
        frames = salient_keyframe(sample)
    elif keyframes == "sampled":
        frames = sampled_keyframes(sample, max_keyframes)
    else:
        frames = visible_keyframes(sample, max_keyframes)
    moments = []
    for index in frames:
        stamp = format_timestamp(index / sample.fps)
        moments.append(json.dumps({"start_time": stamp, "end_time": stamp, "description": name}))
    return f"<think>{name}</think><answer>{' '.join(moments)}</answer>"
