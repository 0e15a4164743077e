"""Loading a Qwen2.5-Omni thinker for training: dtype, 4-bit (bitsandbytes NF4), LoRA (peft), frozen encoders.

The same function takes ``Qwen/Qwen2.5-Omni-7B``, a local folder or a ``tiny://`` name; only the path differs
between a 7B run and the CPU demo.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import nn

from omni_r1.models.hub import TINY_SCHEME, parse_tiny_name, resolve_pretrained
from omni_r1.validation import (
    ConfigError,
    as_arguments,
    paths_checked,
    require,
    require_bool,
    require_choice,
    require_int,
    require_number,
    require_str,
)

# The language model's projections. Encoders are excluded by the ``model.layers`` anchor: the paper trains the
# language model only (vision and audio encoders frozen).
DEFAULT_LORA_TARGETS = r".*model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"

ENCODER_NAMES = ("visual", "audio_tower")

Dtype = Literal["float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = get_args(Dtype)
_DTYPES = {name: getattr(torch, name) for name in DTYPES}

QuantType = Literal["nf4", "fp4"]
QUANT_TYPES: tuple[str, ...] = get_args(QuantType)


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
    quant_type: QuantType = "nf4"
    compute_dtype: Dtype = "bfloat16"
    double_quant: bool = True
    skip_modules: list[str] = field(
        default_factory=lambda: ["lm_head", "model.visual", "model.audio_tower", "visual", "audio_tower"]
    )

    def __post_init__(self) -> None:
        self.validate_init_args(as_arguments(self))

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value bitsandbytes would reject at load time."""
        require_bool("load_in_4bit", args.get("load_in_4bit"))
        require_choice("quant_type", args.get("quant_type"), QUANT_TYPES)
        require_choice("compute_dtype", args.get("compute_dtype"), DTYPES)
        require_bool("double_quant", args.get("double_quant"))
        skip = args.get("skip_modules")
        ok = isinstance(skip, (list, tuple)) and all(isinstance(name, str) and name for name in skip)
        require(ok, "skip_modules", skip, "must be a list of module-name prefixes (strings)")


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

    def __post_init__(self) -> None:
        self.validate_init_args(as_arguments(self))

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a rank, scale, dropout or target peft cannot use."""
        require_int("r", args.get("r"), minimum=1)
        require_number("alpha", args.get("alpha"), minimum=0, exclusive_minimum=True)
        require_number("dropout", args.get("dropout"), minimum=0, maximum=1, exclusive_maximum=True)
        targets = args.get("target_modules")
        if isinstance(targets, str):
            require_str("target_modules", targets)
            try:
                re.compile(targets)
            except re.error as err:
                raise ConfigError("target_modules", targets, f"is not a regular expression ({err})") from None
            return
        ok = isinstance(targets, (list, tuple)) and bool(targets) and all(isinstance(t, str) and t for t in targets)
        require(ok, "target_modules", targets, "must be a regular expression or a non-empty list of module names")


def torch_dtype(name: str) -> torch.dtype:
    """Parse a dtype name from a config; errors name the accepted values."""
    if name not in _DTYPES:
        raise ValueError(f"unknown dtype {name!r}; expected one of {sorted(_DTYPES)}")
    return _DTYPES[name]


# ---------------------------------------------------------------------------------------------------- value checks
def require_attn_implementation(key: str, value: Any) -> None:
    """``value`` is an attention implementation transformers knows (``eager``, ``sdpa``, ``flash_attention_2``...)
    or a Hub kernel (``org/repo``), so a typo fails here rather than after the config loads."""
    try:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

        known: tuple[str, ...] = ("eager", *ALL_ATTENTION_FUNCTIONS.keys())
    except ImportError:  # a transformers without the registry
        known = ("eager", "sdpa", "flash_attention_2")
    ok = isinstance(value, str) and (value in known or "/" in value)
    require(ok, key, value, f"must be one of {', '.join(map(repr, known))} or a Hub kernel 'org/repo'")


def require_trainable_quantization(quantization: Any, lora: Any, key: str = "quantization") -> None:
    """4-bit base weights have no gradients: quantisation needs LoRA adapters to train.

    Both arguments may be config objects or their mappings in a parsed config.
    """
    args = as_arguments(quantization) if quantization is not None else None
    if args is not None and args.get("load_in_4bit", True) and lora is None:
        raise ConfigError(
            f"{key}.load_in_4bit", True, "4-bit weights cannot be trained directly: set `lora` together with it"
        )


def _looks_like_hub_id(value: str) -> bool:
    """Whether ``value`` can be a Hugging Face repo id (``name`` or ``org/name``) rather than only a local path."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    separators = tuple(s for s in (os.sep, os.altsep, "/") if s)
    if os.path.isabs(value) or value.startswith((".", "~")) or value.endswith(separators) or value.count("/") > 1:
        return False
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


def require_model_name_or_path(key: str, value: Any, *, tiny_models: tuple[str, ...]) -> None:
    """``value`` is something this kit can load: a ``tiny://`` name among ``tiny_models``, an existing local
    folder, or a Hub repo id (``org/name``; whether it exists is only known when it loads, see
    :func:`explain_unavailable_model`).

    A value that can only be a local path and does not exist is rejected here, before anything loads: the usual
    cause is a later stage pointed at an earlier stage's output that was never written.
    """
    require_str(key, value, note="a Hugging Face repo id, a local model folder or tiny://<model>")
    if value.startswith(f"{TINY_SCHEME}://"):
        try:
            model, _ = parse_tiny_name(value)
        except ValueError as err:
            raise ConfigError(key, value, str(err)) from None
        names = ", ".join(f"{TINY_SCHEME}://{name}" for name in tiny_models)
        require(model in tiny_models, key, value, f"this class loads the tiny models {names}")
        return
    if not paths_checked():
        return
    path = Path(value).expanduser()
    if path.is_dir():
        return
    if path.exists():
        raise ConfigError(key, value, f"{path.resolve()} is a file; expected a model folder, a hub repo id or tiny://")
    if _looks_like_hub_id(value):
        return  # a Hub id: transformers resolves it (explain_unavailable_model words a failure)
    raise ConfigError(
        key,
        value,
        f"local path does not exist ({path.resolve()}); a GRPO config usually names the SFT stage's exported "
        "policy here (its export_dir, e.g. runs/demo/policy): run that stage first, or name a Hub repo id",
    )


@contextmanager
def explain_unavailable_model(name_or_path: str, key: str = "model_name_or_path") -> Iterator[None]:
    """Re-raise a failed ``from_pretrained`` of a Hub id as a :class:`~omni_r1.validation.ConfigError` naming it.

    transformers says "couldn't connect to huggingface.co" or "not a valid model identifier" without the config
    key; a name that is not a local folder and cannot be fetched is a configuration problem. Errors loading an
    existing folder or a ``tiny://`` model pass through unchanged (they are about the files, not the name).
    """
    try:
        yield
    except OSError as err:
        if name_or_path.startswith(f"{TINY_SCHEME}://") or Path(name_or_path).expanduser().exists():
            raise
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(
            key, name_or_path, f"neither an existing local folder nor an available Hugging Face Hub repo ({reason})"
        ) from err


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

    require_trainable_quantization(quantization, lora)
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
    base, key = (adapter["base_model_name_or_path"], "base_model_name_or_path") if adapter else (name_or_path, "")
    with explain_unavailable_model(base, key or "model_name_or_path"):
        base_path = resolve_pretrained(base) if adapter else path
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
    if lora is not None:
        float32_adapters(model)
    return model


def float32_adapters(model: nn.Module) -> int:
    """Keep every trainable parameter of an adapter model in float32; returns how many were cast.

    The adapters are what AdamW updates: in bf16 an lr-sized step mostly rounds away, so they are the float32
    master weights whatever the base is (4-bit, bf16). peft upcasts fresh and loaded adapters itself
    (``autocast_adapter_dtype``); this holds it for any version and any adapter folder.
    """
    cast = 0
    for param in model.parameters():
        if param.requires_grad and param.is_floating_point() and param.dtype != torch.float32:
            param.data = param.data.float()
            cast += 1
    return cast


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
