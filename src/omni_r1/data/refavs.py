"""RefAVS (Ref-AVS Bench) in its official layout: one prompt per ``metadata.csv`` row.

S1 hears the full 10 s of audio and sees only the first frame (the paper's RefAVS setting), so ``s1_indices`` is
``[0]`` and ``fps`` is 1; S2 and the metrics get all 10 frames and their masks.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import Dataset

from omni_r1.data.datamodule import SplitDataModule, shared_arguments, split_arguments
from omni_r1.data.integrity import CheckLevel, Report, Requirement, check_requirements, found, valid_indices
from omni_r1.data.io import read_audio, read_frames, read_mask_png
from omni_r1.data.layout import DatasetFormatError, require_paths
from omni_r1.data.synthetic import ensure_synthetic
from omni_r1.data.types import VideoSample
from omni_r1.validation import init_arguments, require_bool

COLUMNS = ("vid", "uid", "split", "fid", "exp")
SPLITS = ("train", "val", "test_s", "test_u", "test_n")  # the csv's split values (seen, unseen, null test sets)
RefAVSSplit = Literal[SPLITS]
NUM_FRAMES = 10
SAMPLE_RATE = 16000
LAYOUT = """\
<root>/
├── metadata.csv                      columns: vid,uid,split,fid,exp
├── media/<vid>/frames/{0..9}.jpg     10 frames at 1 fps
├── media/<vid>/audio.wav             10 s of audio
└── gt_mask/<vid>/fid_<fid>/0000{0..9}.png   non-zero = object
(<vid> folder = uid.rsplit('_', 2)[0], or the vid column for null rows)"""


def read_metadata(root: str | Path, split: str) -> list[dict[str, str]]:
    """Rows of ``metadata.csv`` whose ``split`` column equals ``split``.

    Raises:
        DatasetLayoutError: the root or ``metadata.csv`` is missing.
        DatasetFormatError: a column is missing, or the split has no rows.
    """
    path = Path(root) / "metadata.csv"
    require_paths("RefAVS", root, [path], LAYOUT)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        absent = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise DatasetFormatError(path, f"missing column(s) {absent}; expected columns {list(COLUMNS)}")
        rows = list(reader)
    chosen = [row for row in rows if row["split"] == split]
    if not chosen:
        found = sorted({row["split"] for row in rows})
        raise DatasetFormatError(path, f"no rows with split '{split}'; splits present: {found}")
    return chosen


def video_folder(root: Path, row: dict[str, str]) -> str:
    """Media folder of a row: the official ``uid.rsplit('_', 2)[0]``, else the ``vid`` column (null-split uids)."""
    folder = row["uid"].rsplit("_", 2)[0]
    return folder if (root / "media" / folder).is_dir() else row["vid"]


class RefAVSDataset(Dataset[VideoSample]):
    """The rows of one RefAVS split, checked against the layout on construction.

    Args:
        root: dataset root (holds ``metadata.csv``, ``media/``, ``gt_mask/``).
        split: value of the csv ``split`` column (``train``, ``val``, ``test_s``, ``test_u``, ``test_n``).
        skip_invalid: drop the rows that need a missing or unreadable file (and log how many) instead of stopping.
        check_level: how thoroughly files are checked on construction (``"exists"``, ``"open"``, ``"decode"``; see
            :mod:`omni_r1.data.integrity`), or ``None`` to skip the check (the checker then calls :meth:`check`).

    Raises:
        DatasetLayoutError: a folder, frame, mask or wav a row needs is missing (all of them are listed).
        DatasetFormatError: a file is unreadable (at the ``open`` / ``decode`` levels).
    """

    name = "RefAVS"
    task = "avs"

    def __init__(
        self,
        root: str | Path,
        split: str,
        *,
        skip_invalid: bool = False,
        check_level: CheckLevel | None = "exists",
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.rows = read_metadata(self.root, split)
        self.folders = [video_folder(self.root, row) for row in self.rows]
        self.report: Report | None = None
        if check_level is not None:
            self.report = self.check(check_level)
            kept = valid_indices(self.report, skip_invalid, LAYOUT)
            self.rows, self.folders = [self.rows[i] for i in kept], [self.folders[i] for i in kept]
        for row in self.rows:
            if not row["fid"].lstrip("-").isdigit():
                raise DatasetFormatError(
                    self.root / "metadata.csv", f"uid {row['uid']}: fid {row['fid']!r} is not an integer"
                )

    def check(self, level: CheckLevel, workers: int = 8) -> Report:
        """Check every file the rows need at ``level``; never raises for a broken file (see :class:`Report`)."""
        groups = [self._required(i) for i in range(len(self.rows))]
        outcome, bad = check_requirements(groups, level, workers)
        videos = set(self.folders)
        masks = {(folder, row["fid"]) for folder, row in zip(self.folders, self.rows)}
        media, gt_mask = self.root / "media", self.root / "gt_mask"
        counts: dict[str, int | str] = {
            "rows (expressions)": len(self.rows),
            "videos": len(videos),
            "frames": found(outcome, "image", media, len(videos) * NUM_FRAMES),
            "audio files": found(outcome, "audio", media, len(videos)),
            "masks": found(outcome, "image", gt_mask, len(masks) * NUM_FRAMES),
        }
        problems = [p for p in outcome.values() if p is not None]
        return Report(self.name, self.split, self.root, len(self.rows), counts, problems, bad)

    def _frame_paths(self, index: int) -> list[Path]:
        return [self.root / "media" / self.folders[index] / "frames" / f"{t}.jpg" for t in range(NUM_FRAMES)]

    def _mask_paths(self, index: int) -> list[Path]:
        mask_dir = self.root / "gt_mask" / self.folders[index] / f"fid_{self.rows[index]['fid']}"
        return [mask_dir / f"{t:05d}.png" for t in range(NUM_FRAMES)]

    def _audio_path(self, index: int) -> Path:
        return self.root / "media" / self.folders[index] / "audio.wav"

    def _required(self, index: int) -> list[Requirement]:
        """Files of a row, or just its folder when the folder itself is missing (one line instead of ten)."""
        media, masks = self._audio_path(index).parent, self._mask_paths(index)
        if media.is_dir():
            required = [Requirement(p, "image") for p in self._frame_paths(index)]
            required.append(Requirement(self._audio_path(index), "audio"))
        else:
            required = [Requirement(media, "dir")]
        if masks[0].parent.is_dir():
            return required + [Requirement(p, "image") for p in masks]
        return required + [Requirement(masks[0].parent, "dir")]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> VideoSample:
        row = self.rows[index]
        frames = read_frames(self._frame_paths(index))  # (10, 3, H, W)
        masks = torch.stack([read_mask_png(p) for p in self._mask_paths(index)])  # (10, H, W)
        if masks.shape[-2:] != frames.shape[-2:]:
            raise DatasetFormatError(
                self._mask_paths(index)[0].parent,
                f"mask size {tuple(masks.shape[-2:])} differs from the frame size {tuple(frames.shape[-2:])}",
            )
        return VideoSample(
            dataset="refavs",
            task="avs",
            video_id=self.folders[index],
            exp_id=row["uid"],
            expression=row["exp"],
            expression_type=0,
            frames=frames,
            frame_names=[str(t) for t in range(NUM_FRAMES)],
            s1_indices=torch.tensor([0]),
            masks=masks.unsqueeze(0),  # (1, 10, H, W)
            obj_ids=[int(row["fid"])],
            audio=read_audio(self._audio_path(index), SAMPLE_RATE),
            sample_rate=SAMPLE_RATE,
            fps=1.0,
        )


class RefAVSDataModule(SplitDataModule):
    """RefAVS splits as lists of :class:`VideoSample`.

    Args:
        root: dataset root in the official layout.
        train_split: csv split used for training.
        val_split: csv split used for validation.
        test_split: csv split used for testing (``test_s`` seen, ``test_u`` unseen, ``test_n`` null).
        batch_size: prompts per batch (each prompt is then rolled out into a group).
        num_workers: dataloader worker processes.
        synthetic: write a small synthetic root at ``root`` in ``prepare_data`` when it has no data (demo path).
        seed: seed of the synthetic data and of the training shuffle order.
        skip_invalid: skip rows whose files are missing or unreadable (logging how many) instead of stopping.
        check_level: file check run in ``setup()``: ``"exists"``, ``"open"`` (headers and end markers) or
            ``"decode"`` (full decode; slow on the full dataset). The checker CLI runs the same checks.
    """

    split_names = SPLITS
    unstaged_parts = ("train", "val", "test")

    def __init__(
        self,
        root: str,
        train_split: RefAVSSplit = "train",
        val_split: RefAVSSplit = "val",
        test_split: RefAVSSplit = "test_s",
        batch_size: int = 1,
        num_workers: int = 0,
        synthetic: bool = False,
        seed: int = 0,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        args = init_arguments(locals())
        RefAVSDataModule.validate_init_args(args)
        super().__init__(splits=split_arguments(args), **shared_arguments(args))
        self.synthetic = synthetic

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a split RefAVS does not have, or a loader or check
        setting out of range (otherwise found in ``setup()``, or at the first batch)."""
        super().validate_init_args(args)
        require_bool("synthetic", args.get("synthetic"))

    def prepare_data(self) -> None:
        if self.synthetic:
            ensure_synthetic("refavs", self.root, seed=self.seed)

    def build(self, part: str) -> RefAVSDataset:
        return RefAVSDataset(self.root, self.splits[part], **self.checks)
