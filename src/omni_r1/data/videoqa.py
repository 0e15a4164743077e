"""Multiple-choice video / audio QA (OmniBench, Video-MME, MVBench...) from one documented JSONL format.

Each line of ``<root>/<annotations>.jsonl`` is one question::

    {"id": "vmme-001-1",                       # unique id (string or integer)
     "question": "What is the man holding?",
     "options": ["A. a cup", "B. a phone"],    # 2-26 answers, with or without their letter
     "answer": "B",                            # a letter ("B", "(B)", "B."), a 0-based index, or an option's text
     "video": "videos/001.mp4",                # optional: a video file, or a folder of frame images
     "video_fps": 3.0,                         # optional: frame rate of a frame folder (default 2.0)
     "image": "images/001.jpg",                # optional: a single image (OmniBench)
     "audio": "audio/001.wav",                 # optional: an audio file, or "video" for the video's own track
     "category": "Action Recognition"}         # optional: sub-task for per-category accuracy

Paths are relative to ``root`` (absolute paths are taken as they are); a question needs at least one of ``video``,
``image``, ``audio``. Conversions from the benchmarks' releases to this format are one-off scripts: Video-MME's
parquet rows map to ``video`` + ``audio: "video"``, MVBench's json per task to ``video`` (mp4 or frame folder) +
``category``, OmniBench's rows to ``image`` + ``audio``.

S1 sees a video at 2 fps, at most ``max_frames`` frames (linspace-thinned beyond; see :mod:`omni_r1.data.video`),
and audio as 16 kHz mono. :class:`QADataset` holds the reading and checking shared with AVHBench.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from omni_r1.data.datamodule import SplitDataModule, shared_arguments
from omni_r1.data.frame_sampling import sample_s1_indices, validate_frame_range
from omni_r1.data.integrity import (
    CheckLevel,
    FileKind,
    Report,
    Requirement,
    check_requirements,
    found,
    valid_indices,
)
from omni_r1.data.io import read_audio, read_frames
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.data.qa_entries import QAEntry, load_jsonl
from omni_r1.data.records import QASample, empty_indices
from omni_r1.data.video import clip_times, grid_times, probe_video, read_video_frames
from omni_r1.validation import init_arguments, require_number, require_str

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SAMPLE_RATE = 16000
LAYOUT = """\
<root>/
├── <annotations>.jsonl   one question per line: {"id", "question", "options": [..], "answer": letter | index |
│                          text, "video"?, "video_fps"?, "image"?, "audio"? (path or "video"), "category"?}
└── <media paths named in the lines, relative to root>"""


def _frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def validate_audio_cap(args: Mapping[str, Any]) -> None:
    """``max_audio_seconds`` is positive (a cap of 0 s would hand S1 an empty waveform) or ``None``."""
    require_number("max_audio_seconds", args.get("max_audio_seconds"), minimum=0, exclusive_minimum=True, optional=True)


class QADataset(Dataset[QASample]):
    """Questions with their media, read as :class:`QASample` records; subclasses load the entries.

    Args:
        entries: the questions.
        root: dataset root (for reports).
        split: split name (for reports).
        dataset_name: value of ``QASample.dataset``.
        train: draw a random S1 clip length per access (see :mod:`omni_r1.data.frame_sampling`) or take the fixed one.
        min_frames: lower bound of the training clip length draw.
        max_frames: upper bound of the training draw and evaluation cap of S1 frames.
        seed: seed of the training clip draws.
        max_audio_seconds: keep at most this many seconds of audio (``None``: all of it).
        skip_invalid: drop the questions whose media are missing or unreadable (and log how many).
        check_level: how thoroughly media are checked on construction, or ``None`` to skip the check.
    """

    name = "VideoQA"
    task = "qa"
    layout = LAYOUT

    def __init__(
        self,
        entries: list[QAEntry],
        root: str | Path,
        split: str,
        dataset_name: str,
        *,
        train: bool = False,
        min_frames: int = 16,
        max_frames: int = 24,
        seed: int = 0,
        max_audio_seconds: float | None = None,
        skip_invalid: bool = False,
        check_level: CheckLevel | None = "exists",
    ) -> None:
        self.entries = entries
        self.root = Path(root)
        self.split, self.dataset_name = split, dataset_name
        self.train, self.min_frames, self.max_frames, self.seed, self.epoch = train, min_frames, max_frames, seed, 0
        self.max_audio_seconds = max_audio_seconds
        self.report: Report | None = None
        if check_level is not None:
            self.report = self.check(check_level)
            self.entries = [self.entries[i] for i in valid_indices(self.report, skip_invalid, self.layout)]

    def _requirements(self, entry: QAEntry) -> list[Requirement]:
        required: list[Requirement] = []
        if entry.video is not None:
            if entry.video.is_dir():
                frames = _frame_files(entry.video)
                required += [Requirement(p, "image") for p in frames] or [Requirement(entry.video / "*.jpg", "image")]
            else:
                required.append(Requirement(entry.video, "video"))
        if entry.image is not None:
            required.append(Requirement(entry.image, "image"))
        if entry.audio is not None:
            required.append(Requirement(entry.audio, "audio"))
        return required

    def check(self, level: CheckLevel, workers: int = 8) -> Report:
        """Check every question's media at ``level``; never raises for a broken file."""
        groups = [self._requirements(entry) for entry in self.entries]
        outcome, bad = check_requirements(groups, level, workers)
        kinds: dict[FileKind, int] = {k: sum(r.kind == k for r in outcome) for k in ("video", "image", "audio")}
        counts: dict[str, int | str] = {"questions": len(self.entries)}
        categories = sorted({e.category for e in self.entries if e.category})
        counts.update({f"  {c}": sum(e.category == c for e in self.entries) for c in categories})
        counts.update({f"{kind} files": found(outcome, kind, None, n) for kind, n in kinds.items() if n})
        problems = [p for p in outcome.values() if p is not None]
        return Report(self.name, self.split, self.root, len(self.entries), counts, problems, bad)

    def set_epoch(self, epoch: int) -> None:
        """Draw new training clips for a new epoch (like ``DistributedSampler.set_epoch``)."""
        self.epoch = epoch

    def _generator(self, index: int) -> torch.Generator | None:
        if not self.train:
            return None
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0]
        return torch.Generator().manual_seed(int(state))

    def _video(self, entry: QAEntry, index: int) -> tuple[torch.Tensor, float]:
        """S1 frames of the entry's video and the rate at which they cover it."""
        assert entry.video is not None
        sampling = {"train": self.train, "min_frames": self.min_frames, "max_frames": self.max_frames}
        if entry.video.is_dir():
            files = _frame_files(entry.video)
            if not files:
                raise DatasetFormatError(entry.video, f"frame folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            grid = grid_times(len(files) / entry.video_fps)
            picked = sample_s1_indices(len(grid), generator=self._generator(index), **sampling).tolist()
            frames = read_frames([files[min(round(grid[i] * entry.video_fps), len(files) - 1)] for i in picked])
        else:
            duration = probe_video(entry.video).duration
            grid = grid_times(duration)
            times = clip_times(duration, generator=self._generator(index), **sampling)
            frames = read_video_frames(entry.video, times)
        return frames, 2.0 * min(1.0, frames.shape[0] / len(grid))  # the frame cap thins long videos out

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> QASample:
        entry = self.entries[index]
        frames: torch.Tensor | None = None
        fps = 2.0
        if entry.video is not None:
            frames, fps = self._video(entry, index)
        elif entry.image is not None:
            frames, fps = read_frames([entry.image]), 1.0
        audio = None
        if entry.audio is not None:
            audio = read_audio(entry.audio, SAMPLE_RATE)
            if self.max_audio_seconds is not None:
                audio = audio[: math.ceil(self.max_audio_seconds * SAMPLE_RATE)]
        return QASample(
            dataset=self.dataset_name,
            task=self.task,
            sample_id=entry.sample_id,
            video_id=(entry.video or entry.image or entry.audio or Path("")).stem,
            question=entry.question,
            options=list(entry.options),
            answer_index=entry.answer_index,
            category=entry.category,
            frames=frames,
            s1_indices=torch.arange(frames.shape[0]) if frames is not None else empty_indices(),
            audio=audio,
            sample_rate=SAMPLE_RATE,
            fps=fps,
        )


class VideoQADataset(QADataset):
    """The questions of one JSONL file in the format of the module docstring.

    Args:
        root: dataset root; media paths are relative to it.
        annotations: the JSONL file, relative to ``root``.
        dataset_name: value of ``QASample.dataset`` (``"videomme"``, ``"mvbench"``, ``"omnibench"``...).
        **kwargs: the keyword arguments of :class:`QADataset`.

    Raises:
        DatasetLayoutError: the root or the JSONL file is missing (or, when checked, a media file).
        DatasetFormatError: a line breaks the format.
    """

    def __init__(
        self, root: str | Path, annotations: str = "test.jsonl", dataset_name: str = "videoqa", **kwargs: Any
    ) -> None:
        root = Path(root)
        path = root / annotations
        require_paths(self.name, root, [path], LAYOUT)
        super().__init__(load_jsonl(root, path), root, Path(annotations).stem, dataset_name, **kwargs)


class VideoQADataModule(SplitDataModule):
    """Multiple-choice QA sets in the JSONL format, as lists of :class:`~omni_r1.data.records.QASample`.

    Args:
        root: dataset root.
        test_annotations: JSONL file of the evaluation questions (served for ``validate``, ``test``, ``predict``).
        train_annotations: JSONL file of training questions, or ``None`` (evaluation-only sets).
        dataset_name: value of ``QASample.dataset``.
        batch_size: questions per batch.
        num_workers: dataloader worker processes.
        max_frames: at most this many S1 frames per video (2 fps below it).
        min_frames: lower bound of the training clip length draw.
        max_audio_seconds: keep at most this many seconds of audio (``None``: all).
        seed: seed of the training clip draws and shuffle order.
        skip_invalid: skip questions whose media are missing or unreadable (logging how many).
        check_level: media check run in ``setup()`` (``"exists"``, ``"open"``, ``"decode"``).
    """

    def __init__(
        self,
        root: str,
        test_annotations: str = "test.jsonl",
        train_annotations: str | None = None,
        dataset_name: str = "videoqa",
        batch_size: int = 1,
        num_workers: int = 0,
        max_frames: int = 24,
        min_frames: int = 16,
        max_audio_seconds: float | None = None,
        seed: int = 0,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        VideoQADataModule.validate_init_args(args)
        super().__init__(**shared_arguments(args))
        self.files = {"train": train_annotations, "val": test_annotations, "test": test_annotations}
        self.dataset_name = dataset_name
        self.options: dict[str, Any] = {
            "min_frames": min_frames,
            "max_frames": max_frames,
            "seed": seed,
            "max_audio_seconds": max_audio_seconds,
        }

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for an empty file or dataset name, a frame range (the
        lower bound only matters with training questions), an audio cap, or a loader or check setting."""
        super().validate_init_args(args)
        require_str("test_annotations", args.get("test_annotations"), note="a JSONL file relative to root")
        require_str("train_annotations", args.get("train_annotations"), optional=True)
        require_str("dataset_name", args.get("dataset_name"))
        validate_frame_range(args, train=args.get("train_annotations") is not None)
        validate_audio_cap(args)

    def setup(self, stage: str | None = None) -> None:
        parts = ("train", "val") if stage == "fit" and self.files["train"] else ("test",)
        for part in parts:
            self.dataset(part)

    def dataset(self, part: str) -> Dataset[Any]:
        if part == "val":
            part = "test"  # one evaluation set, built once
        return super().dataset(part)

    def build(self, part: str) -> VideoQADataset:
        annotations = self.files[part]
        if annotations is None:
            raise ValueError(f"{type(self).__name__}: no {part} annotations configured (set train_annotations)")
        train = part == "train"
        return VideoQADataset(self.root, annotations, self.dataset_name, train=train, **self.options, **self.checks)
