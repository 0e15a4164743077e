"""Tiny synthetic RefAVS / ReVOS roots shared by the data tests (written once per session, read-only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from omni_r1.data.synthetic import (
    SyntheticRefAVS,
    SyntheticReVOS,
    build_refavs,
    build_revos,
    write_refavs,
    write_revos,
)

REFAVS_KW = {"num_videos": 2, "height": 64, "width": 96, "seed": 0}
REVOS_KW = {"num_videos": 4, "num_frames": 12, "height": 64, "width": 96, "seed": 0}


@pytest.fixture(scope="session")
def refavs_data() -> SyntheticRefAVS:
    return build_refavs(**REFAVS_KW)


@pytest.fixture(scope="session")
def revos_data() -> SyntheticReVOS:
    return build_revos(**REVOS_KW)


@pytest.fixture(scope="session")
def refavs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_refavs(tmp_path_factory.mktemp("refavs"), **REFAVS_KW)


@pytest.fixture(scope="session")
def revos_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_revos(tmp_path_factory.mktemp("revos"), **REVOS_KW)


@pytest.fixture
def refavs_copy(refavs_root: Path, tmp_path: Path) -> Path:
    """A private copy for tests that break the layout."""
    return Path(shutil.copytree(refavs_root, tmp_path / "refavs"))


@pytest.fixture
def revos_copy(revos_root: Path, tmp_path: Path) -> Path:
    """A private copy for tests that break the layout."""
    return Path(shutil.copytree(revos_root, tmp_path / "revos"))
