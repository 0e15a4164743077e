"""``score_mevis`` on a synthetic MeViS root (``valid_u``) with hand-computed expectations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omni_r1.data.synthetic import build_mevis, expression_target, write_mevis
from omni_r1.evaluate import score_predictions

NUM_FRAMES, HEIGHT, WIDTH = 6, 64, 96


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mevis(
        tmp_path_factory.mktemp("mevis"), num_videos=3, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH
    )


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    """``(T, H, W)`` ground truth of each expression of ``mevis_001``, the ``valid_u`` video."""
    data = build_mevis(num_videos=3, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    expressions = data.meta["valid_u"]["videos"]["mevis_001"]["expressions"]
    return {exp_id: expression_target(data, "valid_u", "mevis_001", exp_id) for exp_id in expressions}


def write_prediction(folder: Path, masks: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, mask in enumerate(masks):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{t:05d}.png")


def test_hand_computed_summary(root: Path, truth: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Expressions 1 and 4 refer to the yellow triangle, absent in frames 0-1 of 6.

    0, 3: the ground truth → J = F = 1. 1, 4: empty → 1 on the two empty frames, else 0 → 1/3. 2: missing → 0.
    J = F = J&F = (1 + 1/3 + 0 + 1 + 1/3) / 5 = 8/15 → 53.33 %.
    """
    assert [int((~m.any(axis=(1, 2))).sum()) for m in truth.values()] == [0, 2, 0, 0, 2]
    pred = tmp_path / "pred" / "mevis_001"
    for exp_id in ("0", "3"):
        write_prediction(pred / exp_id, truth[exp_id])
    for exp_id in ("1", "4"):
        write_prediction(pred / exp_id, np.zeros_like(truth[exp_id]))
    summary, rows = score_predictions("mevis", root, "valid_u", pred.parent)
    assert summary == pytest.approx({"J": 800 / 15, "F": 800 / 15, "JF": 800 / 15}, abs=1e-9)
    assert [r["missing"] for r in rows] == [False, False, True, False, False]
    assert [r["J"] for r in rows] == pytest.approx([100, 100 / 3, 0, 100, 100 / 3])


def test_missing_video_folder_scores_zero(root: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    summary, rows = score_predictions("mevis", root, "valid_u", tmp_path / "empty")
    assert summary == {"J": 0.0, "F": 0.0, "JF": 0.0}
    assert all(r["missing"] for r in rows) and len(rows) == 5


def test_unannotated_split_is_refused(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="official server"):
        score_predictions("mevis", root, "valid", tmp_path)
