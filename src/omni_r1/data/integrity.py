"""Integrity checks of dataset files, shared by the ``omni_r1.data.check`` CLI and the DataModules' ``setup()``.

A multi-day run should not die on the 3,000th prompt because one frame of a download is cut short, so every
loader can check its files up front at one of three levels, cheapest first. The levels are nested: each runs every
check of the level below it, then more, so a file one level reports is reported by every higher level too.

- ``"exists"``: every required file and folder exists (one ``stat`` per file); RLE entries have the COCO shape
  and the frame's ``size`` where the size is known without opening a file.
- ``"open"``: also reads every file's header: an image must parse and a JPEG / PNG must end with its end marker (a
  truncated download lacks it; a file without one is then decoded in full to be sure), a WAV must announce samples
  the file really holds, a video must open with the streams it needs, and every RLE must have its frame's size and
  well-formed counts whose run lengths cover exactly ``height * width`` pixels (pycocotools decodes anything else
  into garbage or crashes, hours into a run). What the DataModules run in ``setup()``; the RLE counts are parsed
  vectorised, an object's frames at once, so this stays cheap next to reading the frames' headers.
- ``"decode"``: also decodes every image and audio track in full (videos at three timestamps); what the checker
  runs by default (``--level decode``).

Problems are collected into a :class:`Report` instead of raised one at a time, so one pass lists every missing or
unreadable file. A loader then either stops with the same message the checker prints
(:meth:`Report.raise_for_problems`) or, with ``skip_invalid``, drops the prompts that need a broken file and logs
how many (:func:`valid_indices`).
"""

from __future__ import annotations

import logging
import os
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from omni_r1.data.io import compressed_run_totals, read_audio
from omni_r1.data.layout import MAX_LISTED, DatasetFormatError, DatasetLayoutError
from omni_r1.progress import Progress

CheckLevel = Literal["exists", "open", "decode"]
CHECK_LEVELS: tuple[str, ...] = ("exists", "open", "decode")
FileKind = Literal["dir", "file", "image", "audio", "video"]
_JPEG_END = b"\xff\xd9"
_PNG_END = b"IEND\xaeB`\x82"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One missing, unreadable or invalid entry.

    Args:
        kind: ``"missing"`` (file or folder absent), ``"unreadable"`` (present but does not decode) or
            ``"invalid"`` (annotation content contradicts the layout: an RLE of the wrong size, a short mask list).
        where: the file path, or a ``file[key]...`` locator inside an annotation file.
        detail: what is wrong and what was expected.
    """

    kind: str
    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind:<10} {self.where}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Requirement:
    """A file or folder a prompt needs, with what it must hold (``kind`` picks the validator)."""

    path: Path
    kind: FileKind = "file"


@dataclass
class Report:
    """What a check of one split found.

    Args:
        dataset: display name (``"ReVOS"``).
        split: split name.
        root: dataset root.
        num_items: prompts in the split before any were skipped.
        counts: figures to print, in order (``"frames": "1210 / 1212"``: found / expected).
        problems: every problem, in discovery order.
        bad_items: indices of the prompts that need a file or entry with a problem.
    """

    dataset: str
    split: str
    root: Path
    num_items: int = 0
    counts: dict[str, int | str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    bad_items: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unreadable or invalid."""
        return not self.problems

    def lines(self) -> list[str]:
        """Human-readable summary: counts, then every problem (the checker prints these)."""
        out = [f"{self.dataset}  split={self.split}  root={self.root}"]
        out += [f"  {name:<28} {value}" for name, value in self.counts.items()]
        if self.ok:
            out.append("  complete: nothing missing or unreadable")
        else:
            affected = f"{len(self.bad_items)} of {self.num_items} prompt(s) affected"
            out.append(f"  {len(self.problems)} problem(s), {affected}:")
            out += [f"    {problem}" for problem in self.problems]
        return out

    def raise_for_problems(self, layout: str) -> None:
        """Raise the error a loader stops with; missing paths first, as they usually explain the rest.

        Raises:
            DatasetLayoutError: when anything is missing (every missing path is listed).
            DatasetFormatError: when files are unreadable or annotations invalid (the first is named, all counted).
        """
        missing = [Path(p.where) for p in self.problems if p.kind == "missing"]
        if missing:
            raise DatasetLayoutError(self.dataset, self.root, missing, layout)
        if self.problems:
            first = self.problems[0]
            rest = self.problems[1:]
            extra = ""
            if rest:
                listed = "\n".join(f"  - {p}" for p in rest[:MAX_LISTED])
                more = f"\n  ... and {len(rest) - MAX_LISTED} more" if len(rest) > MAX_LISTED else ""
                extra = f"\n{len(rest)} more problem(s):\n{listed}{more}"
            raise DatasetFormatError(first.where, f"{first.kind}: {first.detail}{extra}")


def found(outcome: dict[Requirement, Problem | None], kind: FileKind, under: Path | None, expected: int) -> str:
    """``"found / expected"``: how many ``kind`` requirements (below ``under``, if given) passed their check."""
    ok = sum(
        1
        for r, p in outcome.items()
        if p is None and r.kind == kind and (under is None or r.path.is_relative_to(under))
    )
    return f"{ok} / {expected}"


# ---------------------------------------------------------------------------------------------- file validators


def _tail(path: Path, size: int = 64) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - size))
        return handle.read()


def image_problem(path: Path, level: CheckLevel) -> str | None:
    """Why ``path`` is not a readable image, or ``None``; ``level`` as in the module docstring.

    ``open`` parses the header and decodes the file in full unless it ends with its format's end marker;
    ``decode`` always decodes in full, which includes everything ``open`` would have decoded.
    """
    try:
        with Image.open(path) as image:
            tail = _tail(path).rstrip(b"\x00")
            ends = {"JPEG": tail.endswith(_JPEG_END), "PNG": tail.endswith(_PNG_END)}.get(image.format or "", False)
            if level == "decode" or not ends:
                image.load()
    except Exception as err:  # noqa: BLE001 - whatever the decoder raises, the file is unreadable
        return f"cannot decode image ({err})"
    return None


def _probe_audio_stream(path: Path) -> str | None:
    from torchcodec.decoders import AudioDecoder  # deferred: loading FFmpeg is slow and only audio needs it

    try:
        metadata = AudioDecoder(str(path)).metadata
    except Exception as err:  # noqa: BLE001 - any FFmpeg failure means no usable audio track
        return f"cannot decode audio ({err})"
    if metadata.duration_seconds_from_header == 0:
        return "the audio track holds no samples"
    return None


def _audio_header_problem(path: Path) -> str | None:
    """The ``open`` check of an audio file: a WAV's header against its size, any other file's audio stream."""
    if path.suffix.lower() != ".wav":
        return _probe_audio_stream(path)
    try:
        with wave.open(str(path)) as wav:
            frames, frame_bytes = wav.getnframes(), wav.getsampwidth() * wav.getnchannels()
    except (wave.Error, EOFError):  # e.g. float or extensible WAVs, which the stdlib reader does not parse
        return _probe_audio_stream(path)
    if frames == 0:
        return "the WAV file holds no audio samples"
    if path.stat().st_size < 44 + frames * frame_bytes:
        return f"truncated: the header announces {frames} samples the file does not hold"
    return None


def audio_problem(path: Path, level: CheckLevel) -> str | None:
    """Why ``path`` holds no readable audio (a WAV, or a container's audio track), or ``None``.

    ``decode`` runs the header check of ``open`` first: FFmpeg decodes a WAV cut in half without complaint (it
    returns the samples that are there), so a full decode alone would pass a file ``open`` rejects.
    """
    problem = _audio_header_problem(path)
    if problem is not None or level != "decode":
        return problem
    try:
        samples = read_audio(path)
    except (DatasetFormatError, FileNotFoundError) as err:
        return str(err).removeprefix(f"{path}: ")
    return None if samples.numel() else "no audio samples"


def video_problem(path: Path, level: CheckLevel) -> str | None:
    """Why ``path`` is not a readable video, or ``None``; ``"decode"`` decodes its first, middle and last frame."""
    from torchcodec.decoders import VideoDecoder

    try:
        decoder = VideoDecoder(str(path), seek_mode="approximate")
        duration = decoder.metadata.duration_seconds or 0.0
        if not decoder.metadata.num_frames or duration <= 0:
            return "the video holds no frames"
        if level == "decode":
            decoder.get_frames_played_at(seconds=[0.0, duration / 2, max(0.0, duration - 1e-3)])
    except Exception as err:  # noqa: BLE001 - any FFmpeg failure means the video is unreadable
        return f"cannot decode video ({err})"
    return None


def requirement_problem(requirement: Requirement, level: CheckLevel) -> Problem | None:
    """The :class:`Problem` of one requirement at ``level``, or ``None`` when it is fine."""
    path, kind = requirement.path, requirement.kind
    if kind == "dir":
        return None if path.is_dir() else Problem("missing", str(path))
    if not path.exists():
        return Problem("missing", str(path))
    if level == "exists" or kind == "file":
        return None
    if not path.is_file():
        return Problem("unreadable", str(path), "expected a file, found a folder")
    if path.stat().st_size == 0:
        return Problem("unreadable", str(path), "empty file")
    validators = {"image": image_problem, "audio": audio_problem, "video": video_problem}
    detail = validators[kind](path, level)
    return Problem("unreadable", str(path), detail) if detail else None


def check_requirements(
    groups: Sequence[Sequence[Requirement]], level: CheckLevel, workers: int = 8
) -> tuple[dict[Requirement, Problem | None], set[int]]:
    """Check the requirements of every prompt, each distinct file once.

    Args:
        groups: per prompt, the files and folders it needs.
        level: check level (see the module docstring).
        workers: threads for the ``open``/``decode`` levels (decoders release the GIL, and network file systems
            reward parallel reads).

    Returns:
        The result of every distinct requirement (in first-seen order) and the indices of the prompts with a problem.
    """
    if level not in CHECK_LEVELS:
        raise ValueError(f"check level must be one of {CHECK_LEVELS}, got {level!r}")
    unique = list(dict.fromkeys(r for group in groups for r in group))
    results: list[Problem | None] = []
    bar = Progress(len(unique), f"data check ({level})", unit="files")  # silent unless it takes a while
    with bar, ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:  # threads start on the first submit only
        serial = level == "exists" or workers <= 1
        checked = (
            (requirement_problem(r, level) for r in unique)
            if serial
            else pool.map(lambda r: requirement_problem(r, level), unique)
        )
        for result in checked:
            results.append(result)
            bar.update()
    outcome = dict(zip(unique, results))
    bad = {i for i, group in enumerate(groups) if any(outcome[r] is not None for r in group)}
    return outcome, bad


def _rle_entry_problem(rle: Any, height: int, width: int) -> str | None:
    """The ``exists`` check of an RLE entry: a COCO RLE dict (or ``None``) of the frame's size."""
    if rle is None:
        return None
    if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
        return f"expected a COCO RLE dict with 'size' and 'counts' or null, got {str(rle)[:60]}"
    try:
        size = [int(s) for s in rle["size"]]
    except (TypeError, ValueError):
        return f"RLE size {rle['size']!r} is not [height, width]"
    if size != [height, width]:
        return f"RLE size {size} does not match the frame size [{height}, {width}]"
    return None


def _counts_list_problem(counts: list[Any]) -> str | None:
    """Why an uncompressed counts list does not parse (pycocotools needs non-negative integers), or ``None``."""
    wrong = next((r for r in counts if isinstance(r, bool) or not isinstance(r, int | np.integer)), None)
    return None if wrong is None else f"RLE counts do not decode (a counts list holds {str(wrong)[:20]!r})"


def rle_problems(rles: Sequence[Any], height: int, width: int, level: CheckLevel) -> list[str | None]:
    """Why each RLE entry (``None`` = object absent) cannot be a ``height`` x ``width`` mask, or ``None`` for each.

    Every level checks the entry's shape and ``size``; from ``"open"`` on, the counts (a compressed string or an
    uncompressed list) must also parse into non-negative run lengths that sum to ``height * width``, since
    pycocotools would otherwise decode garbage without complaint. The strings are parsed in one vectorised pass,
    so pass an object's entries (or a video's) together.
    """
    problems = [_rle_entry_problem(rle, height, width) for rle in rles]
    if level == "exists":
        return problems
    sized = [i for i, rle in enumerate(rles) if rle is not None and problems[i] is None]
    compressed = [i for i in sized if not isinstance(rles[i]["counts"], list)]
    totals, minimums, errors = compressed_run_totals([rles[i]["counts"] for i in compressed])
    cover = f"RLE counts do not cover a {height}x{width} mask"
    for k, i in enumerate(compressed):
        if k in errors:
            problems[i] = f"RLE counts do not decode ({errors[k]})"
        elif minimums[k] < 0 or totals[k] != height * width:
            problems[i] = f"{cover} (sum {int(totals[k])})"
    for i in sized:
        counts = rles[i]["counts"]
        if isinstance(counts, list):
            problems[i] = _counts_list_problem(counts)
            runs = np.asarray(counts, dtype=np.int64) if problems[i] is None else None
            if runs is not None and ((runs < 0).any() or int(runs.sum()) != height * width):
                problems[i] = f"{cover} (sum {int(runs.sum())})"
    return problems


def rle_problem(rle: Any, height: int, width: int, level: CheckLevel) -> str | None:
    """Why one RLE entry (or ``None`` = object absent) cannot be a ``height`` x ``width`` mask, or ``None``; see
    :func:`rle_problems` (which checks many entries faster)."""
    return rle_problems([rle], height, width, level)[0]


def image_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from an image header, or ``None`` when it cannot be read."""
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except Exception:  # noqa: BLE001 - the caller reports the unreadable file through its requirement
        return None


def valid_indices(report: Report, skip_invalid: bool, layout: str) -> list[int]:
    """Indices of the prompts a loader keeps after its check.

    Args:
        report: the loader's check report.
        skip_invalid: drop the prompts that need a broken file (and log how many) instead of stopping.
        layout: expected-layout diagram for the error message.

    Raises:
        DatasetLayoutError: something is missing and ``skip_invalid`` is off.
        DatasetFormatError: something is unreadable or invalid and ``skip_invalid`` is off, or nothing is left.
    """
    if report.ok:
        return list(range(report.num_items))
    if not skip_invalid:
        report.raise_for_problems(layout)
    kept = [i for i in range(report.num_items) if i not in report.bad_items]
    if not kept:
        raise DatasetFormatError(
            report.root,
            f"{report.dataset} split {report.split!r}: all {report.num_items} prompts need a missing or unreadable "
            f"file; first problem: {report.problems[0]}",
        )
    logger.warning(
        "%s split %r: skipped %d of %d prompts that need missing or unreadable files (%d problem(s); first: %s)",
        report.dataset,
        report.split,
        report.num_items - len(kept),
        report.num_items,
        len(report.problems),
        report.problems[0],
    )
    return kept
