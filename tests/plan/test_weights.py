"""The planner's weight bytes equal what the loaded tiny policy really allocates (float32 and NF4 + LoRA)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.models.loading import LoraConfig, QuantizationConfig, load_thinker
from omni_r1.plan.architecture import KNOWN_THINKERS, meta_thinker, thinker_config
from omni_r1.plan.estimate import estimate
from omni_r1.plan.settings import run_settings
from omni_r1.plan.weights import nf4_bytes, weight_bytes

FIXTURES = Path(__file__).parent / "fixtures"


def allocated_bytes(*models: nn.Module) -> int:
    """Bytes of every distinct storage behind parameters, buffers and bitsandbytes 4-bit quantisation states."""
    seen: set[tuple[int, int]] = set()
    total = 0

    def add(tensor: torch.Tensor) -> None:
        nonlocal total
        storage = tensor.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in seen:
            seen.add(key)
            total += storage.nbytes()

    for model in models:
        for tensor in [*model.parameters(), *model.buffers()]:
            add(tensor)
            state = getattr(tensor, "quant_state", None)
            if state is not None:
                for part in (state.absmax, state.code, state.offset):
                    if part is not None:
                        add(part)
                if state.nested:
                    add(state.state2.absmax)
                    add(state.state2.code)
    return total


def _plan_and_module(fixture: str):
    config = resolved_config(["--config", str(FIXTURES / fixture)])
    return estimate(run_settings(config, source=fixture)), instantiate_model(config["model"])


def test_fp32_policy_and_frozen_reference_bytes_are_exact() -> None:
    plan, module = _plan_and_module("tiny_grpo.yaml")
    policy_bytes = allocated_bytes(module.policy.model)
    assert plan.weights.total == policy_bytes
    reference = next(i for i in plan.items if i.name.startswith("frozen reference"))
    assert reference.bytes == allocated_bytes(module.reference.frozen) == policy_bytes
    trainable = sum(p.numel() for p in module.policy.parameters() if p.requires_grad)
    assert plan.weights.trainable_params == trainable  # language model + head; encoders frozen


def test_nf4_lora_policy_bytes_are_exact_after_bitsandbytes_loading() -> None:
    plan, module = _plan_and_module("tiny_grpo_qlora.yaml")
    assert plan.weights.quantized_linears == 14  # 2 layers x (q, k, v, o, gate, up, down); encoders and head skipped
    assert plan.weights.total == allocated_bytes(module.policy.model)
    lora = sum(p.numel() * p.element_size() for n, p in module.policy.model.named_parameters() if "lora_" in n)
    assert plan.weights.lora == lora
    assert not any(i.name.startswith("frozen reference") for i in plan.items)  # adapters off = reference


@pytest.mark.parametrize(
    ("dtype", "quantization", "lora"),
    [
        ("bfloat16", None, None),
        ("bfloat16", None, LoraConfig(r=8)),
        ("float32", QuantizationConfig(double_quant=False), LoraConfig(r=2, dropout=0.0)),
    ],
    ids=["bf16", "bf16-lora", "fp32-nf4-single-quant"],
)
def test_other_loading_modes_are_exact(dtype: str, quantization, lora) -> None:
    config = thinker_config("tiny://qwen2.5-omni")
    estimated = weight_bytes(meta_thinker(config, dtype), quantization=quantization, lora=lora)
    loaded = load_thinker("tiny://qwen2.5-omni", dtype=dtype, quantization=quantization, lora=lora)
    assert estimated.total == allocated_bytes(loaded)


def test_nf4_bytes_by_hand() -> None:
    # 64 x 64 weight: 2048 packed bytes, 64 blocks of 64, 16 float32 codes.
    assert nf4_bytes(4096, double_quant=False) == 2048 + 64 * 4 + 64
    # double quantisation: 64 one-byte absmax, 1 nested float32 absmax, 256-entry float32 code, float32 offset
    assert nf4_bytes(4096, double_quant=True) == 2048 + 64 + 4 + 1024 + 4 + 64


def test_published_7b_thinker_sizes() -> None:
    """Qwen2.5-Omni-7B: a 7.6 B language model (Qwen2.5-7B), a ~675 M ViT and a ~640 M Whisper encoder."""
    meta = meta_thinker(thinker_config("Qwen/Qwen2.5-Omni-7B"), "bfloat16")
    count = {name: sum(p.numel() for p in child.parameters()) for name, child in meta.model.named_children()}
    assert abs(count["visual"] - 675e6) / 675e6 < 0.01
    assert abs(count["audio_tower"] - 640e6) / 640e6 < 0.01
    language = count["language_model"] + meta.lm_head.weight.numel()
    assert abs(language - 7.61e9) / 7.61e9 < 0.01
    bf16 = weight_bytes(meta)
    assert bf16.base == 2 * sum(p.numel() for p in meta.parameters()) + bf16.buffers
    assert set(KNOWN_THINKERS) == {"Qwen/Qwen2.5-Omni-7B", "Qwen/Qwen2.5-Omni-3B"}


def test_unknown_model_name_lists_the_accepted_forms() -> None:
    with pytest.raises(FileNotFoundError, match="tiny://"):
        thinker_config("someone/not-a-model-here")
