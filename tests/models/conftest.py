"""Session-wide tiny Qwen2.5-Omni thinker, built once offline and loaded through ``from_pretrained``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omni_r1.models.tiny import build_tiny_omni


@pytest.fixture(scope="session")
def tiny_omni_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of the seed-0 tiny thinker and its processor."""
    return build_tiny_omni(tmp_path_factory.mktemp("tiny") / "qwen2.5-omni", seed=0)


@pytest.fixture(scope="session")
def tiny_omni(tiny_omni_dir: Path) -> tuple[Any, Any]:
    """``(thinker, processor)`` loaded the way ``Qwen/Qwen2.5-Omni-7B`` is; read-only for tests (eval mode)."""
    from transformers import Qwen2_5OmniProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(tiny_omni_dir).eval()
    return model, Qwen2_5OmniProcessor.from_pretrained(tiny_omni_dir)
