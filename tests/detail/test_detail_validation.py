"""The Detail system, grounders and segmenters reject values that would fail at the first grounding or tracking
call, or while SAM2 loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.detail.grounders import HFGrounder, OracleGrounder, ReferenceGrounder
from omni_r1.detail.grounding_prompts import GroundingPrompts
from omni_r1.detail.sam2_segmenter import SAM2Segmenter
from omni_r1.detail.system import DetailSystem
from omni_r1.validation import ConfigError, validate_tree

DETAIL = "omni_r1.detail.system.DetailSystem"
REFERENCE = "omni_r1.detail.grounders.ReferenceGrounder"
HF = "omni_r1.detail.grounders.HFGrounder"
SAM2 = "omni_r1.detail.sam2_segmenter.SAM2Segmenter"
ORACLE = {"class_path": "omni_r1.detail.grounders.OracleGrounder"}


def _key(class_path: str, **init_args) -> str:
    with pytest.raises(ConfigError) as error:
        validate_tree({"class_path": class_path, "init_args": init_args})
    return error.value.key.removeprefix("init_args.")


@pytest.mark.parametrize(
    ("class_path", "init_args", "key"),
    [
        (DETAIL, {"grounder": ORACLE, "object_prompts": "per_frame"}, "object_prompts"),
        (DETAIL, {"grounder": ORACLE, "max_description_chars": 0}, "max_description_chars"),
        (DETAIL, {"grounder": None}, "grounder"),
        (REFERENCE, {"weights": "current"}, "weights"),
        (REFERENCE, {"max_new_tokens": 0}, "max_new_tokens"),
        (REFERENCE, {"batch_size": 0}, "batch_size"),
        (REFERENCE, {"max_boxes": 0}, "max_boxes"),
        (REFERENCE, {"pixels": {"min_pixels": 100, "max_pixels": 50}}, "pixels.max_pixels"),
        (REFERENCE, {"prompts": {"vos": "Find {object}"}}, "prompts.vos"),
        (REFERENCE, {"prompts": {"avs": "Find {description"}}, "prompts.avs"),
        (HF, {"model_name_or_path": "./no/such/vlm"}, "model_name_or_path"),
        (HF, {"model_name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct", "dtype": "int8"}, "dtype"),
        (HF, {"model_name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct", "device": "gpu"}, "device"),
        (HF, {"model_name_or_path": "Qwen/Qwen2.5-VL-7B-Instruct", "batch_size": -1}, "batch_size"),
        (SAM2, {"config": "configs/sam2.1/sam2.1_hiera_xl.yaml"}, "config"),
        (SAM2, {"checkpoint": "checkpoints/no_such.pt"}, "checkpoint"),
        (SAM2, {"image_size": 1000}, "image_size"),
        (SAM2, {"image_size": 0}, "image_size"),
        (SAM2, {"start": "middle"}, "start"),
        (SAM2, {"max_cached_frames": -1}, "max_cached_frames"),
        (SAM2, {"seed": -1}, "seed"),
        (SAM2, {"dedup": "no"}, "dedup"),
    ],
)
def test_detail_parts_reject(class_path: str, init_args: dict, key: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _key(class_path, **init_args) == key


def test_the_shipped_settings_pass(tmp_path: Path) -> None:
    validate_tree({"class_path": DETAIL, "init_args": {"grounder": ORACLE, "object_prompts": "per_object"}})
    validate_tree({"class_path": REFERENCE, "init_args": {"weights": "policy", "prompts": {"vos": "{description}"}}})
    checkpoint = tmp_path / "sam2.pt"
    checkpoint.write_bytes(b"")
    validate_tree({"class_path": SAM2, "init_args": {"checkpoint": str(checkpoint), "image_size": 128}})
    GroundingPrompts(vos='Box "{description}" as {{"bbox_2d": [...]}}')


def test_constructors_check_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^max_description_chars = 0"):
        DetailSystem(OracleGrounder(), max_description_chars=0)
    with pytest.raises(ConfigError, match=r"^batch_size = 0"):
        ReferenceGrounder(batch_size=0)
    with pytest.raises(ConfigError, match="local path does not exist"):
        HFGrounder(str(tmp_path / "no_vlm"))  # named before transformers is asked for it
    with pytest.raises(ConfigError, match=r"^checkpoint = .*does not exist"):
        SAM2Segmenter(checkpoint=str(tmp_path / "sam2.1_hiera_large.pt"))
    with pytest.raises(ConfigError, match="only placeholder is {description}"):
        GroundingPrompts(avs="{query}")


def test_a_ready_predictor_skips_the_build_settings(tiny_sam2) -> None:
    SAM2Segmenter(predictor=tiny_sam2, checkpoint="not/used.pt", image_size=1000)
