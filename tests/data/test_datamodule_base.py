"""Every DataModule's shared arguments live in SplitDataModule: one constructor body, one set of checks."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from omni_r1.data.avhbench import AVHBenchDataModule
from omni_r1.data.datamodule import SplitDataModule
from omni_r1.data.mevis import MeViSDataModule
from omni_r1.data.refavs import RefAVSDataModule
from omni_r1.data.refcocog import RefCOCOgDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.data.videoqa import VideoQADataModule
from omni_r1.validation import ConfigError

MODULES = (
    ReVOSDataModule,
    MeViSDataModule,
    RefAVSDataModule,
    RefCOCOgDataModule,
    AVHBenchDataModule,
    VideoQADataModule,
)


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_shared_arguments_are_held_by_the_base(cls: type, tmp_path: Path) -> None:
    assert issubclass(cls, SplitDataModule)
    dm = cls(str(tmp_path), batch_size=3, num_workers=1, skip_invalid=True, check_level="exists")
    assert (dm.root, dm.batch_size, dm.num_workers) == (tmp_path, 3, 1)
    assert dm.checks == {"skip_invalid": True, "check_level": "exists"}
    # The hyperparameters are the DataModule's own constructor arguments, as before (nothing of the base's).
    parameters = [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
    assert list(dm.hparams) == parameters and dm.hparams["batch_size"] == 3


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_shared_rules_come_from_the_base(cls: type, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^check_level = 'full'"):
        cls(str(tmp_path), check_level="full")
    with pytest.raises(ConfigError, match=r"^batch_size = 0"):
        SplitDataModule.validate_init_args({"root": "r", "batch_size": 0, "num_workers": 0})


def test_revos_serves_its_validation_split_for_test_and_predict(revos_root: Path) -> None:
    dm = ReVOSDataModule(str(revos_root), min_frames=4, max_frames=6)
    dm.setup("test")
    assert list(dm.datasets) == ["val"] and dm.datasets["val"].split == "valid"
    assert dm.test_dataloader().dataset is dm.predict_dataloader().dataset is dm.val_dataloader().dataset


def test_refavs_without_a_stage_builds_every_part(refavs_root: Path) -> None:
    dm = RefAVSDataModule(str(refavs_root), test_split="test_n")
    dm.setup()
    assert {part: d.split for part, d in dm.datasets.items()} == {"train": "train", "val": "val", "test": "test_n"}
