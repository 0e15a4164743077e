"""The memory plan of float32 master weights with bf16 compute, and autocast's cast cache, counted as they occur.

The FSDP recipe keeps float32 weights, gradients and AdamW states (sharded) and gathers each decoder layer as a
bf16 copy; without FSDP's bf16 gathering, ``bf16-mixed`` autocast caches a bf16 copy of every float32 trainable
linear weight until the training step ends. That last rule is checked on the tiny thinker itself: every
``_to_copy`` of a trainable parameter to bf16 during a forward and backward pass under CPU autocast is recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from omni_r1.config import resolved_config
from omni_r1.models.loading import LoraConfig, QuantizationConfig, load_thinker
from omni_r1.plan.architecture import meta_thinker, thinker_config
from omni_r1.plan.estimate import estimate
from omni_r1.plan.settings import run_settings
from omni_r1.plan.weights import weight_bytes

REPO = Path(__file__).resolve().parents[2]
FSDP_7B = str(REPO / "configs" / "omni_r1_7b.yaml")
QLORA_7B = str(REPO / "configs" / "omni_r1_7b_qlora_24gb.yaml")
CACHE_ITEM = "autocast bf16 copies"


def _plan(path: str, *overrides: str):
    return estimate(run_settings(resolved_config(["--config", path, *overrides]), source=path))


def _item(plan, prefix: str):
    return next((i for i in plan.items if i.name.startswith(prefix)), None)


def test_fsdp_recipe_shards_float32_master_state_and_gathers_bf16_layers() -> None:
    plan = _plan(FSDP_7B)
    s, w = plan.settings, plan.weights
    assert (s.dtype, s.precision) == ("float32", "bf16-mixed")
    assert (s.strategy.param_bytes, s.strategy.reduce_bytes) == (2, 4)
    assert w.trainable_element_bytes == 4
    assert _item(plan, "gradients").bytes == 4 * w.trainable_params
    assert _item(plan, "optimizer states").bytes == 2 * 4 * w.trainable_params
    assert _item(plan, "frozen reference copy").bytes == w.base  # the float32 initial weights
    # two bf16 layers gathered, one layer's bf16 gradients and their float32 copy for the reduce-scatter
    assert _item(plan, "FSDPStrategy gathered layer").sharded_bytes == (3 * 2 + 4) * w.largest_layer_params
    assert w.largest_layer == 4 * w.largest_layer_params
    assert _item(plan, CACHE_ITEM) is None  # autocast sees FSDP's bf16 copies, not the float32 weights

    bf16 = _plan(FSDP_7B, "--model.init_args.policy.init_args.dtype", "bfloat16")
    master = ("policy weights: language model", "policy weights: output head", "gradients", "optimizer states")
    for prefix in master:  # float32 master weights cost twice the bf16 weights' memory
        assert _item(plan, prefix).bytes == 2 * _item(bf16, prefix).bytes, prefix


def test_autocast_cache_is_counted_without_bf16_gathering() -> None:
    single = _plan(FSDP_7B, "--trainer.strategy", "auto", "--trainer.devices", "1")
    w = single.weights
    assert single.settings.autocast_weight_cache
    assert _item(single, CACHE_ITEM).bytes == 2 * w.autocast_cast_params
    assert 0.9 * w.trainable_params < w.autocast_cast_params < w.trainable_params  # all but the embeddings

    bf16 = _plan(FSDP_7B, "--trainer.strategy", "auto", "--model.init_args.policy.init_args.dtype", "bfloat16")
    assert bf16.weights.autocast_cast_params == 0 and _item(bf16, CACHE_ITEM) is None

    qlora = _plan(QLORA_7B)
    assert _item(qlora, CACHE_ITEM).bytes == 2 * qlora.weights.trainable_params == qlora.weights.lora // 2

    full_precision = _plan(FSDP_7B, "--trainer.strategy", "auto", "--trainer.precision", "32-true")
    assert _item(full_precision, CACHE_ITEM) is None


class _CastRecorder(TorchDispatchMode):
    """Records which tensors are copied to bf16 (autocast's casts are ``_to_copy`` calls below it)."""

    def __init__(self) -> None:
        super().__init__()
        self.pointers: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and kwargs.get("dtype") == torch.bfloat16:
            self.pointers.add(args[0].data_ptr())
        return func(*args, **kwargs)


@pytest.mark.parametrize("adapters", [False, True], ids=["full", "qlora"])
def test_the_counted_weights_are_what_autocast_casts(adapters: bool) -> None:
    quantization = QuantizationConfig() if adapters else None
    lora = LoraConfig(r=4) if adapters else None
    model = load_thinker("tiny://qwen2.5-omni", dtype="float32", quantization=quantization, lora=lora).train()
    trainable = {p.data_ptr(): p.numel() for p in model.parameters() if p.requires_grad}
    ids = torch.randint(0, 200, (2, 12), generator=torch.Generator().manual_seed(0))
    recorder = _CastRecorder()
    with recorder, torch.autocast("cpu", dtype=torch.bfloat16):
        model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.float().sum().backward()
    cast = sum(numel for pointer, numel in trainable.items() if pointer in recorder.pointers)

    meta = meta_thinker(thinker_config("tiny://qwen2.5-omni"), "float32")
    counted = weight_bytes(meta, quantization=quantization, lora=lora).autocast_cast_params
    assert cast == counted > 0
