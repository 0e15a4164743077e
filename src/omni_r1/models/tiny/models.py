"""Tiny random-weight models in memory, deterministic for a seed and leaving the caller's torch RNG untouched.

Only the sizes differ from the real model: 2 text layers of width 64, a 2-block vision encoder and a 2-layer
audio encoder, about 0.3 M parameters; the classes are the stock transformers ones, so the loading code that
serves ``Qwen/Qwen2.5-Omni-7B`` is exercised as is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from omni_r1.models.tiny.configs import tiny_qwen2_config, tiny_thinker_config
from omni_r1.models.tiny.tokenizer import build_processor, build_tokenizer


def seeded(seed: int, make: Callable[[], Any]) -> Any:
    """Run ``make`` with the torch RNG seeded, leaving the caller's RNG state untouched.

    Random weights then depend on ``seed`` only, not on what the caller drew before.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def _set_generation_defaults(model: Any, tokenizer: Any) -> None:
    # Qwen chat models stop on <|im_end|> or <|endoftext|> and pad with <|endoftext|>.
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def make_tiny_omni(seed: int = 0) -> tuple[Any, Any]:
    """In-memory tiny thinker and processor; :func:`~omni_r1.models.tiny.cache.build_tiny_omni` saves exactly these.

    Returns:
        ``(Qwen2_5OmniThinkerForConditionalGeneration in eval mode, Qwen2_5OmniProcessor)``.
    """
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    tokenizer = build_tokenizer()
    config = tiny_thinker_config(tokenizer)
    model = seeded(seed, lambda: Qwen2_5OmniThinkerForConditionalGeneration(config)).eval()
    _set_generation_defaults(model, tokenizer)
    return model, build_processor(tokenizer)


def make_tiny_qwen2(seed: int = 0) -> tuple[Any, Any]:
    """In-memory tiny text-only ``Qwen2ForCausalLM`` sharing the Omni tokenizer (text-only tests, benchmarks)."""
    from transformers import Qwen2ForCausalLM

    tokenizer = build_tokenizer()
    config = tiny_qwen2_config(tokenizer)
    model = seeded(seed, lambda: Qwen2ForCausalLM(config)).eval()
    _set_generation_defaults(model, tokenizer)
    return model, tokenizer
