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
    "sample_s1_indices": "omni_r1.data.sampling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: readers pull in torchcodec and lightning, which record-only users do not need.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omni_r1.data' has no attribute {name!r}")
