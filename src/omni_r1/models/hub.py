"""Resolve a model name to something ``from_pretrained`` accepts, building ``tiny://`` models on first use.

Configs name models the same way in a 7B run and in a CPU test: ``Qwen/Qwen2.5-Omni-7B`` (a Hub id), a local
folder, or ``tiny://qwen2.5-omni?seed=3``. Only the last is handled here: it is built offline into a cache folder
once and its path returned; everything else passes through untouched for transformers to resolve.

Loading the thinker from a full Qwen2.5-Omni folder needs no helper: with transformers 5.2x,
``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained`` reads ``thinker_config`` from a
``model_type: qwen2_5_omni`` config and strips the ``thinker.`` weight prefix (talker weights are ignored).
``tiny://qwen2.5-omni-full`` builds that layout so the path is tested.

This module imports nothing heavy: building happens in :mod:`omni_r1.models.tiny`, imported on demand.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

TINY_SCHEME = "tiny"
CACHE_ENV = "OMNI_R1_CACHE"
TINY_MODELS = ("qwen2.5-omni", "qwen2.5-omni-full", "qwen2")


def default_cache_dir() -> Path:
    """``$OMNI_R1_CACHE`` if set, else ``~/.cache/omni_r1``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "omni_r1").expanduser()


def parse_tiny_name(name: str) -> tuple[str, int]:
    """Split ``tiny://<model>?seed=<int>`` into ``(model, seed)``; the seed defaults to 0.

    Raises:
        ValueError: unknown model, unknown query key, or a seed that is not a non-negative integer.
    """
    parts = urlsplit(name)
    if parts.scheme != TINY_SCHEME:
        raise ValueError(f"{name!r} is not a {TINY_SCHEME}:// model name")
    model = parts.netloc + parts.path.rstrip("/")
    if model not in TINY_MODELS:
        raise ValueError(f"unknown tiny model {model!r} in {name!r}; expected one of {list(TINY_MODELS)}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"seed"})
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} in {name!r}; only 'seed' is accepted")
    seeds = query.get("seed", ["0"])
    if len(seeds) != 1 or not seeds[0].isdigit():
        raise ValueError(f"seed in {name!r} must be one non-negative integer, got {seeds}")
    return model, int(seeds[0])


def resolve_pretrained(name_or_path: str, cache_dir: str | None = None) -> str:
    """Return a name or folder for ``from_pretrained``: ``tiny://`` names are built into ``cache_dir`` if missing.

    Args:
        name_or_path: ``tiny://qwen2.5-omni``, ``tiny://qwen2.5-omni-full``, ``tiny://qwen2`` (each optionally
            ``?seed=N``); any other string (Hub id, local path) is returned unchanged.
        cache_dir: where tiny models live; defaults to :func:`default_cache_dir`.

    Returns:
        The local folder of the tiny model, or ``name_or_path`` itself.
    """
    if not name_or_path.startswith(f"{TINY_SCHEME}://"):
        return name_or_path
    model, seed = parse_tiny_name(name_or_path)
    from omni_r1.models import tiny  # heavy: transformers and tokenizers

    builders = {
        "qwen2.5-omni": tiny.build_tiny_omni,
        "qwen2.5-omni-full": tiny.build_tiny_omni_full,
        "qwen2": tiny.build_tiny_qwen2,
    }
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = root / "tiny" / f"{model}-seed{seed}-v{tiny.TINY_VERSION}"
    return str(builders[model](folder, seed=seed))
