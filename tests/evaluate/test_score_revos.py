"""``score_revos`` on a synthetic ReVOS root: hand-computed JSON, and bit equality with a transcription of the
official ``eval_revos.py`` (numpy, pycocotools, scipy in place of OpenCV) on perturbed predictions, with and
without type-2 ("nan") expressions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as cocomask
from scipy.ndimage import binary_dilation

from omni_r1.data.layout import DatasetFormatError
from omni_r1.data.synthetic import build_revos, expression_target, write_revos
from omni_r1.evaluate import score_predictions
from omni_r1.evaluate.__main__ import main

NUM_FRAMES, HEIGHT, WIDTH = 6, 64, 96


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_revos(
        tmp_path_factory.mktemp("revos"), num_videos=2, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH
    )


@pytest.fixture(scope="module")
def truth() -> dict[str, np.ndarray]:
    """``(T, H, W)`` bool ground truth of each expression of the valid video ``video_001``."""
    data = build_revos(num_videos=2, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    expressions = data.meta["valid"]["videos"]["video_001"]["expressions"]
    return {exp_id: expression_target(data, "valid", "video_001", exp_id) for exp_id in expressions}


def write_prediction(folder: Path, masks: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for t, mask in enumerate(masks):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{t:05d}.png")


def test_hand_computed_summary(root: Path, truth: dict[str, np.ndarray], tmp_path: Path) -> None:
    """video_001 has 5 expressions; its green circle (anno 4) enters at frame 1 of 6.

    0 'the green circle' (referring): empty prediction → frame 0 (nothing there) J = F = 1, others 0 → 16.67; R 100.
    1 'the purple triangle' (referring): the ground truth → 100 / 100 / 100.
    2 'the green circle and the purple triangle' (referring): no folder → 0 / 0 / 0.
    3 'the object that moves fastest' (reasoning): the ground truth → 100 / 100 / 100.
    4 'the object that enters the scene late' (reasoning): the ground truth plus a 2×2 block in frame 0, where it is
      absent → J = F = 5/6 → 83.33; R: frame 0 has 4 false-positive pixels against the purple triangle's p pixels,
      official 1 - 4·255/p < 0 → 0 → 83.33, corrected (5 + 1 - 4/p) / 6.
    """
    assert [e.any(axis=(1, 2)).tolist()[0] for e in truth.values()] == [False, True, True, False, False]
    pred = tmp_path / "pred" / "video_001"
    write_prediction(pred / "0", np.zeros_like(truth["0"]))
    write_prediction(pred / "1", truth["1"])
    write_prediction(pred / "3", truth["3"])
    with_block = truth["4"].copy()
    with_block[0, :2, :2] = True
    write_prediction(pred / "4", with_block)

    summary, rows = score_predictions("revos", root, "valid", pred.parent)
    assert [(r["exp_id"], r["J"], r["F"], r["R"], r["missing"]) for r in rows] == [
        ("0", 16.67, 16.67, 100.0, False),
        ("1", 100.0, 100.0, 100.0, False),
        ("2", 0.0, 0.0, 0.0, True),
        ("3", 100.0, 100.0, 100.0, False),
        ("4", 83.33, 83.33, 83.33, False),
    ]
    # A (official): a 0/255 prediction agrees with the 0/1 ground truth only where both are 0, i.e. off the target
    # for a perfect prediction (1 - |gt| / px per frame), everywhere for an empty one.
    pixels = HEIGHT * WIDTH
    background = {k: float(np.round(100 * np.mean(1 - v.sum(axis=(1, 2)) / pixels), 2)) for k, v in truth.items()}
    block = truth["4"].sum(axis=(1, 2)) / pixels
    block[0] = 4 / pixels  # frame 0: only the 2×2 block, where the target is absent
    a4 = float(np.round(100 * np.mean(1 - block), 2))
    assert [r["A"] for r in rows] == [background["0"], background["1"], 0.0, background["3"], a4]
    referring = {"J": (16.67 + 100 + 0) / 3, "F": (16.67 + 100 + 0) / 3, "R": (100 + 100 + 0) / 3}
    reason = {"J": (100 + 83.33) / 2, "F": (100 + 83.33) / 2, "R": (100 + 83.33) / 2}
    referring["A"] = (background["0"] + background["1"] + 0) / 3
    reason["A"] = (background["3"] + a4) / 2
    for subset, want in (("referring", referring), ("reason", reason)):
        want["JF"] = (want["J"] + want["F"]) / 2
        assert summary[subset] == pytest.approx(want, abs=1e-12)
    assert summary["overall"] == pytest.approx({k: (referring[k] + reason[k]) / 2 for k in referring}, abs=1e-12)

    purple = int(truth["1"][0].sum())
    corrected, _ = score_predictions("revos", root, "valid", pred.parent, robustness="corrected")
    r4 = float(np.round(100 * (5 + 1 - 4 / (purple + 1e-6)) / 6, 2))
    assert 83.33 < r4 < 100
    assert corrected["reason"]["R"] == pytest.approx((100 + r4) / 2, abs=1e-12)
    assert corrected["referring"] == summary["referring"]


# ------------------------------------------------ transcription of the official eval_revos.py ------------------


def _bmap(seg: np.ndarray) -> np.ndarray:
    e, s, se = np.zeros_like(seg), np.zeros_like(seg), np.zeros_like(seg)
    e[:, :-1], s[:-1, :], se[:-1, :-1] = seg[:, 1:], seg[1:, :], seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _f_measure(fg: np.ndarray, gt: np.ndarray) -> float:
    radius = int(np.ceil(0.008 * np.linalg.norm(fg.shape)))
    grid = np.arange(-radius, radius + 1)
    disk = (grid[None, :] ** 2 + grid[:, None] ** 2) <= radius**2
    fg_b, gt_b = _bmap(fg.astype(bool)), _bmap(gt.astype(bool))
    fg_dil, gt_dil = binary_dilation(fg_b, disk), binary_dilation(gt_b, disk)
    n_fg, n_gt = np.sum(fg_b), np.sum(gt_b)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision, recall = np.sum(fg_b * gt_dil) / float(n_fg), np.sum(gt_b * fg_dil) / float(n_gt)
    return 0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def official_eval_revos(root: Path, pred_root: Path) -> dict:
    """VISA's ``tools/eval_revos.py`` with ``metrics.get_r2vos_accuracy`` for A. Type 2 (``is_nan``) is in none of
    its means; its subset, built the same way, is added only when the meta file has such expressions."""
    exp_dict = json.loads((root / "meta_expressions_valid_.json").read_text())["videos"]
    mask_dict = json.loads((root / "mask_dict.json").read_text())
    foreground = json.loads((root / "mask_dict_foreground.json").read_text())
    out = {}
    for vid_name, vid in exp_dict.items():
        for exp in vid["expressions"]:
            try:
                pred_0 = np.asarray(Image.open(f"{pred_root}/{vid_name}/{exp}/{vid['frames'][0]}.png").convert("L"))
                h, w = pred_0.shape
                n = len(vid["frames"])
                gt = np.zeros((n, h, w), dtype=np.uint8)
                pred = np.zeros((n, h, w), dtype=np.uint8)
                fg = np.zeros((n, h, w), dtype=np.uint8)
                for i, frame in enumerate(vid["frames"]):
                    for anno in vid["expressions"][exp]["anno_id"]:
                        rle = mask_dict[str(anno)][i]
                        if rle:
                            gt[i] += cocomask.decode(rle)
                    fg[i] = cocomask.decode(foreground[vid_name]["masks_rle"][i])
                    pred[i] = np.asarray(Image.open(f"{pred_root}/{vid_name}/{exp}/{frame}.png").convert("L"))
                inter = np.sum(gt.astype(bool) & pred.astype(bool), axis=(1, 2))
                union = np.sum(gt.astype(bool) | pred.astype(bool), axis=(1, 2))
                with np.errstate(invalid="ignore"):
                    j = inter / union
                j[np.isclose(union, 0)] = 1
                f = np.zeros(n)
                for i in range(n):
                    f[i] = _f_measure(pred[i], gt[i])
                r = np.array([max(1 - ((1 - g) * p).sum() / (q.sum() + 1e-6), 0.0) for g, p, q in zip(gt, pred, fg)])
                a = np.array([np.mean(g == p) for g, p in zip(gt, pred)])
                out[(vid_name, exp)] = [j.mean(), f.mean(), a.mean(), r.mean(), vid["expressions"][exp]["type_id"]]
            except Exception:  # the official script scores any failure 0
                out[(vid_name, exp)] = [0.0, 0.0, 0.0, 0.0, vid["expressions"][exp]["type_id"]]
    data = [
        {"J": round(100 * j, 2), "F": round(100 * f, 2), "A": round(100 * a, 2), "R": round(100 * r, 2), "type_id": t}
        for j, f, a, r, t in out.values()
    ]
    subsets = (("referring", 0), ("reason", 1)) + ((("nan", 2),) if any(d["type_id"] == 2 for d in data) else ())
    results = {}
    for name, type_id in subsets:
        j = np.array([d["J"] for d in data if d["type_id"] == type_id]).mean()
        f = np.array([d["F"] for d in data if d["type_id"] == type_id]).mean()
        a = np.array([d["A"] for d in data if d["type_id"] == type_id]).mean()
        r = np.array([d["R"] for d in data if d["type_id"] == type_id]).mean()
        results[name] = {"J": j, "F": f, "A": a, "R": r, "JF": (j + f) / 2}
    keys = ("J", "F", "A", "R", "JF")
    results["overall"] = {k: (results["referring"][k] + results["reason"][k]) / 2 for k in keys}
    return results


def test_equals_official_transcription_bit_for_bit(root: Path, truth: dict[str, np.ndarray], tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pred_root = tmp_path / "pred"
    shifted = np.roll(truth["0"], shift=(2, -3), axis=(1, 2)) ^ (rng.random(truth["0"].shape) < 0.01)
    thinned = truth["3"] & (rng.random(truth["3"].shape) < 0.9)  # misses only: no false positive, R = 100
    sparse_fp = truth["4"].copy()
    sparse_fp[2, 0, 0] = sparse_fp[4, 63, 95] = True  # one false positive in two frames: R strictly inside (0, 100)
    for exp_id, masks in (("0", shifted), ("1", np.roll(truth["1"], 1, axis=2)), ("3", thinned), ("4", sparse_fp)):
        write_prediction(pred_root / "video_001" / exp_id, masks)  # "2" stays missing
    got, _ = score_predictions("revos", root, "valid", pred_root)
    want = official_eval_revos(root, pred_root)
    assert {s: {k: got[s][k] for k in want[s]} for s in want} == want
    assert all(0 < got["reason"][k] < 100 for k in ("J", "F", "R")) and 0 < got["referring"]["F"] < 100


def test_wrong_size_prediction_raises(root: Path, truth: dict[str, np.ndarray], tmp_path: Path) -> None:
    folder = tmp_path / "pred" / "video_001" / "0"
    write_prediction(folder, np.zeros((NUM_FRAMES, HEIGHT, WIDTH + 1), dtype=bool))
    with pytest.raises(DatasetFormatError, match=r"00000\.png: prediction size \(64, 97\) differs.*\(64, 96\)"):
        score_predictions("revos", root, "valid", tmp_path / "pred")


def test_missing_frame_makes_the_expression_missing(root: Path, truth: dict[str, np.ndarray], tmp_path: Path) -> None:
    folder = tmp_path / "pred" / "video_001" / "1"
    write_prediction(folder, truth["1"])
    (folder / "00003.png").unlink()
    _, rows = score_predictions("revos", root, "valid", tmp_path / "pred")
    assert rows[1]["missing"] and rows[1]["J"] == 0.0 and rows[1]["R"] == 0.0


# ------------------------------------------------ type 2 ("nan") expressions ------------------------------------


@pytest.fixture(scope="module")
def nan_root(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic root plus two type-2 expressions in ``video_001``: one with no target ("5") and one with the
    purple triangle's ("6", a copy of expression "1")."""
    copy = Path(shutil.copytree(root, tmp_path_factory.mktemp("revos_nan") / "root"))
    meta_path = copy / "meta_expressions_valid_.json"
    meta = json.loads(meta_path.read_text())
    expressions = meta["videos"]["video_001"]["expressions"]
    expressions["5"] = {"exp": "the object nobody drew", "obj_id": [], "anno_id": [], "type_id": 2}
    expressions["6"] = {**expressions["1"], "type_id": 2}
    meta_path.write_text(json.dumps(meta))
    return copy


def test_type_2_expressions_scored_apart_as_visa(
    nan_root: Path, root: Path, truth: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """``evaluate score`` equals the transcription bit for bit, in every subset and A; the type-2 expressions get
    rows of their own and change none of referring / reason / overall.

    Hand check of "5" (no target): 4 false-positive pixels on frames 2 and 4, empty elsewhere → J = F = 4/6 → 66.67;
    A official: (4 · 1 + 2 · (1 - 4/px)) / 6; "6" is a perfect copy of "1" → 100 / 100 / 100.
    """
    pred_root = tmp_path / "pred"
    rng = np.random.default_rng(2)
    ghosts = np.zeros_like(truth["1"])
    ghosts[2, 10:12, 10:12] = ghosts[4, 30:32, 50:52] = True
    shifted = np.roll(truth["0"], shift=(1, 2), axis=(1, 2)) ^ (rng.random(truth["0"].shape) < 0.01)
    for exp_id, masks in (("0", shifted), ("1", truth["1"]), ("3", truth["3"]), ("5", ghosts), ("6", truth["1"])):
        write_prediction(pred_root / "video_001" / exp_id, masks)  # "2" and "4" stay missing
    out = tmp_path / "out" / "scores.json"
    args = ["score", "--benchmark", "revos", "--root", str(nan_root), "--split", "valid", "--predictions"]
    assert main([*args, str(pred_root), "--output", str(out)]) == 0
    got = json.loads(out.read_text())
    want = official_eval_revos(nan_root, pred_root)
    assert set(got) == set(want) == {"referring", "reason", "overall", "nan"}
    assert {s: {k: got[s][k] for k in want[s]} for s in want} == want

    _, rows = score_predictions("revos", nan_root, "valid", pred_root)
    nan_rows = {r["exp_id"]: r for r in rows if r["type_id"] == 2}
    pixels = HEIGHT * WIDTH
    assert (nan_rows["5"]["J"], nan_rows["5"]["F"]) == (66.67, 66.67)
    assert nan_rows["5"]["A"] == float(np.round(100 * (4 + 2 * (1 - 4 / pixels)) / 6, 2))
    assert (nan_rows["6"]["J"], nan_rows["6"]["F"], nan_rows["6"]["R"]) == (100.0, 100.0, 100.0)
    assert got["nan"]["J"] == pytest.approx((66.67 + 100) / 2, abs=1e-12)
    without, _ = score_predictions("revos", root, "valid", pred_root)  # the same root without "5" and "6"
    assert {s: got[s] for s in ("referring", "reason", "overall")} == without
