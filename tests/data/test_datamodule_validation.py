"""Every DataModule rejects values that would fail in ``setup()`` or at the first batch, before reading a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.data.avhbench import AVHBenchDataModule
from omni_r1.data.frame_sampling import sample_s1_indices
from omni_r1.data.mevis import MeViSDataModule
from omni_r1.data.mixture import MixtureDataModule
from omni_r1.data.refavs import SPLITS as REFAVS_SPLITS
from omni_r1.data.refavs import RefAVSDataModule
from omni_r1.data.refcocog import RefCOCOgDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.data.synthetic import REFAVS_SPLITS as SYNTHETIC_REFAVS_SPLITS
from omni_r1.data.videoqa import VideoQADataModule
from omni_r1.validation import ConfigError, validate_tree

MODULES = {
    "revos": ReVOSDataModule,
    "mevis": MeViSDataModule,
    "refavs": RefAVSDataModule,
    "refcocog": RefCOCOgDataModule,
    "avhbench": AVHBenchDataModule,
    "videoqa": VideoQADataModule,
}
COMMON = [
    ({"batch_size": 0}, "batch_size"),
    ({"num_workers": -1}, "num_workers"),
    ({"skip_invalid": "yes"}, "skip_invalid"),
    ({"check_level": "headers"}, "check_level"),
    ({"root": ""}, "root"),
]


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _key(cls: type, **init_args) -> str:
    with pytest.raises(ConfigError) as error:
        validate_tree({"class_path": _path(cls), "init_args": {"root": "/data/x", **init_args}})
    return error.value.key.removeprefix("init_args.")


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize(("init_args", "key"), COMMON, ids=[key for _, key in COMMON])
def test_every_datamodule_checks_loader_and_file_checks(name: str, init_args: dict, key: str) -> None:
    assert _key(MODULES[name], **init_args) == key


@pytest.mark.parametrize(
    ("cls", "init_args", "key"),
    [
        (ReVOSDataModule, {"min_frames": 8, "max_frames": 6}, "min_frames"),
        (ReVOSDataModule, {"min_frames": 0, "max_frames": 6}, "min_frames"),
        (ReVOSDataModule, {"max_frames": 0}, "max_frames"),
        (ReVOSDataModule, {"seed": -1}, "seed"),
        (ReVOSDataModule, {"type_ids": []}, "type_ids"),
        (ReVOSDataModule, {"max_objects": 0}, "max_objects"),
        (ReVOSDataModule, {"synthetic": "true"}, "synthetic"),
        (MeViSDataModule, {"min_frames": 30}, "min_frames"),
        (MeViSDataModule, {"train_split": "valid"}, "train_split"),  # masks withheld: nothing to reward
        (MeViSDataModule, {"val_split": "test"}, "val_split"),
        (MeViSDataModule, {"per_video": 1}, "per_video"),
        (RefAVSDataModule, {"test_split": "test"}, "test_split"),
        (RefAVSDataModule, {"seed": -3}, "seed"),
        (RefCOCOgDataModule, {"split_by": "unc"}, "split_by"),
        (RefCOCOgDataModule, {"split_by": "google"}, "test_split"),  # Google's partition has no test split
        (RefCOCOgDataModule, {"train_split": "testA"}, "train_split"),
        (RefCOCOgDataModule, {"image_dir": ""}, "image_dir"),
        (AVHBenchDataModule, {"tasks": []}, "tasks"),
        (AVHBenchDataModule, {"tasks": ["AV Captioning"]}, "tasks"),
        (AVHBenchDataModule, {"max_frames": 0}, "max_frames"),
        (AVHBenchDataModule, {"max_audio_seconds": 0.0}, "max_audio_seconds"),
        (VideoQADataModule, {"test_annotations": ""}, "test_annotations"),
        (VideoQADataModule, {"dataset_name": " "}, "dataset_name"),
        (VideoQADataModule, {"train_annotations": "train.jsonl", "min_frames": 30}, "min_frames"),
        (VideoQADataModule, {"max_audio_seconds": -1.0}, "max_audio_seconds"),
    ],
)
def test_dataset_specific_values(cls: type, init_args: dict, key: str) -> None:
    assert _key(cls, **init_args) == key


def test_defaults_and_documented_settings_pass() -> None:
    for cls in MODULES.values():
        validate_tree({"class_path": _path(cls), "init_args": {"root": "/data/x"}})
    google = {"root": "r", "split_by": "google", "test_split": "val"}
    validate_tree({"class_path": _path(RefCOCOgDataModule), "init_args": google})
    # Evaluation-only QA sets use max_frames alone: the training lower bound does not apply.
    validate_tree({"class_path": _path(VideoQADataModule), "init_args": {"root": "r", "max_frames": 4}})
    assert set(REFAVS_SPLITS) == set(SYNTHETIC_REFAVS_SPLITS)  # the synthetic writer covers every split


def test_constructors_check_before_reading(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")  # never read: the values fail first
    with pytest.raises(ConfigError, match=r"^min_frames = 8: must be <= max_frames \(6\)"):
        ReVOSDataModule(missing, min_frames=8, max_frames=6)
    with pytest.raises(ConfigError, match=r"^batch_size = 0"):
        MeViSDataModule(missing, batch_size=0)
    with pytest.raises(ConfigError, match=r"^val_split = 'valid'"):
        RefAVSDataModule(missing, val_split="valid")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^split_by = 'unc'"):
        RefCOCOgDataModule(missing, split_by="unc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^tasks = "):
        AVHBenchDataModule(missing, tasks=["AV Matching", "AV Matching"])
    with pytest.raises(ConfigError, match=r"^num_workers = -1"):
        VideoQADataModule(missing, num_workers=-1)


def test_the_sampler_bounds_match_the_datamodule_rule() -> None:
    """What the DataModules reject is exactly what the first training batch would fail on."""
    with pytest.raises(ValueError, match="min_frames <= max_frames"):
        sample_s1_indices(10, train=True, min_frames=8, max_frames=6)


# ---------------------------------------------------------------------------------------------------- mixture
MIXTURE = _path(MixtureDataModule)
CHILDREN = {
    "revos": {"class_path": _path(ReVOSDataModule), "init_args": {"root": "/data/ReVOS"}},
    "refavs": {"class_path": _path(RefAVSDataModule), "init_args": {"root": "/data/RefAVS"}},
}


@pytest.mark.parametrize(
    ("init_args", "key"),
    [
        ({"datasets": {}}, "datasets"),
        ({"num_samples": {"mevis": 3}}, "num_samples"),
        ({"num_samples": {"revos": -1}}, "num_samples.revos"),
        ({"num_samples": {"revos": 1}, "ratios": {"revos": 1.0, "refavs": 1.0}}, "ratios"),
        ({"ratios": {"revos": 1.0}}, "ratios"),
        ({"ratios": {"revos": -1.0, "refavs": 2.0}}, "ratios.revos"),
        ({"ratios": {"revos": 0.0, "refavs": 0.0}}, "ratios"),
        ({"total_samples": 10}, "total_samples"),  # split by ratios: alone it would be ignored
        ({"ratios": {"revos": 1.0, "refavs": 1.0}, "total_samples": -1}, "total_samples"),
        ({"families": {"revos": ""}}, "families.revos"),
        ({"families": {"coco": "grounding"}}, "families"),
        ({"rank": 1}, "rank"),
        ({"rank": 2, "world_size": 2}, "rank"),
        ({"rank": 0, "world_size": 0}, "world_size"),
        ({"batch_size": 0}, "batch_size"),
        ({"drop_last": "no"}, "drop_last"),
    ],
)
def test_mixture_rejects(init_args: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_tree({"class_path": MIXTURE, "init_args": {"datasets": CHILDREN, **init_args}})
    assert error.value.key == f"init_args.{key}"


def test_mixture_checks_its_children_under_their_names() -> None:
    revos = {**CHILDREN["revos"], "init_args": {"root": "r", "min_frames": 9, "max_frames": 4}}
    children = {**CHILDREN, "revos": revos}
    with pytest.raises(ConfigError) as error:
        validate_tree({"data": {"class_path": MIXTURE, "init_args": {"datasets": children}}})
    assert error.value.key == "data.init_args.datasets.revos.init_args.min_frames"
    # A list of DataModules is named after the classes, as the constructor names them.
    listed = {"datasets": list(CHILDREN.values()), "num_samples": {"revos": 2, "refavs": 1}}
    validate_tree({"class_path": MIXTURE, "init_args": listed})
