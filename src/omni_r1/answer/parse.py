"""Parsing of the Global system's answer: ``<answer>`` JSON moments → timed segments.

The policy samples at temperature 1, so a completion can be any string: broken JSON, several answer blocks, huge
numbers, ``NaN`` literals, lone surrogates, 100 kB of repeated tags. Every reward is computed from this parse, so
:func:`parse_answer` never raises on a ``str`` and its work is bounded: at most :data:`MAX_ANSWER_BLOCKS` blocks
are looked at, each block is scanned over its first :data:`MAX_SCAN_CHARS` characters, and at most
:data:`MAX_DECODE_ATTEMPTS` JSON decodes are tried per block. A legitimate answer (four moments, a few hundred
characters) is far inside those caps.

The 7B model writes its moments either as a JSON list or as several JSON objects separated by text, commas or
newlines, so JSON values are found by decoding from each ``{`` / ``[`` rather than by decoding the whole block.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
MAX_ANSWER_BLOCKS = 8
MAX_SCAN_CHARS = 16_384
MAX_DECODE_ATTEMPTS = 64
# A timestamp string longer than this is not a timestamp; the cap keeps the regexes below trivially cheap.
_MAX_TIME_CHARS = 48
# Integer seconds beyond this are rejected before float() sees them (float(10**400) overflows).
_MAX_ABS_INT = 10**15

_OPENERS = re.compile(r"[{\[]")
# [hh:]mm:ss[.fraction]: the paper's "mm:ss.ff", optionally with hours.
_CLOCK = re.compile(r"(?:(\d{1,4}):)?(\d{1,4}):(\d{1,4})(?:\.(\d{1,9}))?")
# Plain seconds as text ("12", "3.5", ".5", "-1.0"); no exponents, "nan", "inf" or digit separators.
_DECIMAL = re.compile(r"[+-]?(?:\d{1,12}(?:\.\d{0,12})?|\.\d{1,12})")


@dataclass(frozen=True)
class Segment:
    """One moment chosen by the Global system.

    Args:
        start: start time in seconds (finite; may be negative or beyond the clip, the hand-over clamps it).
        end: end time in seconds (finite; may precede ``start``).
        description: the rewritten single-image description of the target at this moment.
    """

    start: float
    end: float
    description: str


@dataclass(frozen=True)
class ParsedAnswer:
    """The moments found in a completion's answer block.

    Args:
        segments: the JSON objects that carried a valid ``start_time``, ``end_time`` and ``description``, in the
            order they were written.
        num_objects: how many JSON objects the block held (top-level objects plus objects inside a top-level
            list), complete or not; the structure reward pays 0.2 per object and divides by this count.
    """

    segments: list[Segment] = field(default_factory=list)
    num_objects: int = 0

    @property
    def num_complete(self) -> int:
        """Objects that parsed fully into a :class:`Segment`."""
        return len(self.segments)


def answer_blocks(text: str, max_blocks: int = MAX_ANSWER_BLOCKS) -> Iterator[str]:
    """Yield the bodies of ``<answer>…</answer>`` blocks, first to last, each closed by the nearest ``</answer>``.

    ``str.find`` rather than a lazy regex: ``re.search(r"<answer>(.*?)</answer>")`` rescans the tail from every
    ``<answer>`` when no closing tag follows, which is quadratic on a 100 kB run of opening tags.
    """
    pos = 0
    for _ in range(max_blocks):
        open_at = text.find(ANSWER_OPEN, pos)
        if open_at < 0:
            return
        body = open_at + len(ANSWER_OPEN)
        close_at = text.find(ANSWER_CLOSE, body)
        if close_at < 0:
            return
        yield text[body:close_at]
        pos = close_at + len(ANSWER_CLOSE)


def first_answer_block(text: str) -> str | None:
    """Body of the first answer block, or ``None`` when the completion has none (the reference ``extract_answer``)."""
    return next(answer_blocks(text, max_blocks=1), None)


def iter_json_values(
    text: str, max_chars: int = MAX_SCAN_CHARS, max_attempts: int = MAX_DECODE_ATTEMPTS
) -> Iterator[object]:
    """Yield the JSON objects and lists embedded in ``text``, left to right, skipping what does not decode.

    Decoding starts at each ``{`` or ``[``; after a success the scan resumes past the decoded value, so nested
    objects are returned once, inside their parent. Only the first ``max_chars`` characters are scanned and at
    most ``max_attempts`` decodes are tried, which bounds the work on adversarial text to
    ``max_attempts * max_chars`` character steps.
    """
    text = text[:max_chars]
    decoder = json.JSONDecoder()
    pos = 0
    for _ in range(max_attempts):
        match = _OPENERS.search(text, pos)
        if match is None:
            return
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):  # broken JSON, ints over the digit limit, too-deep nesting
            pos = match.start() + 1
            continue
        yield value
        pos = end


def parse_timestamp(value: object) -> float | None:
    """Seconds from a JSON timestamp, or ``None`` when it is not a finite time.

    Accepts ``"mm:ss.ff"`` (m·60 + s + ff/100), ``"hh:mm:ss.ff"``, ``"ss.ff"``, plain numbers and numeric strings.
    The fraction is read as a decimal fraction, which equals ff/100 for the two-digit ``ff`` the prompt asks
    for (the reference code reads ``"1.5"`` as 1.05 s, an artefact this kit does not copy). Booleans, ``NaN``,
    infinities and exponent notation are rejected.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= _MAX_ABS_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if not isinstance(value, str) or len(value) > _MAX_TIME_CHARS:
        return None
    text = value.strip()
    clock = _CLOCK.fullmatch(text)
    if clock is not None:
        hours, minutes, seconds, fraction = clock.groups()
        total = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
        return total + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    if _DECIMAL.fullmatch(text) is not None:
        return float(text)
    return None


def json_objects(value: object) -> list[dict]:
    """JSON objects carried by one decoded value: the value itself, or the objects of a top-level list."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _segment(obj: dict) -> Segment | None:
    start = parse_timestamp(obj.get("start_time"))
    end = parse_timestamp(obj.get("end_time"))
    description = obj.get("description")
    if start is None or end is None or not isinstance(description, str):
        return None
    return Segment(start=start, end=end, description=description)


def parse_answer(text: str) -> ParsedAnswer | None:
    """Moments of the first answer block that holds at least one JSON object; ``None`` if no block does.

    Never raises on a ``str`` (see the module docstring for the work bounds).

    Raises:
        TypeError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_answer expects a str completion, got {type(text).__name__}")
    for block in answer_blocks(text):
        objects = [obj for value in iter_json_values(block) for obj in json_objects(value)]
        if objects:
            segments = [segment for segment in map(_segment, objects) if segment is not None]
            return ParsedAnswer(segments=segments, num_objects=len(objects))
    return None
