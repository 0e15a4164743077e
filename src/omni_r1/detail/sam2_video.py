"""Thin helpers around ``sam2.sam2_video_predictor.SAM2VideoPredictor`` (sam2 1.1.0) for in-process batching.

Three things the predictor's public API does not offer and the batched Detail system needs:

- **Frames from memory.** ``init_state`` reads an mp4 or a JPEG folder. Writing the clip as JPEGs costs time and
  alters the pixels (lossy), so :func:`memory_state` builds the same state dictionary from a uint8 tensor, resizing
  with PIL exactly as SAM2's JPEG loader does.
- **One image encoding per frame.** The predictor caches the features of the last frame it encoded only; with many
  objects prompted on different frames it re-encodes the same frames while adding prompts and consolidating them.
  :func:`cache_features` encodes each clip frame once, up front, with the predictor's own ``forward_image``.
- **A start frame per object.** ``propagate_in_video`` starts every object of a state at one frame. Rollouts
  batched into one state each keep their own start (frame 0 by default, as the authors' SAM2 server; the first
  frame they prompted with ``SAM2Segmenter(start="first_prompt")``), so :func:`propagate` runs the
  predictor's per-object step (``_run_single_frame_inference``, batch size 1, exactly as ``propagate_in_video``
  does) and skips an object on frames before its start. Objects never interact in the video predictor (no
  non-overlap constraint), so an object's masks do not depend on which other objects share its state.

The tests compare the result with one ``init_state`` + ``propagate_in_video`` per rollout, so a sam2 release
that changes these internals fails loudly instead of drifting.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

_IMG_MEAN = (0.485, 0.456, 0.406)
_IMG_STD = (0.229, 0.224, 0.225)


def resize_frames(frames: Tensor, image_size: int) -> Tensor:
    """``(n, 3, S, S)`` float32 in ``[0, 1]``: PIL's default resize of each frame, as SAM2's JPEG loader does."""
    out = torch.empty(frames.shape[0], 3, image_size, image_size, dtype=torch.float32)
    for index, frame in enumerate(frames.cpu()):
        image = Image.fromarray(frame.permute(1, 2, 0).numpy()).resize((image_size, image_size))
        out[index] = torch.from_numpy(np.asarray(image) / 255.0).permute(2, 0, 1)
    return out


def memory_state(predictor: Any, frames: Tensor) -> dict:
    """The inference state ``predictor.init_state(video_path)`` would build, from ``(n, 3, H, W)`` uint8 frames.

    Keys and meanings follow ``SAM2VideoPredictor.init_state`` of sam2 1.1.0 with video and state on the model's
    device; no frame is encoded yet.
    """
    device = predictor.device
    mean = torch.tensor(_IMG_MEAN, dtype=torch.float32, device=device)[:, None, None]
    std = torch.tensor(_IMG_STD, dtype=torch.float32, device=device)[:, None, None]
    images = (resize_frames(frames, predictor.image_size).to(device) - mean) / std
    return {
        "images": images,
        "num_frames": frames.shape[0],
        "offload_video_to_cpu": False,
        "offload_state_to_cpu": False,
        "video_height": frames.shape[2],
        "video_width": frames.shape[3],
        "device": device,
        "storage_device": device,
        "point_inputs_per_obj": {},
        "mask_inputs_per_obj": {},
        "cached_features": {},
        "constants": {},
        "obj_id_to_idx": OrderedDict(),
        "obj_idx_to_id": OrderedDict(),
        "obj_ids": [],
        "output_dict_per_obj": {},
        "temp_output_dict_per_obj": {},
        "frames_tracked_per_obj": {},
    }


def cache_features(predictor: Any, state: dict, frame_indices: Iterable[int]) -> None:
    """Encode each listed frame once and keep all of them in the state's feature cache.

    The values are what ``_get_image_feature`` computes on a cache miss (``forward_image`` of one frame), so
    every later lookup of these frames is a hit and the masks are unchanged. The predictor replaces the cache
    with a single entry on its next miss, so list every frame the state will visit.
    """
    cache = {}
    for index in frame_indices:
        image = state["images"][index].to(state["device"]).float().unsqueeze(0)
        cache[index] = (image, predictor.forward_image(image))
    state["cached_features"] = cache


def propagate(
    predictor: Any, state: dict, starts: Sequence[int], reverse: bool = False
) -> Iterator[tuple[int, Tensor, Tensor]]:
    """Track every object of ``state`` from its own start frame, one direction.

    Forward, object ``i`` is tracked on frames ``starts[i] .. n-1``; in reverse, on ``starts[i] .. 0`` (and not at
    all when ``starts[i] == 0``), as ``propagate_in_video(start_frame_idx=starts[i], reverse=reverse)`` would in a
    state of its own. Run it under ``torch.inference_mode()`` (and, on CPU, bfloat16 autocast).

    Args:
        predictor: the video predictor that owns ``state``.
        state: an inference state whose objects all received their prompts.
        starts: start frame per object index (the order of ``state["obj_ids"]``).
        reverse: track backwards in time.

    Yields:
        ``(frame, object indices, (k, 1, H, W) mask logits at the original resolution)`` per visited frame.

    Raises:
        ValueError: ``starts`` does not give one frame per object, or the predictor clears memory around inputs
            (``clear_non_cond_mem_around_input``), which this loop does not reproduce.
    """
    predictor.propagate_in_video_preflight(state)
    num_objects, num_frames = len(state["obj_ids"]), state["num_frames"]
    if len(starts) != num_objects:
        raise ValueError(f"propagate: {len(starts)} start frames for {num_objects} objects")
    if predictor.clear_non_cond_mem_around_input:
        raise ValueError("propagate: clear_non_cond_mem_around_input=True is not supported")
    if not num_objects:
        return
    if reverse:
        order = range(max(starts), -1, -1)
    else:
        order = range(min(starts), num_frames)
    for frame in order:
        active = [i for i, start in enumerate(starts) if (0 < start and frame <= start if reverse else frame >= start)]
        if not active:
            continue
        logits = []
        for obj_idx in active:
            output_dict = state["output_dict_per_obj"][obj_idx]
            if frame in output_dict["cond_frame_outputs"]:
                logits.append(output_dict["cond_frame_outputs"][frame]["pred_masks"].to(state["device"]))
            else:
                out, masks = predictor._run_single_frame_inference(
                    inference_state=state,
                    output_dict=output_dict,
                    frame_idx=frame,
                    batch_size=1,
                    is_init_cond_frame=False,
                    point_inputs=None,
                    mask_inputs=None,
                    reverse=reverse,
                    run_mem_encoder=True,
                )
                output_dict["non_cond_frame_outputs"][frame] = out
                logits.append(masks)
            state["frames_tracked_per_obj"][obj_idx][frame] = {"reverse": reverse}
        _, video_res = predictor._get_orig_video_res_output(state, torch.cat(logits, dim=0))
        yield frame, torch.tensor(active), video_res
