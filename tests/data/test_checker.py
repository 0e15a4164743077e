"""``python -m omni_r1.data.check`` on complete and corrupted synthetic roots, and the same checks in ``setup()``."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from omni_r1.data.check import check_split, main
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.mevis import MeViSDataModule
from omni_r1.data.refavs import RefAVSDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.data.synthetic import encode_rle


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("dataset", "fixture", "expected"),
    [
        (
            "refavs",
            "refavs_root",
            [r"split=test_n", r"rows \(expressions\)\s+2", r"frames\s+20 / 20", r"masks\s+20 / 20"],
        ),
        ("revos", "revos_root", [r"split=valid", r"type 1 \(reasoning\)\s+\d+", r"frames\s+24 / 24"]),
        ("mevis", "mevis_root", [r"split=valid_u", r"frames\s+20 / 20", r"masks \(non-null RLE\)\s+\d+"]),
        ("refcocog", "refcocog_root", [r"split=test", r"images\s+2 / 2", r"masks \(segmentations\)\s+\d+ / \d+"]),
        ("avhbench", "avhbench_root", [r"questions\s+12", r"video files\s+4 / 4", r"audio files\s+4 / 4"]),
        ("videoqa", "videoqa_root", [r"questions\s+3", r"video files\s+1 / 1"]),
    ],
)
def test_complete_roots_pass(
    dataset: str, fixture: str, expected: list[str], request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    root = request.getfixturevalue(fixture)
    code, out = _run(capsys, "--dataset", dataset, "--root", str(root))
    assert code == 0, out
    assert out.rstrip().endswith("result: complete") and "problem" not in out
    for pattern in expected:
        assert re.search(pattern, out), pattern


def test_deleted_frame_and_wrong_size_rle(revos_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = revos_copy / "JPEGImages" / "video_001" / "00003.jpg"
    frame.unlink()
    masks = json.loads((revos_copy / "mask_dict.json").read_text())
    anno = min(masks, key=int)  # an object of video_000 (train)
    t = next(i for i, m in enumerate(masks[anno]) if m is not None)
    masks[anno][t] = encode_rle(np.zeros((32, 96), dtype=bool))
    (revos_copy / "mask_dict.json").write_text(json.dumps(masks))
    code, out = _run(capsys, "--dataset", "revos", "--root", str(revos_copy))
    assert code == 1 and out.rstrip().endswith("result: INCOMPLETE (see the problems listed above)")
    assert f"missing    {frame}" in out and re.search(r"frames\s+23 / 24", out)
    locator = f"{revos_copy / 'mask_dict.json'}[{anno}][{t}]"
    assert f"invalid    {locator}  (RLE size [32, 96] does not match the frame size [64, 96])" in out
    with pytest.raises(DatasetLayoutError, match=re.escape(str(frame))):  # setup stops on the same file
        ReVOSDataModule(str(revos_copy)).setup("validate")
    with pytest.raises(DatasetFormatError, match=re.escape(f"{locator}: invalid: RLE size [32, 96]")):
        ReVOSDataModule(str(revos_copy)).setup("fit")
    dm = ReVOSDataModule(str(revos_copy), skip_invalid=True)
    dm.setup("fit")
    assert all(int(anno) not in item.anno_ids for item in dm.datasets["train"].items)
    assert all(item.video != "video_001" for item in dm.datasets["val"].items)


def test_truncated_jpeg(mevis_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = next((mevis_copy / "valid_u" / "JPEGImages").iterdir()) / "00004.jpg"
    frame.write_bytes(frame.read_bytes()[:400])
    code, out = _run(capsys, "--dataset", "mevis", "--root", str(mevis_copy), "--split", "valid_u", "--level", "open")
    assert code == 1 and "split=train" not in out
    assert re.search(rf"(?i)unreadable {re.escape(str(frame))}  \(cannot decode image \(.*truncated", out)
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(frame))}: unreadable: cannot decode image"):
        MeViSDataModule(str(mevis_copy)).setup("validate")
    MeViSDataModule(str(mevis_copy), check_level="exists").setup("validate")  # existence alone misses it


def test_csv_row_to_a_missing_folder_and_empty_wav(refavs_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open(refavs_copy / "metadata.csv", "a", newline="") as handle:
        csv.writer(handle).writerow(["ghost_vid", "ghost_vid_0_0", "val", "0", "the ghost"])
    wav = refavs_copy / "media" / "syn_train_01" / "audio.wav"
    wav.write_bytes(b"")
    code, out = _run(capsys, "--dataset", "refavs", "--root", str(refavs_copy), "--split", "train", "--split", "val")
    assert code == 1
    assert f"unreadable {wav}  (empty file)" in out and re.search(r"audio files\s+1 / 2", out)
    assert f"missing    {refavs_copy / 'media' / 'ghost_vid'}" in out
    assert f"missing    {refavs_copy / 'gt_mask' / 'ghost_vid' / 'fid_0'}" in out
    with pytest.raises(DatasetFormatError, match=rf"{re.escape(str(wav))}: unreadable: empty file"):
        RefAVSDataModule(str(refavs_copy)).setup("fit")  # train is built first
    with pytest.raises(DatasetLayoutError, match=re.escape(str(refavs_copy / "media" / "ghost_vid"))):
        RefAVSDataModule(str(refavs_copy)).setup("validate")
    dm = RefAVSDataModule(str(refavs_copy), skip_invalid=True)
    dm.setup("fit")
    assert "syn_train_01" not in dm.datasets["train"].folders and "ghost_vid" not in dm.datasets["val"].folders
    assert len(dm.datasets["val"]) > 0


def test_unreadable_annotations_are_reported_not_raised(revos_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (revos_copy / "meta_expressions_valid_.json").unlink()
    code, out = _run(capsys, "--dataset", "revos", "--root", str(revos_copy), "--level", "exists")
    assert code == 1 and "split=train" in out and "complete: nothing missing" in out  # train is still checked
    assert "cannot read the split's annotations:" in out and "meta_expressions_valid_.json" in out
    with pytest.raises(DatasetLayoutError):
        check_split("revos", revos_copy, "valid")
    with pytest.raises(SystemExit):
        main(["--dataset", "nope", "--root", str(revos_copy)])


def test_module_runs_as_a_script(revos_root: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "omni_r1.data.check",
            "--dataset",
            "revos",
            "--root",
            str(revos_root),
            "--level",
            "open",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ReVOS  split=train" in result.stdout and result.stdout.rstrip().endswith("result: complete")
