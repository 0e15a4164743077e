"""Tiny synthetic roots of every layout shared by the data tests (written once per session, read-only)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from omni_r1.data.synthetic import (
    SyntheticAVHBench,
    SyntheticMeViS,
    SyntheticRefAVS,
    SyntheticRefCOCOg,
    SyntheticReVOS,
    SyntheticVideoQA,
    build_avhbench,
    build_mevis,
    build_refavs,
    build_refcocog,
    build_revos,
    build_videoqa,
    write_avhbench,
    write_mevis,
    write_refavs,
    write_refcocog,
    write_revos,
    write_videoqa,
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


# ------------------------------------------------------------------ MeViS, refCOCOg, AVHBench, VideoQA roots

MEVIS_KW = {"num_videos": 6, "num_frames": 10, "height": 64, "width": 96, "seed": 0}
REFCOCOG_KW = {"num_images": 6, "height": 64, "width": 96, "seed": 0}
AVHBENCH_KW = {"num_videos": 2, "seconds": 2.0, "fps": 4.0, "seed": 0}
VIDEOQA_KW = {"num_videos": 1, "seconds": 3.0, "fps": 4.0, "seed": 0}


@pytest.fixture(scope="session")
def mevis_data() -> SyntheticMeViS:
    return build_mevis(**MEVIS_KW)


@pytest.fixture(scope="session")
def mevis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mevis(tmp_path_factory.mktemp("mevis"), **MEVIS_KW)


@pytest.fixture(scope="session")
def refcocog_data() -> SyntheticRefCOCOg:
    return build_refcocog(**REFCOCOG_KW)


@pytest.fixture(scope="session")
def refcocog_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_refcocog(tmp_path_factory.mktemp("refcocog"), **REFCOCOG_KW)


@pytest.fixture(scope="session")
def avhbench_data() -> SyntheticAVHBench:
    return build_avhbench(**AVHBENCH_KW)


@pytest.fixture(scope="session")
def avhbench_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_avhbench(tmp_path_factory.mktemp("avhbench"), **AVHBENCH_KW)


@pytest.fixture(scope="session")
def videoqa_data() -> SyntheticVideoQA:
    return build_videoqa(**VIDEOQA_KW)


@pytest.fixture(scope="session")
def videoqa_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_videoqa(tmp_path_factory.mktemp("videoqa"), **VIDEOQA_KW)


@pytest.fixture
def mevis_copy(mevis_root: Path, tmp_path: Path) -> Path:
    """A private copy for tests that break the layout."""
    return Path(shutil.copytree(mevis_root, tmp_path / "mevis"))


@pytest.fixture
def refcocog_copy(refcocog_root: Path, tmp_path: Path) -> Path:
    """A private copy for tests that break the layout."""
    return Path(shutil.copytree(refcocog_root, tmp_path / "refcocog"))


@pytest.fixture
def avhbench_copy(avhbench_root: Path, tmp_path: Path) -> Path:
    """A private copy for tests that break the layout."""
    return Path(shutil.copytree(avhbench_root, tmp_path / "avhbench"))
