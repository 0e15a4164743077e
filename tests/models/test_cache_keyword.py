"""Both policies hand their KV cache to the decoder by the keyword the installed transformers expects, so sampling
raises no ``past_key_values`` deprecation (transformers' FutureWarning, once per decoding step otherwise)."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import pytest

from omni_r1.models.cache_keyword import cache_kwargs
from omni_r1.models.text_policy import TextPolicy, TextSample
from omni_r1.models.tiny import build_tiny_qwen2


def _cache_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "past_key_values" in str(w.message)]


def test_the_keyword_follows_the_decoders_signature(tiny_omni) -> None:
    decoder = tiny_omni[0].model
    expected = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
    assert list(cache_kwargs(decoder, object())) == [expected]


def test_omni_sampling_raises_no_cache_deprecation(tiny_policy_factory, revos_batch) -> None:
    policy = tiny_policy_factory()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy.generate(revos_batch, num_generations=2, max_new_tokens=4)
    assert _cache_warnings(caught) == []


def test_text_sampling_raises_no_cache_deprecation(tmp_path_factory: pytest.TempPathFactory) -> None:
    policy = TextPolicy(str(build_tiny_qwen2(Path(tmp_path_factory.mktemp("tiny")) / "qwen2", seed=0)))
    prompt = policy.encode([TextSample("Count"), TextSample("What colour is the sky?")])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy.generate(prompt, num_generations=2, max_new_tokens=4)
    assert _cache_warnings(caught) == []
