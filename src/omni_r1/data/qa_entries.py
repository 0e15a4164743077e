"""The documented QA JSONL format, line by line: each entry parsed and checked, its answer resolved to an index.

Shared by the video-QA datasets (:mod:`omni_r1.data.videoqa`) and AVHBench (:mod:`omni_r1.data.avhbench`); the
format itself is described in :mod:`omni_r1.data.videoqa`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omni_r1.data.layout import DatasetFormatError
from omni_r1.data.records import LETTERS


@dataclass(frozen=True)
class QAEntry:
    """One question with its media resolved to paths.

    Args:
        sample_id: unique id.
        question: question text.
        options: answers to choose from.
        answer_index: index of the correct option.
        category: sub-task name (may be empty).
        video: a video file or a folder of frames, or ``None``.
        image: an image file, or ``None``.
        audio: an audio file (possibly the video file itself, for its track), or ``None``.
        video_fps: frame rate of a frame folder.
    """

    sample_id: str
    question: str
    options: tuple[str, ...]
    answer_index: int
    category: str = ""
    video: Path | None = None
    image: Path | None = None
    audio: Path | None = None
    video_fps: float = 2.0


def answer_index(answer: Any, options: list[str], where: str) -> int:
    """Index of ``answer`` among ``options``: a letter (``"B"``, ``"(B)"``, ``"B."``), a 0-based index or a text.

    Raises:
        DatasetFormatError: the answer matches no option.
    """
    if isinstance(answer, bool):
        raise DatasetFormatError(where, f"answer {answer!r} is a boolean; expected a letter, an index or a text")
    if isinstance(answer, int):
        index = answer
    elif isinstance(answer, str):
        text = answer.strip()
        letter = text.strip("().").upper()
        stripped = [o.strip() for o in options]
        if text in stripped:
            index = stripped.index(text)
        elif len(letter) == 1 and letter in LETTERS:
            index = LETTERS.index(letter)
        else:
            lowered = [o.lower() for o in stripped]
            index = lowered.index(text.lower()) if text.lower() in lowered else -1
    else:
        raise DatasetFormatError(where, f"answer {answer!r} must be a letter, an index or an option's text")
    if not 0 <= index < len(options):
        raise DatasetFormatError(where, f"answer {answer!r} matches none of the {len(options)} options {options}")
    return index


def _media(root: Path, value: Any, key: str, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise DatasetFormatError(where, f"'{key}' must be a path string, got {value!r}")
    return Path(value) if Path(value).is_absolute() else root / value


def parse_entry(root: Path, entry: Any, where: str) -> QAEntry:
    """Check one JSONL record against the format of the module docstring and resolve its media paths.

    Raises:
        DatasetFormatError: a required key is missing or a value has the wrong type.
    """
    if not isinstance(entry, dict):
        raise DatasetFormatError(where, "expected a JSON object per line")
    missing = [k for k in ("id", "question", "options", "answer") if k not in entry]
    if missing:
        raise DatasetFormatError(where, f"missing key(s) {missing}; required: id, question, options, answer")
    options = entry["options"]
    if (
        not isinstance(options, list)
        or not 2 <= len(options) <= len(LETTERS)
        or not all(isinstance(o, str) for o in options)
    ):
        raise DatasetFormatError(where, f"'options' must be a list of 2-{len(LETTERS)} strings")
    if not isinstance(entry["question"], str):
        raise DatasetFormatError(where, "'question' must be a string")
    video = _media(root, entry.get("video"), "video", where)
    image = _media(root, entry.get("image"), "image", where)
    audio_value = entry.get("audio")
    if audio_value == "video":
        if video is None:
            raise DatasetFormatError(where, "'audio': 'video' needs a 'video' file to take the track from")
        audio: Path | None = video
    else:
        audio = _media(root, audio_value, "audio", where)
    if video is None and image is None and audio is None:
        raise DatasetFormatError(where, "a question needs at least one of 'video', 'image', 'audio'")
    fps = entry.get("video_fps", 2.0)
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0:
        raise DatasetFormatError(where, f"'video_fps' must be a positive number, got {fps!r}")
    return QAEntry(
        sample_id=str(entry["id"]),
        question=entry["question"],
        options=tuple(options),
        answer_index=answer_index(entry["answer"], options, where),
        category=str(entry.get("category", "")),
        video=video,
        image=image,
        audio=audio,
        video_fps=float(fps),
    )


def load_jsonl(root: Path, path: Path) -> list[QAEntry]:
    """Questions of a JSONL file (blank lines skipped), ids checked to be unique.

    Raises:
        DatasetFormatError: a line is not JSON or not a valid question; an id repeats.
    """
    entries: list[QAEntry] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(where, f"not valid JSON ({err})") from err
        entries.append(parse_entry(root, record, where))
    ids = [e.sample_id for e in entries]
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise DatasetFormatError(path, f"question ids must be unique; repeated: {repeated}")
    if not entries:
        raise DatasetFormatError(path, "no questions")
    return entries
