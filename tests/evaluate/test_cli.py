"""``python -m omni_r1.evaluate score``: the JSON / CSV contract, called through ``main([...])`` and as a module."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from omni_r1.data.synthetic import (
    SyntheticMeViS,
    SyntheticReVOS,
    build_mevis,
    build_revos,
    expression_target,
    write_mevis,
    write_refavs,
    write_revos,
)
from omni_r1.evaluate.__main__ import main


def write_expression_predictions(pred: Path, data: SyntheticReVOS | SyntheticMeViS, split: str) -> None:
    """The ground truth of every expression as 0/255 PNGs in ``<pred>/<video>/<exp_id>/<frame>.png``."""
    for video, info in data.meta[split]["videos"].items():
        for exp_id in info["expressions"]:
            folder = pred / video / exp_id
            folder.mkdir(parents=True)
            for frame, mask in zip(info["frames"], expression_target(data, split, video, exp_id)):
                Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{frame}.png")


def test_revos_perfect_predictions(tmp_path: Path) -> None:
    root = write_revos(tmp_path / "root", num_videos=2, num_frames=4)
    data = build_revos(num_videos=2, num_frames=4)
    write_expression_predictions(tmp_path / "pred", data, "valid")
    out = tmp_path / "out" / "scores.json"
    args = ["score", "--benchmark", "revos", "--root", str(root), "--split", "valid"]
    assert main([*args, "--predictions", str(tmp_path / "pred"), "--output", str(out)]) == 0
    scores = json.loads(out.read_text())
    perfect = {"J": 100.0, "F": 100.0, "JF": 100.0, "R": 100.0}
    assert {s: {k: v for k, v in scores[s].items() if k != "A"} for s in scores} == {
        s: perfect for s in ("referring", "reason", "overall")
    }
    # A as VISA's official script computes it: a perfect 0/255 prediction agrees with the 0/1 ground truth only off
    # the target, so A is the mean background fraction (rounded per expression, then averaged per subset).
    a = {0: [], 1: []}
    for exp_id, exp in data.meta["valid"]["videos"]["video_001"]["expressions"].items():
        target = expression_target(data, "valid", "video_001", exp_id)
        a[exp["type_id"]].append(float(np.round(100 * np.mean(1 - target.mean(axis=(1, 2))), 2)))
    assert scores["referring"]["A"] == pytest.approx(np.mean(a[0]), abs=1e-12) and scores["referring"]["A"] < 100
    assert scores["reason"]["A"] == pytest.approx(np.mean(a[1]), abs=1e-12)
    with open(out.with_suffix(".csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["video", "exp_id", "exp", "type_id", "J", "F", "JF", "A", "R", "missing"]
    assert len(rows) == len(data.meta["valid"]["videos"]["video_001"]["expressions"])
    assert {r["missing"] for r in rows} == {"False"}


def test_mevis_as_a_module(tmp_path: Path) -> None:
    """Through ``python -m`` with the default split (valid_u); one expression folder left out scores 0."""
    root = write_mevis(tmp_path / "root", num_videos=3, num_frames=4)
    data = build_mevis(num_videos=3, num_frames=4)
    write_expression_predictions(tmp_path / "pred", data, "valid_u")
    for png in (tmp_path / "pred" / "mevis_001" / "0").iterdir():
        png.unlink()
    out = tmp_path / "scores.json"
    command = [sys.executable, "-m", "omni_r1.evaluate", "score", "--benchmark", "mevis", "--root", str(root)]
    done = subprocess.run(
        [*command, "--predictions", str(tmp_path / "pred"), "--output", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "1 without predictions" in done.stdout
    assert json.loads(out.read_text()) == pytest.approx({"J": 80.0, "F": 80.0, "JF": 80.0})  # 4 of 5 perfect


def test_refavs_null_split_and_errors(tmp_path: Path) -> None:
    root = write_refavs(tmp_path / "root", num_videos=1, splits=("test_n",))
    (tmp_path / "pred").mkdir()
    out = tmp_path / "null.json"
    base = ["score", "--benchmark", "refavs", "--root", str(root), "--output", str(out)]
    assert main([*base, "--split", "test_n", "--predictions", str(tmp_path / "pred")]) == 0
    assert json.loads(out.read_text()) == {"S": 1.0}  # the only row is missing: scored all foreground
    with pytest.raises(FileNotFoundError, match="prediction folder not found"):
        main([*base, "--split", "test_n", "--predictions", str(tmp_path / "nowhere")])
    with pytest.raises(SystemExit):
        main(["score", "--benchmark", "davis", "--root", str(root), "--predictions", "p", "--output", "o.json"])
    with pytest.raises(SystemExit):
        main([])
    with pytest.raises(SystemExit):  # score reads no training config
        main([*base, "--split", "test_n", "--predictions", str(tmp_path / "pred"), "--model.init_args.beta", "0"])
