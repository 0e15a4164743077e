"""The LightningModules that train the Global system: SFT (warm start, the paper's SFT baseline) and GRPO."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Experience": "omni_r1.training.experience",
    "GRPOModule": "omni_r1.training.grpo_module",
    "SFTModule": "omni_r1.training.sft_module",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: importing the modules loads lightning and transformers.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omni_r1.training' has no attribute {name!r}")
