"""AVHBench's judge subset (yes/no audio-visual hallucination questions) in its published layout.

Implemented format: the AVHBench v0 release (github.com/kaist-ami/AVHBench, README "Download the AVHBench
Dataset"), as published::

    <root>/
    ├── json/<video_id>.json      a list of {"video_id", "task", "text", "label"} records
    └── video/<video_id>.mp4      the clip with its audio track; <video_id>_swap.mp4 has another clip's audio

Required fields per record: ``video_id`` (names ``video/<video_id>.mp4``; swapped clips are named with their
``_swap`` suffix), ``task`` (``"Audio-driven Video Hallucination"``, ``"Video-driven Audio Hallucination"``,
``"AV Matching"`` or ``"AV Captioning"``), ``text`` (the question) and ``label`` (``"Yes"`` / ``"No"`` for the
judge tasks, a caption for ``AV Captioning``). Every ``*.json`` file under ``json/`` is read, so a merged file of
records works too. The judge subset is the three yes/no tasks; captioning is left out (it is scored with text
metrics, not accuracy). Each question becomes a :class:`~omni_r1.data.records.QASample` with options
``["yes", "no"]``, the clip's S1 frames at 2 fps (at most ``max_frames``) and its audio track at 16 kHz mono.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from omni_r1.data.datamodule import SplitDataModule, shared_arguments
from omni_r1.data.frame_sampling import validate_frame_range
from omni_r1.data.integrity import CheckLevel
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.data.qa_entries import QAEntry
from omni_r1.data.videoqa import QADataset, validate_audio_cap
from omni_r1.validation import init_arguments, require

JUDGE_TASKS = ("Audio-driven Video Hallucination", "Video-driven Audio Hallucination", "AV Matching")
ALL_TASKS = (*JUDGE_TASKS, "AV Captioning")
FIELDS = ("video_id", "task", "text", "label")
LAYOUT = """\
<root>/
├── json/<video_id>.json   [{"video_id", "task", "text", "label": "Yes" | "No" | caption}, ...]
└── video/<video_id>.mp4   video with its audio track (<video_id>_swap.mp4: audio swapped in from another video)"""


def _yes_no(label: Any, where: str) -> int:
    text = label.strip().rstrip(".").lower() if isinstance(label, str) else None
    if text not in ("yes", "no"):
        raise DatasetFormatError(where, f"judge label must be 'Yes' or 'No', got {label!r}")
    return 0 if text == "yes" else 1


def load_judge_entries(root: str | Path, tasks: tuple[str, ...] = JUDGE_TASKS) -> list[QAEntry]:
    """The judge questions of an AVHBench root, in file then record order.

    Args:
        root: dataset root.
        tasks: judge tasks to keep.

    Raises:
        DatasetLayoutError: the root, ``json/`` or ``video/`` is missing, or ``json/`` holds no ``*.json``.
        DatasetFormatError: a file is not a JSON list of records with the required fields, a task is unknown, or
            a judge label is not yes / no.
    """
    root = Path(root)
    unknown = [t for t in tasks if t not in JUDGE_TASKS]
    if unknown or not tasks:
        raise ValueError(f"AVHBench judge tasks must be a non-empty subset of {JUDGE_TASKS}, got {tasks}")
    require_paths("AVHBench", root, [root / "json", root / "video"], LAYOUT)
    files = sorted((root / "json").glob("*.json"))
    if not files:
        require_paths("AVHBench", root, [root / "json" / "<video_id>.json"], LAYOUT)
    entries: list[QAEntry] = []
    for path in files:
        try:
            records = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetFormatError(path, f"not valid JSON ({err})") from err
        if not isinstance(records, list):
            raise DatasetFormatError(path, "expected a JSON list of question records")
        for k, record in enumerate(records):
            where = f"{path}[{k}]"
            if not isinstance(record, dict) or any(f not in record for f in FIELDS):
                raise DatasetFormatError(where, f"expected a record with fields {list(FIELDS)}")
            if record["task"] not in ALL_TASKS:
                raise DatasetFormatError(where, f"unknown task {record['task']!r}; expected one of {ALL_TASKS}")
            if record["task"] not in tasks:
                continue
            video = root / "video" / f"{record['video_id']}.mp4"
            entries.append(
                QAEntry(
                    sample_id=f"{path.stem}/{k}",
                    question=str(record["text"]),
                    options=("yes", "no"),
                    answer_index=_yes_no(record["label"], where),
                    category=record["task"],
                    video=video,
                    audio=video,
                )
            )
    if not entries:
        raise DatasetFormatError(root / "json", f"no questions of the tasks {list(tasks)}")
    return entries


class AVHBenchDataset(QADataset):
    """AVHBench judge questions as :class:`~omni_r1.data.records.QASample` records.

    Args:
        root: dataset root in the v0 layout.
        tasks: judge tasks to keep (default: all three).
        **kwargs: the keyword arguments of :class:`~omni_r1.data.videoqa.QADataset` (frame cap, audio cap,
            ``skip_invalid``, ``check_level``...).
    """

    name = "AVHBench"
    layout = LAYOUT

    def __init__(self, root: str | Path, tasks: tuple[str, ...] = JUDGE_TASKS, **kwargs: Any) -> None:
        super().__init__(load_judge_entries(root, tuple(tasks)), root, "judge", "avhbench", **kwargs)


class AVHBenchDataModule(SplitDataModule):
    """The AVHBench judge set, served for ``validate``, ``test`` and ``predict`` (it has no training split).

    Args:
        root: dataset root in the v0 layout.
        tasks: judge tasks to keep (default: all three yes/no tasks).
        batch_size: questions per batch.
        num_workers: dataloader worker processes.
        max_frames: at most this many S1 frames per clip (2 fps below it).
        max_audio_seconds: keep at most this many seconds of audio (``None``: all).
        skip_invalid: skip questions whose video is missing or unreadable (logging how many).
        check_level: media check run in ``setup()`` (``"exists"``, ``"open"``, ``"decode"``).
    """

    def __init__(
        self,
        root: str,
        tasks: list[str] | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        max_frames: int = 24,
        max_audio_seconds: float | None = None,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        AVHBenchDataModule.validate_init_args(args)
        super().__init__(**shared_arguments(args))
        self.tasks = tuple(tasks) if tasks is not None else JUDGE_TASKS
        self.options: dict[str, Any] = {"max_frames": max_frames, "max_audio_seconds": max_audio_seconds}

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for tasks that are not judge tasks, a frame or audio cap,
        or a loader or check setting out of range."""
        super().validate_init_args(args)
        tasks = args.get("tasks")
        listed = isinstance(tasks, (list, tuple)) and bool(tasks) and len(set(tasks)) == len(tasks)
        ok = tasks is None or (listed and set(tasks) <= set(JUDGE_TASKS))
        require(ok, "tasks", tasks, f"must be distinct judge tasks among {', '.join(map(repr, JUDGE_TASKS))}, or null")
        validate_frame_range(args, train=False)  # evaluation only: no training draw
        validate_audio_cap(args)

    def setup(self, stage: str | None = None) -> None:
        self.dataset("test")

    def dataset(self, part: str) -> Dataset[Any]:
        if part == "train":
            raise ValueError("AVHBench is an evaluation benchmark: it has no training split")
        return super().dataset("test")

    def build(self, part: str) -> AVHBenchDataset:
        return AVHBenchDataset(self.root, self.tasks, **self.options, **self.checks)
