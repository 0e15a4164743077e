"""``python -m omni_r1.data.check --dataset revos --root /data/ReVOS [--split valid] [--level open]``

Checks a dataset copy before a long run: per split it prints the number of videos / images, expressions (per type
for ReVOS), frames and masks found, then every missing or unreadable file (JPEG, PNG, WAV, MP4) and every invalid
annotation entry (an RLE of the wrong size, a short mask list) with its path. Exit code 0 when everything is
there and readable, 1 otherwise. A check that takes a while shows its progress, with an ETA, on stderr.

It runs the very checks the DataModules run in ``setup()`` (:mod:`omni_r1.data.integrity`), by default at the
``decode`` level (every file decoded in full; DataModules default to ``open``: headers, end markers and every RLE's
size and run lengths). The levels are nested (``exists`` < ``open`` < ``decode``): a file a level reports is
reported by every level above it, so a root that passes ``decode`` also passes a DataModule's ``setup()``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omni_r1.command_line import configure_logging
from omni_r1.data.integrity import CHECK_LEVELS, CheckLevel, Report
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError

Builder = Callable[[Path, str, dict[str, Any]], Any]


def _refavs(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.refavs import RefAVSDataset

    return RefAVSDataset(root, split, check_level=None)


def _revos(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.revos import ReVOSDataset, load_mask_dict

    if "mask_dict" not in cache:  # large and shared by both splits: parse it once
        cache["mask_dict"] = load_mask_dict(root)
    return ReVOSDataset(root, split, train=False, mask_dict=cache["mask_dict"], check_level=None)


def _mevis(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.mevis import MeViSDataset

    return MeViSDataset(root, split, train=False, check_level=None)


def _refcocog(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.refcocog import RefCOCOgDataset

    return RefCOCOgDataset(root, split, train=False, check_level=None)


def _avhbench(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.avhbench import AVHBenchDataset

    return AVHBenchDataset(root, check_level=None)


def _videoqa(root: Path, split: str, cache: dict[str, Any]) -> Any:
    from omni_r1.data.videoqa import VideoQADataset

    return VideoQADataset(root, f"{split}.jsonl", check_level=None)


DATASETS: dict[str, tuple[tuple[str, ...], Builder]] = {
    "refavs": (("train", "val", "test_s", "test_u", "test_n"), _refavs),
    "revos": (("train", "valid"), _revos),
    "mevis": (("train", "valid_u", "valid"), _mevis),
    "refcocog": (("train", "val", "test"), _refcocog),
    "avhbench": (("judge",), _avhbench),
    "videoqa": (("test",), _videoqa),
}


def check_split(
    dataset: str,
    root: str | Path,
    split: str,
    level: CheckLevel = "decode",
    workers: int = 8,
    cache: dict[str, Any] | None = None,
) -> Report:
    """Check one split of a dataset root.

    Args:
        dataset: a key of :data:`DATASETS`.
        root: dataset root.
        split: split name.
        level: check level (see :mod:`omni_r1.data.integrity`).
        workers: threads reading files.
        cache: shared between the calls of one run (ReVOS parses its large ``mask_dict.json`` once).

    Raises:
        DatasetLayoutError: the split's annotation files are missing (nothing else can be checked).
        DatasetFormatError: the split's annotation files are malformed.
    """
    return DATASETS[dataset][1](Path(root), split, {} if cache is None else cache).check(level, workers)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m omni_r1.data.check",
        description="Check a dataset root: counts per split, then every missing or unreadable file.",
    )
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="dataset layout to check")
    parser.add_argument("--root", required=True, help="dataset root folder")
    parser.add_argument(
        "--split", action="append", help="split to check (repeatable); default: every split of the dataset"
    )
    parser.add_argument(
        "--level",
        choices=CHECK_LEVELS,
        default="decode",
        help="exists: files present; open: also headers, end markers and RLE run lengths (what DataModules run); "
        "decode: also a full decode of every file",
    )
    parser.add_argument("--workers", type=int, default=8, help="threads reading files")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the checker; returns the exit code (0 complete, 1 anything missing, unreadable or invalid)."""
    configure_logging()  # the file checks' progress, on stderr
    args = _parser().parse_args(argv)
    splits = args.split or list(DATASETS[args.dataset][0])
    complete = True
    cache: dict[str, Any] = {}
    for split in splits:
        try:
            report = check_split(args.dataset, args.root, split, args.level, args.workers, cache)
            lines = report.lines()
            complete &= report.ok
        except (DatasetLayoutError, DatasetFormatError) as err:
            lines = [f"{args.dataset}  split={split}  root={args.root}", "  cannot read the split's annotations:"]
            lines.append(textwrap.indent(str(err), "    "))
            complete = False
        print("\n".join(lines), flush=True)
    print("result: complete" if complete else "result: INCOMPLETE (see the problems listed above)")
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
