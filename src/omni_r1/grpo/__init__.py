"""The GRPO maths: grouped advantages and the per-token policy loss (used by ``omni_r1.training``)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "group_advantages": "omni_r1.grpo.advantages",
    "policy_loss": "omni_r1.grpo.loss",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy: the maths must stay importable without loading lightning and transformers.
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'omni_r1.grpo' has no attribute {name!r}")
