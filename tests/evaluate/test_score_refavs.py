"""``score_refavs`` on a synthetic RefAVS root: official batches of 4 rows, missing rows, the null split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1.data.layout import DatasetFormatError
from omni_r1.data.synthetic import build_refavs, write_refavs
from omni_r1.evaluate import score_predictions
from omni_r1.metrics.functional import refavs_target

SPLITS = ("test_s", "test_n")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_refavs(tmp_path_factory.mktemp("refavs"), num_videos=2, splits=SPLITS)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return build_refavs(num_videos=2, splits=SPLITS).rows


def gt_masks(root: Path, row: dict[str, str]) -> np.ndarray:
    folder = root / "gt_mask" / row["vid"] / f"fid_{row['fid']}"
    return np.stack([np.asarray(Image.open(folder / f"{t:05d}.png")) for t in range(10)])


def write_prediction(folder: Path, masks: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, mask in enumerate(masks):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{t}.png")


def test_seen_split_hand_computed(root: Path, rows: list[dict[str, str]], tmp_path: Path) -> None:
    """7 rows → batches of 4 and 3 rows. Every row gets its exact 256×256 evaluation target except row 5 (missing).

    Batch 0: J = F = 1. Batch 1 (30 frames, the object visible in all): J = 20/30; F's curve is 20/30 above the
    first threshold (10 frames with an empty prediction score 0 there) and lower at th = 0, so F = 20/30.
    J = F = J&F = (1 + 2/3) / 2 → 83.33 %.
    """
    test_rows = [r for r in rows if r["split"] == "test_s"]
    assert len(test_rows) == 7
    for k, row in enumerate(test_rows):
        if k != 5:
            target = refavs_target(torch.from_numpy(gt_masks(root, row)))
            write_prediction(tmp_path / row["vid"] / row["uid"], target.numpy())
    summary, table = score_predictions("refavs", root, "test_s", tmp_path)
    assert summary == pytest.approx({"J": 250 / 3, "F": 250 / 3, "JF": 250 / 3}, abs=1e-4)
    assert [r["batch"] for r in table] == [0, 0, 0, 0, 1, 1, 1]
    assert [r["missing"] for r in table] == [False] * 5 + [True, False]
    assert [r["J"] for r in table] == pytest.approx([100] * 5 + [0, 100])
    # The missing row on its own: only th = 0 (every pixel predicted, precision = the object's share p) scores.
    share = refavs_target(torch.from_numpy(gt_masks(root, test_rows[5]))).double().mean(dim=(1, 2))
    assert table[5]["F"] == pytest.approx(100 * (1.3 * share / (0.3 * share + 1)).mean().item(), rel=1e-5)
    assert table[0]["F"] == pytest.approx(100.0)


def test_original_size_prediction_is_resized(root: Path, rows: list[dict[str, str]], tmp_path: Path) -> None:
    row = rows[0]
    write_prediction(tmp_path / row["vid"] / row["uid"], gt_masks(root, row) > 0)  # 64×96: resized to 256×256
    _, table = score_predictions("refavs", root, "test_s", tmp_path)
    # GT keeps every pixel the bilinear resize touches (> 0), the prediction those above 0.4: a thin fringe differs.
    assert 85 < table[0]["J"] < 100 and not table[0]["missing"]
    write_prediction(tmp_path / row["vid"] / row["uid"], np.zeros((10, 10, 10), dtype=bool))
    with pytest.raises(DatasetFormatError, match=r"0\.png: prediction size \(10, 10\) is neither 256x256"):
        score_predictions("refavs", root, "test_s", tmp_path)


def test_null_split(root: Path, rows: list[dict[str, str]], tmp_path: Path) -> None:
    """Two null rows, one batch of 20 frames: an empty prediction and a missing one (scored all foreground).

    S = sqrt(10·256² / (20·256²)) = sqrt(1/2); the row with the empty prediction alone has S = 0.
    """
    null_rows = [r for r in rows if r["split"] == "test_n"]
    write_prediction(tmp_path / null_rows[0]["vid"] / null_rows[0]["uid"], np.zeros((10, 256, 256), dtype=bool))
    summary, table = score_predictions("refavs", root, "test_n", tmp_path)
    assert summary == pytest.approx({"S": np.sqrt(0.5)}, rel=1e-6)
    assert [(r["S"], r["missing"]) for r in table] == [(0.0, False), (1.0, True)]
