"""Fixtures shared by every test folder: an isolated model cache and small synthetic datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a test that tries to download fails loudly instead of hanging


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny models build into a per-session cache, never the user's ``~/.cache/omni_r1``."""
    cache = tmp_path_factory.mktemp("omni_r1_cache")
    previous = os.environ.get("OMNI_R1_CACHE")
    os.environ["OMNI_R1_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("OMNI_R1_CACHE", None)
    else:
        os.environ["OMNI_R1_CACHE"] = previous


@pytest.fixture(scope="session")
def synthetic_revos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omni_r1.data.synthetic import write_revos

    return write_revos(tmp_path_factory.mktemp("syn_revos"), num_videos=2, num_frames=8, seed=0)


@pytest.fixture(scope="session")
def synthetic_refavs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from omni_r1.data.synthetic import write_refavs

    return write_refavs(tmp_path_factory.mktemp("syn_refavs"), num_videos=1, splits=("train", "val"), seed=0)


@pytest.fixture(scope="session")
def revos_batch(synthetic_revos_root: Path) -> list:
    """Two ReVOS training prompts (4–6 frame clips)."""
    from omni_r1.data.revos import ReVOSDataModule

    dm = ReVOSDataModule(root=str(synthetic_revos_root), batch_size=2, min_frames=4, max_frames=6)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.fixture(scope="session")
def refavs_batch(synthetic_refavs_root: Path) -> list:
    """Two RefAVS training prompts (first frame + 10 s of audio for S1)."""
    from omni_r1.data.refavs import RefAVSDataModule

    dm = RefAVSDataModule(root=str(synthetic_refavs_root), batch_size=2)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.fixture(scope="session")
def tiny_policy_factory():
    """Builds a fresh ``GlobalSystem`` on the tiny thinker (a new one per call: training tests mutate it)."""
    from omni_r1.models.global_system import GlobalSystem, PixelBudget

    def make(**kwargs):
        kwargs.setdefault("pixels", PixelBudget(min_pixels=4 * 28 * 28, max_pixels=8 * 28 * 28))
        return GlobalSystem("tiny://qwen2.5-omni", **kwargs)

    return make
