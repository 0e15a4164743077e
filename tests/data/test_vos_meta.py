"""The ReVOS / MeViS annotation readers share one module: same parsing, same errors naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from omni_r1.data import mevis, revos
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.data.synthetic import write_mevis, write_revos
from omni_r1.data.vos_meta import check_meta_videos, read_json, read_mask_dict


def test_read_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "meta_expressions.json"
    path.write_text('{"videos": ')
    with pytest.raises(DatasetFormatError, match=rf"^{re.escape(str(path))}: not valid JSON"):
        read_json(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        read_json(path)


def test_check_meta_videos_locates_the_bad_expression(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    good = {"videos": {"v": {"frames": ["00000"], "expressions": {"0": {"exp": "the dog", "anno_id": [3]}}}}}
    assert check_meta_videos(path, good) == good["videos"]
    withheld = {"videos": {"v": {"frames": ["00000"], "expressions": {"0": {"exp": "the dog"}}}}}
    assert check_meta_videos(path, withheld, require_annos=False) == withheld["videos"]
    with pytest.raises(DatasetFormatError, match=re.escape(f"{path}[v][0]: expected keys 'exp' (str) and 'anno_id'")):
        check_meta_videos(path, withheld)
    with pytest.raises(DatasetFormatError, match="top-level object"):
        check_meta_videos(path, [])


def test_read_mask_dict_errors_name_dataset_and_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"^MeViS root (?s:.*)/mask_dict\.json"):
        read_mask_dict(tmp_path, dataset="MeViS", layout=mevis.LAYOUT)
    (tmp_path / "mask_dict.json").write_text(json.dumps([None]))
    with pytest.raises(DatasetFormatError, match=r"mask_dict\.json: expected an object"):
        read_mask_dict(tmp_path, dataset="MeViS", layout=mevis.LAYOUT)


def test_revos_and_mevis_read_through_the_shared_module(tmp_path: Path) -> None:
    revos_root = write_revos(tmp_path / "revos", num_videos=2, num_frames=4)
    mevis_root = write_mevis(tmp_path / "mevis", num_frames=4)
    expected = json.loads((revos_root / "mask_dict.json").read_text())
    assert revos.load_mask_dict(revos_root) == read_mask_dict(revos_root, dataset="ReVOS", layout=revos.LAYOUT)
    assert revos.load_mask_dict(revos_root) == expected
    meta = revos_root / "meta_expressions_train_.json"
    assert revos.load_meta(revos_root, "train") == check_meta_videos(meta, read_json(meta))
    data = mevis.MeViSDataset(mevis_root, "valid_u", train=False)
    assert data.mask_dict == read_mask_dict(mevis_root / "valid_u", dataset="MeViS", layout=mevis.LAYOUT)
