"""The on-disk cache of tiny models: each built once into a folder in Hugging Face format, rebuilt when stale.

Every builder writes into a temporary sibling folder, adds an ``omni_r1_tiny.json`` marker last and renames the
folder into place under a file lock: a folder without a matching marker is half-written or stale and is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omni_r1.models.tiny.models import make_tiny_omni, make_tiny_qwen2

TINY_VERSION = 1
MARKER_FILE = "omni_r1_tiny.json"


def _marker(kind: str, seed: int) -> dict[str, Any]:
    import transformers

    return {"kind": kind, "seed": seed, "version": TINY_VERSION, "transformers": transformers.__version__}


def is_built(out_dir: str | os.PathLike[str], kind: str, seed: int) -> bool:
    """Whether ``out_dir`` holds a complete tiny ``kind`` model for ``seed`` built by this kit version."""
    path = Path(out_dir) / MARKER_FILE
    try:
        return json.loads(path.read_text()) == _marker(kind, seed)
    except (OSError, ValueError):
        return False


def _build_once(out_dir: str | os.PathLike[str], kind: str, seed: int, write: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling and rename it into place, under a file lock; skip if already built."""
    from filelock import FileLock

    out = Path(out_dir).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if is_built(out, kind, seed):
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            write(tmp)
            (tmp / MARKER_FILE).write_text(json.dumps(_marker(kind, seed), indent=2) + "\n")
            if out.exists():  # half-written or stale: replace whole, never merge
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            os.replace(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def build_tiny_omni(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save a tiny random ``Qwen2_5OmniThinkerForConditionalGeneration`` and its processor into ``out_dir``.

    The folder loads with ``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(out_dir)`` and
    ``Qwen2_5OmniProcessor.from_pretrained(out_dir)``. Same seed, same bytes; a complete folder is reused.

    Args:
        out_dir: destination folder (created; replaced if incomplete or built for another seed).
        seed: torch seed of the random weights (the tokenizer does not depend on it).

    Returns:
        The absolute folder path.
    """

    def write(path: Path) -> None:
        model, processor = make_tiny_omni(seed)
        model.save_pretrained(path)
        processor.save_pretrained(path)

    return _build_once(out_dir, "qwen2.5-omni", seed, write)


def build_tiny_omni_full(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Same thinker as :func:`build_tiny_omni`, saved in the layout of the full ``Qwen/Qwen2.5-Omni-7B`` folder.

    The config has ``model_type: qwen2_5_omni`` with a ``thinker_config`` and weights prefixed ``thinker.``
    (no talker, ``enable_audio_output: false``): it checks that the thinker loads from a full Omni checkpoint.
    """
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    def write(path: Path) -> None:
        thinker, processor = make_tiny_omni(seed)
        config = Qwen2_5OmniConfig(thinker_config=thinker.config.to_dict(), enable_audio_output=False)
        full = Qwen2_5OmniForConditionalGeneration(config)
        full.thinker.load_state_dict(thinker.state_dict())
        full.save_pretrained(path)
        processor.save_pretrained(path)

    return _build_once(out_dir, "qwen2.5-omni-full", seed, write)


def build_tiny_qwen2(out_dir: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Save the tiny text-only ``Qwen2ForCausalLM`` and its tokenizer into ``out_dir`` (see :func:`build_tiny_omni`)."""

    def write(path: Path) -> None:
        model, tokenizer = make_tiny_qwen2(seed)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)

    return _build_once(out_dir, "qwen2", seed, write)
