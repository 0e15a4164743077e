"""Exact bytes of the policy's weights as ``omni_r1.models.loading.load_thinker`` leaves them.

The count walks the meta-device thinker and applies the loading pipeline's rules:

- ``from_pretrained(dtype=...)``: floating parameters in ``dtype``; buffers keep the dtype they are built with
  (rotary frequencies and the audio positional table stay float32).
- 4-bit (bitsandbytes): every ``nn.Linear`` that transformers converts (its own ``should_convert_module`` rule over
  ``QuantizationConfig.skip_modules``) stores ``ceil(n/2)`` bytes of packed weights plus, per block of 64 weights,
  an absmax: float32, or with double quantisation one byte plus a float32 per 256 blocks, a 256-entry float32
  code book and a float32 offset; each layer also owns its 16-entry float32 code. Then
  ``peft.prepare_model_for_kbit_training`` casts every other float16 / bfloat16 parameter to float32, so in a
  QLoRA run the embeddings, the output head, norms and biases are float32 (``load_thinker`` casts frozen
  encoders back to the load dtype: they gain nothing from float32).
- LoRA (peft): ``r·(in + out)`` float32 parameters per adapted module (peft upcasts half-precision adapters).

Two counts serve what the weights cost beyond their storage: the parameters of the largest decoder layer (an
FSDP unit is gathered in its compute dtype, not its storage dtype) and the float32 trainable parameters of linear
layers: under autocast (``precision: bf16-mixed``) each one is cast to bf16 once and the copy is cached until the
autocast region (Lightning's whole training step) ends, grad mode or not.

Tied parameters are counted once. The estimate equals the bytes the loaded model allocates (a test checks it on
the tiny thinker, in float32 and in 4-bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from omni_r1.models.loading import ENCODER_NAMES, LoraConfig, QuantizationConfig

_HALF = ("torch.float16", "torch.bfloat16")
NF4_BLOCK = 64  # weights per absmax (bitsandbytes' 4-bit default)
NESTED_BLOCK = 256  # absmax values per nested absmax (double quantisation)


def nf4_bytes(numel: int, double_quant: bool) -> int:
    """Bytes of one 4-bit weight of ``numel`` elements: packed nibbles plus its quantisation state."""
    blocks = math.ceil(numel / NF4_BLOCK)
    packed = (numel + 1) // 2
    code = 16 * 4
    if double_quant:
        absmax = blocks + math.ceil(blocks / NESTED_BLOCK) * 4 + NESTED_BLOCK * 4 + 4
    else:
        absmax = blocks * 4
    return packed + absmax + code


@dataclass(frozen=True)
class WeightBytes:
    """Weights of the policy, by part.

    Attributes:
        encoders: vision and audio encoder parameters.
        language: language-model parameters (embeddings, decoder layers, norms), 4-bit ones with their state.
        lm_head: output head parameters (0 when tied to the embeddings).
        buffers: registered buffers (rotary frequencies, positional tables).
        lora: LoRA adapter parameters (float32).
        trainable_params: number of parameters the optimizer updates.
        trainable_bytes: their bytes (gradients have the same size).
        trainable_element_bytes: bytes per trainable element (the optimizer's state dtype follows it).
        largest_layer: bytes of the largest language-model decoder layer (one FSDP unit when wrapped per layer).
        quantized_linears: how many linear layers are stored in 4 bits.
        largest_layer_params: parameters of that layer.
        autocast_cast_params: trainable float32 parameters of linear layers (LoRA adapters included): the
            weights autocast casts and caches in half precision for a whole step.
    """

    encoders: int
    language: int
    lm_head: int
    buffers: int
    lora: int
    trainable_params: int
    trainable_bytes: int
    trainable_element_bytes: int
    largest_layer: int
    quantized_linears: int
    largest_layer_params: int = 0
    autocast_cast_params: int = 0

    @property
    def base(self) -> int:
        """The loaded base model without adapters: what a frozen reference copy duplicates."""
        return self.encoders + self.language + self.lm_head + self.buffers

    @property
    def total(self) -> int:
        return self.base + self.lora


def is_encoder(name: str) -> bool:
    """Whether a parameter or module name lies inside the vision or audio encoder."""
    return any(part in ENCODER_NAMES for part in name.split("."))


def _layer_key(name: str) -> str | None:
    """``model.language_model.layers.3`` for a parameter inside decoder layer 3, else ``None``."""
    parts = name.split(".")
    for i in range(len(parts) - 1):
        if parts[i] == "layers" and parts[i + 1].isdigit() and not is_encoder(name):
            return ".".join(parts[: i + 2])
    return None


def quantized_linear_names(model: nn.Module, quantization: QuantizationConfig | None) -> set[str]:
    """Names of the linear layers transformers stores in 4 bits (empty without 4-bit loading)."""
    if quantization is None or not quantization.load_in_4bit:
        return set()
    from transformers.quantizers.quantizers_utils import should_convert_module

    skip = list(quantization.skip_modules) + list(getattr(model, "_keep_in_fp32_modules", None) or [])
    return {
        name
        for name, module in model.named_modules()
        if type(module) is nn.Linear and should_convert_module(name, skip)
    }


def lora_target_names(model: nn.Module, lora: LoraConfig | None) -> set[str]:
    """Names of the modules peft adapts, matched with peft's own rule."""
    if lora is None:
        return set()
    from peft import LoraConfig as PeftLoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    config = PeftLoraConfig(r=lora.r, lora_alpha=lora.alpha, target_modules=lora.target_modules)
    return {
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and check_target_module_exists(config, name)
    }


def weight_bytes(
    model: nn.Module,
    *,
    quantization: QuantizationConfig | None = None,
    lora: LoraConfig | None = None,
    freeze_encoders: bool = True,
) -> WeightBytes:
    """Bytes of the policy built from meta-device ``model`` (see the module docstring for the rules).

    Raises:
        ValueError: 4-bit weights without LoRA (``load_thinker`` refuses them too), or LoRA targets that match
            no module.
    """
    quantized = quantized_linear_names(model, quantization)
    if quantized and lora is None:
        raise ValueError("4-bit weights cannot be trained directly: set `lora` together with `quantization`")
    double_quant = bool(quantization and quantization.double_quant)
    modules = dict(model.named_modules())
    parts = {"encoders": 0, "language": 0, "lm_head": 0}
    layers: dict[str, int] = {}
    layer_params: dict[str, int] = {}
    trainable_params = trainable_bytes = element = cast_params = 0
    seen: set[int] = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:  # tied weights
            continue
        seen.add(id(param))
        owner, _, leaf = name.rpartition(".")
        if owner in quantized and leaf == "weight":
            size = nf4_bytes(param.numel(), double_quant)
        elif quantized and str(param.dtype) in _HALF and not (freeze_encoders and is_encoder(name)):
            size = param.numel() * 4  # prepare_model_for_kbit_training upcasts; load_thinker re-casts frozen encoders
        else:
            size = param.numel() * param.element_size()
        part = "encoders" if is_encoder(name) else "lm_head" if name.startswith("lm_head.") else "language"
        parts[part] += size
        if (layer := _layer_key(name)) is not None:
            layers[layer] = layers.get(layer, 0) + size
            layer_params[layer] = layer_params.get(layer, 0) + param.numel()
        if lora is None and not (freeze_encoders and is_encoder(name)):
            trainable_params += param.numel()
            trainable_bytes += size
            element = size // max(param.numel(), 1)
            if type(modules.get(owner)) is nn.Linear and size == 4 * param.numel():
                cast_params += param.numel()
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())

    adapter_params = 0
    if lora is not None:
        targets = lora_target_names(model, lora)
        if not targets:
            raise ValueError(f"lora.target_modules {lora.target_modules!r} matches no module of the thinker")
        for target in targets:
            linear = modules[target]
            adapter_params += lora.r * (linear.in_features + linear.out_features)
        trainable_params, trainable_bytes, element = adapter_params, adapter_params * 4, 4
        cast_params = adapter_params  # the adapters are float32 linear layers
    return WeightBytes(
        encoders=parts["encoders"],
        language=parts["language"],
        lm_head=parts["lm_head"],
        buffers=buffers,
        lora=adapter_params * 4,
        trainable_params=trainable_params,
        trainable_bytes=trainable_bytes,
        trainable_element_bytes=element,
        largest_layer=max(layers.values(), default=0),
        quantized_linears=len(quantized),
        largest_layer_params=max(layer_params.values(), default=0),
        autocast_cast_params=cast_params,
    )
