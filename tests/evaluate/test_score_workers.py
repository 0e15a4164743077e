"""Scoring with worker processes gives exactly the single-process result, and a worker's error reaches the caller."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.synthetic import (
    SyntheticMeViS,
    SyntheticReVOS,
    build_mevis,
    build_revos,
    expression_target,
    write_mevis,
    write_revos,
)
from omni_r1.evaluate import score_predictions

FRAMES, HEIGHT, WIDTH = 5, 48, 64


def write_predictions(
    data: SyntheticReVOS | SyntheticMeViS, split: str, out: Path, skip_video: str | None = None
) -> None:
    """Each expression's ground truth shifted by a few pixels with some noise; ``skip_video`` left out (missing)."""
    rng = np.random.default_rng(0)
    for video, info in data.meta[split]["videos"].items():
        if video == skip_video:
            continue
        for exp_id in info["expressions"]:
            union = expression_target(data, split, video, exp_id)
            pred = np.roll(union, (1, -2), axis=(1, 2)) ^ (rng.random(union.shape) < 0.01)
            folder = out / video / exp_id
            folder.mkdir(parents=True, exist_ok=True)
            for name, mask in zip(info["frames"], pred):
                Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{name}.png")


@pytest.fixture(scope="module")
def revos_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("revos_workers")
    kw = {"num_videos": 8, "num_frames": FRAMES, "height": HEIGHT, "width": WIDTH}
    root = write_revos(base / "root", **kw)
    data = build_revos(**kw)
    write_predictions(data, "valid", base / "pred", skip_video="video_003")
    return root, base / "pred"


def test_revos_workers_equal_one_process(revos_case: tuple[Path, Path]) -> None:
    root, pred = revos_case
    summary, rows = score_predictions("revos", root, "valid", pred)
    assert len({row["video"] for row in rows}) == 4 and any(row["missing"] for row in rows)
    for workers in (2, 3):
        assert score_predictions("revos", root, "valid", pred, workers=workers) == (summary, rows)


def test_mevis_workers_equal_one_process(tmp_path: Path) -> None:
    kw = {"num_videos": 9, "num_frames": FRAMES, "height": HEIGHT, "width": WIDTH}
    root = write_mevis(tmp_path / "root", **kw)
    data = build_mevis(**kw)
    write_predictions(data, "valid_u", tmp_path / "pred")
    summary, rows = score_predictions("mevis", root, "valid_u", tmp_path / "pred")
    assert len({row["video"] for row in rows}) == 3
    assert score_predictions("mevis", root, "valid_u", tmp_path / "pred", workers=2) == (summary, rows)


def test_a_workers_error_names_the_file(revos_case: tuple[Path, Path], tmp_path: Path) -> None:
    root, pred = revos_case
    bad = tmp_path / "pred"
    data = build_revos(num_videos=8, num_frames=FRAMES, height=HEIGHT, width=WIDTH)
    write_predictions(data, "valid", bad)
    folder = next(bad.glob("video_005/*"))
    Image.fromarray(np.zeros((HEIGHT, WIDTH + 1), dtype=np.uint8)).save(next(folder.glob("*.png")))
    with pytest.raises(DatasetFormatError, match=r"video_005.*prediction size \(48, 65\) differs"):
        score_predictions("revos", root, "valid", bad, workers=2)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        score_predictions("revos", root, "valid", pred, workers=0)


def test_dataset_errors_survive_pickling() -> None:
    """Errors raised in worker processes are pickled back to the caller with their message and fields."""
    error = pickle.loads(pickle.dumps(DatasetFormatError("a/b.png", "is broken")))
    assert isinstance(error, DatasetFormatError) and str(error) == "a/b.png: is broken" and error.path == "a/b.png"
    layout = pickle.loads(pickle.dumps(DatasetLayoutError("ReVOS", "/r", ["/r/x"], "r/\n  x")))
    assert isinstance(layout, DatasetLayoutError) and "/r/x" in str(layout) and layout.missing == [Path("/r/x")]
