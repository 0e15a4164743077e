"""The keyword a decoder's ``forward`` takes its KV cache by: ``cache`` in recent transformers releases, the
deprecated ``past_key_values`` (a FutureWarning on every call) in the older ones the kit still supports."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any

from torch import nn


@cache
def _keyword(forward_owner: type) -> str:
    parameters = inspect.signature(forward_owner.forward).parameters  # through functools.wraps of the deprecation
    return "cache" if "cache" in parameters else "past_key_values"


def cache_kwargs(model: nn.Module, kv_cache: Any) -> dict[str, Any]:
    """``{keyword: cache}`` for ``model(...)``; a peft wrapper forwards keywords to the model it wraps."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {_keyword(type(base)): kv_cache}
