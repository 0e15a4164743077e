"""The sample record every DataModule yields and every system consumes.

One record is one prompt: a clip, its query and its ground truth. Shapes vary from prompt to prompt (frame
count, resolution, object count), so batches are lists of records, never stacked tensors; Lightning moves the
tensors inside the dataclass to the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, overload

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


@dataclass
class ProcessedBatch:
    """A batch of prompts together with the model inputs the data pipeline prepared for them.

    It reads as the list of its records (``len``, indexing, iteration), so code that takes a batch of records
    takes it unchanged; the module that trains on it reads ``inputs`` instead of running the processor itself.
    A dataclass, not a list subclass, so that Lightning's batch transfer moves ``inputs`` to the device too.

    Attributes:
        samples: the records, in batch order.
        inputs: the processor's tensors for them (left-padded token ids, pixel values, audio features, grids).
        responses: the answers appended to the prompts for teacher forcing (SFT), or ``None``.
    """

    samples: list[VideoSample]
    inputs: dict[str, Any]
    responses: list[str] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[VideoSample]:
        return iter(self.samples)

    @overload
    def __getitem__(self, index: int) -> VideoSample: ...
    @overload
    def __getitem__(self, index: slice) -> list[VideoSample]: ...
    def __getitem__(self, index: int | slice) -> VideoSample | list[VideoSample]:
        return self.samples[index]


Preprocessor = Callable[[list[VideoSample]], ProcessedBatch]


class SampleCollator:
    """The ``collate_fn`` of every DataModule loader: the list of prompts, or with a preprocessor its output.

    A training module hands its policy's preprocessor over in ``setup`` (``DataModule.set_preprocessor``), so
    prompts are tokenised and their media resized and featurised in the loader's workers, not in the training
    step (where the trainer's autocast would run the processor in half precision). The collator is one object
    shared by the loaders a DataModule makes, so a preprocessor set after a loader was built still applies.

    Args:
        preprocess: records → :class:`ProcessedBatch`; ``None`` keeps batches as lists of records.
    """

    def __init__(self, preprocess: Preprocessor | None = None) -> None:
        self.preprocess = preprocess

    def __call__(self, samples: list[VideoSample]) -> list[VideoSample] | ProcessedBatch:
        samples = list(samples)
        return samples if self.preprocess is None else self.preprocess(samples)
