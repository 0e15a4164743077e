"""Models of the two systems: the Global system (policy), its loading, and tiny offline models for tests."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "GlobalSystem": "omni_r1.models.global_system",
    "PixelBudget": "omni_r1.models.global_system",
    "Rollouts": "omni_r1.models.rollouts",
    "LoraConfig": "omni_r1.models.loading",
    "QuantizationConfig": "omni_r1.models.loading",
    "load_thinker": "omni_r1.models.loading",
    "resolve_pretrained": "omni_r1.models.hub",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: importing transformers costs seconds; light submodules (hub, tiny) should not pay for it.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omni_r1.models' has no attribute {name!r}")
