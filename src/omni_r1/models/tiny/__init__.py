"""Tiny random-weight models in Hugging Face format, built offline and deterministically for a seed.

Tests and CPU demos must exercise the exact loading code that serves ``Qwen/Qwen2.5-Omni-7B``
(``Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained`` and ``Qwen2_5OmniProcessor.from_pretrained``)
without downloading anything. So the tiny thinker uses the stock transformers classes with small widths
(:mod:`~omni_r1.models.tiny.configs`, :mod:`~omni_r1.models.tiny.models`), and its processor carries a real
byte-level BPE tokenizer with Qwen's special tokens and Qwen2.5-Omni's chat template
(:mod:`~omni_r1.models.tiny.tokenizer`). :mod:`~omni_r1.models.tiny.cache` saves them once per seed into a
folder that ``tiny://`` names resolve to. The tiny SAM2 predictor lives with the SAM2 code, in
:mod:`omni_r1.detail.sam2_tiny`.
"""

from __future__ import annotations

from omni_r1.models.tiny.cache import (
    MARKER_FILE,
    TINY_VERSION,
    build_tiny_omni,
    build_tiny_omni_full,
    build_tiny_qwen2,
    is_built,
)
from omni_r1.models.tiny.configs import tiny_qwen2_config, tiny_thinker_config
from omni_r1.models.tiny.models import make_tiny_omni, make_tiny_qwen2, seeded
from omni_r1.models.tiny.tokenizer import (
    CHAT_TEMPLATE,
    MODALITY_TOKENS,
    SPECIAL_TOKENS,
    build_processor,
    build_tokenizer,
    generation_bad_words_ids,
)

__all__ = [
    "CHAT_TEMPLATE",
    "MARKER_FILE",
    "MODALITY_TOKENS",
    "SPECIAL_TOKENS",
    "TINY_VERSION",
    "build_processor",
    "build_tiny_omni",
    "build_tiny_omni_full",
    "build_tiny_qwen2",
    "build_tokenizer",
    "generation_bad_words_ids",
    "is_built",
    "make_tiny_omni",
    "make_tiny_qwen2",
    "seeded",
    "tiny_qwen2_config",
    "tiny_thinker_config",
]
