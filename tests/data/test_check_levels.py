"""The check levels are nested, and RLE run lengths are checked at ``open``, the level DataModules run in ``setup()``.

A file that one level reports must be reported by every higher level: a root the checker passes at ``decode`` must
not stop a DataModule at ``open``. And an RLE whose runs do not cover its frame must stop ``setup()`` with its
locator (or, with ``skip_invalid``, drop the prompts that need it) instead of killing a training run at the batch
that first decodes it.
"""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1.data.integrity import CHECK_LEVELS, Requirement, requirement_problem, rle_problem, rle_problems
from omni_r1.data.layout import DatasetFormatError
from omni_r1.data.mevis import MeViSDataModule
from omni_r1.data.revos import ReVOSDataModule, ReVOSDataset
from omni_r1.data.synthetic import encode_rle

HEIGHT, WIDTH = 5, 7


def _jpeg(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(path, quality=90)
    return path


def _png(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(1).integers(0, 2, (48, 64), dtype=np.uint8) * 255).save(path)
    return path


def _wav(path: Path) -> Path:
    tone = np.round(8000 * np.sin(np.arange(1600) / 5)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(tone.tobytes())
    return path


def _mp4(path: Path) -> Path:
    from torchcodec.encoders import VideoEncoder

    VideoEncoder(torch.full((6, 3, 32, 48), 90, dtype=torch.uint8), frame_rate=3.0).to_file(str(path))
    return path


def _cut(path: Path, keep: Callable[[int], int]) -> Path:
    """``path`` with only its first ``keep(size)`` bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: keep(len(data))])
    return path


# kind, writer of an intact file, and the damages: name -> what turns the intact file into a broken one
FILE_DAMAGES: dict[str, tuple[str, Callable[[Path], Path], Callable[[Path], Path]]] = {
    "truncated JPEG": ("image", _jpeg, lambda p: _cut(p, lambda n: n // 2)),
    "JPEG without its last bytes": ("image", _jpeg, lambda p: _cut(p, lambda n: n - 200)),
    "truncated PNG": ("image", _png, lambda p: _cut(p, lambda n: n // 2)),
    "text named .jpg": ("image", _jpeg, lambda p: (p.write_text("not an image"), p)[1]),
    "WAV cut inside its header": ("audio", _wav, lambda p: _cut(p, lambda n: 30)),
    "truncated WAV": ("audio", _wav, lambda p: _cut(p, lambda n: 1000)),
    "half-truncated WAV": ("audio", _wav, lambda p: _cut(p, lambda n: n // 2)),
    "WAV header only": ("audio", _wav, lambda p: _cut(p, lambda n: 44)),
    "video that does not open": ("video", _mp4, lambda p: _cut(p, lambda n: 300)),
    "zeros named .mp4": ("video", _mp4, lambda p: (p.write_bytes(b"\x00" * 100), p)[1]),
    "empty file": ("image", _jpeg, lambda p: _cut(p, lambda n: 0)),
    "missing file": ("audio", _wav, lambda p: (p.unlink(), p)[1]),
}

_MASK = np.zeros((HEIGHT, WIDTH), dtype=bool)
_MASK[1:3, 2:6] = True
_GOOD = encode_rle(_MASK)
RLE_DAMAGES: dict[str, Any] = {
    "string with a wrong sum": {"size": [HEIGHT, WIDTH], "counts": encode_rle(_MASK[:3])["counts"]},
    "string without its last run": {"size": [HEIGHT, WIDTH], "counts": _GOOD["counts"][:-1]},
    "string with an invalid character": {"size": [HEIGHT, WIDTH], "counts": _GOOD["counts"] + "~"},
    "string with an unfinished run": {"size": [HEIGHT, WIDTH], "counts": _GOOD["counts"] + "`"},
    "empty string": {"size": [HEIGHT, WIDTH], "counts": ""},
    "counts of the wrong type": {"size": [HEIGHT, WIDTH], "counts": 35},
    "list with a wrong sum": {"size": [HEIGHT, WIDTH], "counts": [11, 2, 3]},
    "list with a negative run": {"size": [HEIGHT, WIDTH], "counts": [36, -1]},
    "list of strings": {"size": [HEIGHT, WIDTH], "counts": ["35"]},
    "wrong size": {"size": [HEIGHT - 1, WIDTH], "counts": _GOOD["counts"]},
    "not an RLE": [1, 2],
}


def _assert_nested(reported: dict[str, str | None]) -> None:
    """Once a level reports a problem, every higher level reports one too; and ``open`` reports it."""
    first = next((i for i, level in enumerate(CHECK_LEVELS) if reported[level] is not None), len(CHECK_LEVELS))
    assert all(reported[level] is not None for level in CHECK_LEVELS[first:]), reported
    assert reported["open"] is not None, reported


@pytest.mark.parametrize("damage", list(FILE_DAMAGES))
def test_file_damage_reported_at_a_level_is_reported_at_every_higher_level(tmp_path: Path, damage: str) -> None:
    kind, write, corrupt = FILE_DAMAGES[damage]
    suffix = {"image": ".png" if "PNG" in damage else ".jpg", "audio": ".wav", "video": ".mp4"}[kind]
    intact = Requirement(write(tmp_path / f"intact{suffix}"), kind)  # type: ignore[arg-type]
    assert all(requirement_problem(intact, level) is None for level in CHECK_LEVELS)  # type: ignore[arg-type]
    broken = Requirement(corrupt(write(tmp_path / f"broken{suffix}")), kind)  # type: ignore[arg-type]
    reported = {level: requirement_problem(broken, level) for level in CHECK_LEVELS}  # type: ignore[arg-type]
    _assert_nested({level: None if p is None else str(p) for level, p in reported.items()})


@pytest.mark.parametrize("damage", list(RLE_DAMAGES))
def test_rle_damage_is_reported_from_open_on(damage: str) -> None:
    assert all(rle_problem(_GOOD, HEIGHT, WIDTH, level) is None for level in CHECK_LEVELS)  # type: ignore[arg-type]
    rle = RLE_DAMAGES[damage]
    _assert_nested({level: rle_problem(rle, HEIGHT, WIDTH, level) for level in CHECK_LEVELS})  # type: ignore[arg-type]


def test_rle_problems_of_many_entries_match_one_at_a_time() -> None:
    """The vectorised pass over an object's entries reports each entry as checking it alone would."""
    entries = [_GOOD, None, *RLE_DAMAGES.values(), _GOOD, {"size": [HEIGHT, WIDTH], "counts": [HEIGHT * WIDTH]}]
    for level in CHECK_LEVELS:
        alone = [rle_problem(rle, HEIGHT, WIDTH, level) for rle in entries]  # type: ignore[arg-type]
        assert rle_problems(entries, HEIGHT, WIDTH, level) == alone  # type: ignore[arg-type]
        assert alone[0] is None and alone[1] is None and alone[-2:] == [None, None]


# ---------------------------------------------------------------------------------------------- DataModules
def _corrupt_one_rle(mask_file: Path, meta_file: Path, counts: str) -> tuple[str, int]:
    """Replace the counts of the first non-null RLE of a training object; returns its ``(anno_id, frame)``."""
    meta = json.loads(meta_file.read_text())["videos"]
    annos = sorted(str(a) for info in meta.values() for exp in info["expressions"].values() for a in exp["anno_id"])
    masks = json.loads(mask_file.read_text())
    anno = annos[0]
    t = next(i for i, m in enumerate(masks[anno]) if m is not None)
    masks[anno][t] = {"size": masks[anno][t]["size"], "counts": counts}
    mask_file.write_text(json.dumps(masks))
    return anno, t


CORRUPT_COUNTS = {
    "wrong sum": encode_rle(np.ones((32, 96), dtype=bool))["counts"],  # half the 64x96 frame
    "malformed": "Q0~~",
}


@pytest.mark.parametrize("corruption", list(CORRUPT_COUNTS))
def test_revos_setup_stops_on_a_corrupt_rle_or_skips_its_prompts(revos_copy: Path, corruption: str) -> None:
    mask_file = revos_copy / "mask_dict.json"
    anno, t = _corrupt_one_rle(mask_file, revos_copy / "meta_expressions_train_.json", CORRUPT_COUNTS[corruption])
    unchecked = ReVOSDataset(revos_copy, "train", check_level="exists")  # what used to pass setup()
    needing = [i for i, item in enumerate(unchecked.items) if int(anno) in item.anno_ids]
    assert needing
    with pytest.raises(DatasetFormatError, match=re.escape(f"mask_dict.json[{anno}][{t}]")):
        unchecked[needing[0]]  # the batch that would have ended the run
    with pytest.raises(DatasetFormatError, match=re.escape(f"{mask_file}[{anno}][{t}]: invalid: RLE counts")):
        ReVOSDataModule(str(revos_copy)).setup("fit")
    dm = ReVOSDataModule(str(revos_copy), skip_invalid=True)
    dm.setup("fit")
    train = dm.datasets["train"]
    assert len(train) == len(unchecked) - len(needing) > 0
    assert all(int(anno) not in item.anno_ids for item in train.items)
    for index in range(len(train)):  # every prompt left loads
        assert train[index].masks.shape[0] >= 1


@pytest.mark.parametrize("corruption", list(CORRUPT_COUNTS))
def test_mevis_setup_stops_on_a_corrupt_rle_or_skips_its_prompts(mevis_copy: Path, corruption: str) -> None:
    mask_file = mevis_copy / "train" / "mask_dict.json"
    meta_file = mevis_copy / "train" / "meta_expressions.json"
    anno, t = _corrupt_one_rle(mask_file, meta_file, CORRUPT_COUNTS[corruption])
    with pytest.raises(DatasetFormatError, match=re.escape(f"{mask_file}[{anno}][{t}]: invalid: RLE counts")):
        MeViSDataModule(str(mevis_copy)).setup("fit")
    dm = MeViSDataModule(str(mevis_copy), skip_invalid=True)
    dm.setup("fit")
    train = dm.datasets["train"]
    assert len(train) > 0 and all(int(anno) not in item.anno_ids for item in train.items)
    for index in range(len(train)):
        assert train[index].masks.shape[0] >= 1
