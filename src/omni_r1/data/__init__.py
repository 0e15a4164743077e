"""DataModules reading the official on-disk layouts, and the synthetic writers of those layouts."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VideoSample": "omni_r1.data.types",
    "collate_samples": "omni_r1.data.types",
    "DatasetLayoutError": "omni_r1.data.layout",
    "DatasetFormatError": "omni_r1.data.layout",
    "RefAVSDataset": "omni_r1.data.refavs",
    "RefAVSDataModule": "omni_r1.data.refavs",
    "ReVOSDataset": "omni_r1.data.revos",
    "ReVOSDataModule": "omni_r1.data.revos",
    "write_refavs": "omni_r1.data.synthetic",
    "write_revos": "omni_r1.data.synthetic",
    "ensure_synthetic": "omni_r1.data.synthetic",
    "sample_s1_indices": "omni_r1.data.frame_sampling",
    "QASample": "omni_r1.data.records",
    "MeViSDataset": "omni_r1.data.mevis",
    "MeViSDataModule": "omni_r1.data.mevis",
    "RefCOCOgDataset": "omni_r1.data.refcocog",
    "RefCOCOgDataModule": "omni_r1.data.refcocog",
    "AVHBenchDataset": "omni_r1.data.avhbench",
    "AVHBenchDataModule": "omni_r1.data.avhbench",
    "VideoQADataset": "omni_r1.data.videoqa",
    "VideoQADataModule": "omni_r1.data.videoqa",
    "MixtureDataModule": "omni_r1.data.mixture",
    "MixtureSampler": "omni_r1.data.mixture",
    "Report": "omni_r1.data.integrity",
    "write_mevis": "omni_r1.data.synthetic",
    "write_refcocog": "omni_r1.data.synthetic",
    "write_avhbench": "omni_r1.data.synthetic",
    "write_videoqa": "omni_r1.data.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: readers pull in torchcodec and lightning, which record-only users do not need.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omni_r1.data' has no attribute {name!r}")
