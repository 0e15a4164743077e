"""The sample record every DataModule yields and every system consumes.

One record is one prompt: a clip, its query and its ground truth. Shapes vary from prompt to prompt (frame
count, resolution, object count), so batches are lists of records, never stacked tensors; Lightning moves the
tensors inside the dataclass to the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class VideoSample:
    """One referring / reasoning segmentation prompt over a clip.

    Args:
        dataset: source dataset name (``"refavs"``, ``"revos"``, ...).
        task: task family used to keep batches homogeneous (``"avs"`` or ``"vos"``).
        video_id: folder name of the video in the dataset layout.
        exp_id: expression id inside the video (RefAVS: the csv ``uid``).
        expression: the user's referring or reasoning query.
        expression_type: 0 referring, 1 reasoning (ReVOS ``type_id``); RefAVS uses 0.
        frames: ``(T, 3, H, W)`` uint8 frames of the clip at original resolution (S2 and metrics input).
        frame_names: file stem of each of the ``T`` frames, for writing predictions in the official layout.
        s1_indices: ``(n,)`` indices into ``frames`` shown to the Global system as a 2-fps clip.
        masks: ``(O, T, H, W)`` bool ground-truth masks per target object (an object may be absent in frames).
        obj_ids: the ``O`` object / annotation ids, in the order of ``masks``.
        audio: ``(L,)`` float32 mono waveform at ``sample_rate``, or ``None`` for silent datasets.
        sample_rate: audio sample rate in Hz.
        fps: frame rate the S1 clip is presented at (timestamps map to ``s1_indices`` through it).
    """

    dataset: str
    task: str
    video_id: str
    exp_id: str
    expression: str
    expression_type: int
    frames: Tensor
    frame_names: list[str]
    s1_indices: Tensor
    masks: Tensor
    obj_ids: list[int] = field(default_factory=list)
    audio: Tensor | None = None
    sample_rate: int = 16000
    fps: float = 2.0

    @property
    def duration(self) -> float:
        """Length in seconds of the clip the Global system sees."""
        return len(self.s1_indices) / self.fps

    @property
    def union_masks(self) -> Tensor:
        """``(T, H, W)`` union of all target objects per frame."""
        if self.masks.shape[0] == 0:
            return torch.zeros(self.frames.shape[0], *self.frames.shape[-2:], dtype=torch.bool)
        return self.masks.any(dim=0)


def collate_samples(samples: list[VideoSample]) -> list[VideoSample]:
    """Keep a batch as a list of prompts: clips differ in length and size, and groups never mix prompts."""
    return list(samples)
