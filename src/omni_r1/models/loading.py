"""Loading a Qwen2.5-Omni thinker for training: dtype, 4-bit (bitsandbytes NF4), LoRA (peft), frozen encoders.

The same function takes ``Qwen/Qwen2.5-Omni-7B``, a local folder or a ``tiny://`` name; only the path differs
between a 7B run and the CPU demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from omni_r1.models.hub import resolve_pretrained

# The language model's projections. Encoders are excluded by the ``model.layers`` anchor: the paper trains the
# language model only (vision and audio encoders frozen).
DEFAULT_LORA_TARGETS = r".*model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"

ENCODER_NAMES = ("visual", "audio_tower")

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class QuantizationConfig:
    """4-bit loading of the base weights through bitsandbytes (QLoRA).

    Args:
        load_in_4bit: quantise linear layers of the base model to 4 bits.
        quant_type: ``nf4`` (QLoRA's NormalFloat4) or ``fp4``.
        compute_dtype: dtype of the matmuls on dequantised weights.
        double_quant: also quantise the quantisation constants (saves ~0.4 bit per weight).
        skip_modules: module-name prefixes kept in full precision (encoders and the output head: they are small
            and the head's precision matters for log-probs).
    """

    load_in_4bit: bool = True
    quant_type: str = "nf4"
    compute_dtype: str = "bfloat16"
    double_quant: bool = True
    skip_modules: list[str] = field(
        default_factory=lambda: ["lm_head", "model.visual", "model.audio_tower", "visual", "audio_tower"]
    )


@dataclass
class LoraConfig:
    """Low-rank adapters on the language model (peft).

    Args:
        r: adapter rank.
        alpha: scaling numerator (the update is scaled by ``alpha / r``).
        dropout: dropout on the adapter input.
        target_modules: regular expression (full match) or list of module names to adapt.
    """

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = DEFAULT_LORA_TARGETS


def torch_dtype(name: str) -> torch.dtype:
    """Parse a dtype name from a config; errors name the accepted values."""
    if name not in _DTYPES:
        raise ValueError(f"unknown dtype {name!r}; expected one of {sorted(_DTYPES)}")
    return _DTYPES[name]


def load_thinker(
    name_or_path: str,
    *,
    dtype: str = "float32",
    quantization: QuantizationConfig | None = None,
    lora: LoraConfig | None = None,
    gradient_checkpointing: bool = False,
    freeze_encoders: bool = True,
    attn_implementation: str = "sdpa",
) -> nn.Module:
    """Load the Qwen2.5-Omni thinker (``Qwen2_5OmniThinkerForConditionalGeneration``) ready for training.

    Returns a peft model when ``lora`` is given (adapters can then be switched off for the reference policy
    and the S2 grounder: one set of base weights serves all three roles).
    """
    from transformers import BitsAndBytesConfig, Qwen2_5OmniThinkerForConditionalGeneration

    if quantization is not None and quantization.load_in_4bit and lora is None:
        raise ValueError("4-bit weights cannot be trained directly: set `lora` together with `quantization`")
    path = resolve_pretrained(name_or_path)
    kwargs: dict = {"dtype": torch_dtype(dtype), "attn_implementation": attn_implementation}
    if quantization is not None and quantization.load_in_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization.quant_type,
            bnb_4bit_compute_dtype=torch_dtype(quantization.compute_dtype),
            bnb_4bit_use_double_quant=quantization.double_quant,
            llm_int8_skip_modules=list(quantization.skip_modules),
        )
    adapter = _adapter_config(path)
    base_path = resolve_pretrained(adapter["base_model_name_or_path"]) if adapter else path
    model = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(base_path, **kwargs)

    if freeze_encoders:
        freeze_modality_encoders(model)

    if quantization is not None and quantization.load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
        keep_trainable_4bit_layout(model)
        if freeze_encoders:
            # peft upcasts every non-4-bit weight to float32 for stable training; the frozen encoders gain
            # nothing from it (≈4.5 GiB more for the 7B model), so they go back to the load dtype.
            # Parameters only: buffers such as rotary frequencies stay float32, as transformers loads them.
            for encoder in encoder_modules(model):
                for param in encoder.parameters():
                    param.data = param.data.to(torch_dtype(dtype))
    elif gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False

    if adapter is not None:
        # A saved adapter (e.g. the SFT warm start of a LoRA run): keep training it when `lora` is set,
        # otherwise fold it into the base weights.
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, path, is_trainable=lora is not None)
        if lora is None:
            model = model.merge_and_unload()
    elif lora is not None:
        model = apply_lora(model, lora)
    if freeze_encoders:  # prepare_model_for_kbit_training unfreezes non-quantised params: freeze again
        freeze_modality_encoders(model)
    return model


def apply_lora(model: nn.Module, lora: LoraConfig) -> nn.Module:
    """Wrap ``model`` with fresh peft LoRA adapters (biases untouched, only the adapters train)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    config = PeftLoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules, bias="none"
    )
    return get_peft_model(model, config)


def keep_trainable_4bit_layout(model: nn.Module) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference.

    On CPUs with AVX512-BF16, ``Linear4bit`` repacks its weight the first time it runs in eval mode without grad
    (as during sampling); the repacked layout has no autograd path, so the next training forward fails. GRPO
    alternates sampling and training, so the canonical layout is kept (GPUs are unaffected).
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def _adapter_config(path: str) -> dict | None:
    """The peft ``adapter_config.json`` of a local folder, or ``None`` for a full checkpoint / hub id."""
    file = Path(path) / "adapter_config.json"
    return json.loads(file.read_text()) if file.is_file() else None


def encoder_modules(model: nn.Module) -> list[nn.Module]:
    """The vision and audio encoders, wherever the transformers version nests them (``model.visual`` in v5)."""
    return [m for name, m in model.named_modules() if name.rsplit(".", 1)[-1] in ENCODER_NAMES]


def freeze_modality_encoders(model: nn.Module) -> int:
    """Freeze the vision and audio encoders; returns how many encoders were found (0 means a text-only model)."""
    encoders = encoder_modules(model)
    for encoder in encoders:
        encoder.requires_grad_(False)
    return len(encoders)
