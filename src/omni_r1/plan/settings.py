"""The numbers of a resolved run config that decide its memory: policy, rollouts, prompts, strategy, S2 parts.

Everything is read from the same namespace ``python -m omni_r1.fit`` would build the run from. What a config does
not fix (frames of an unknown dataset, the devices of ``devices: auto``) has to be passed to the planner; the
errors say which flag.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from omni_r1.config import init_args, section, short_class
from omni_r1.models.loading import LoraConfig, QuantizationConfig
from omni_r1.plan.activations import PromptShape
from omni_r1.plan.sam2 import Sam2Settings, sam2_size

REFAVS_AUDIO_SECONDS = 10.0
DEFAULT_OBJECTS = 3  # targets per ReVOS / MeViS expression in training (the paper's cap)
_HALF_PRECISIONS = ("16-mixed", "bf16-mixed", "16-true", "bf16-true", "16", "bf16", "transformer-engine")
_MIXED_PRECISIONS = ("16-mixed", "bf16-mixed", "16", "bf16")  # autocast over float32 weights
_PARAM_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class Strategy:
    """How the training state is split over devices.

    Attributes:
        name: strategy as configured.
        world_size: devices × nodes.
        shard_params / shard_grads / shard_optimizer: which state is split ``world_size`` ways.
        unit: what FSDP gathers at once: ``"model"`` (no wrap policy: the whole module is one unit), ``"layer"``
            or ``None`` (no gathering).
        param_bytes: element size of the parameters a sharded unit is gathered in for computing (FSDP's
            ``mixed_precision.param_dtype``, DeepSpeed's bf16 / fp16 copy); ``None``: the storage dtype's.
        reduce_bytes: element size gradients are reduced in; ``None``: the gathered parameters'.
    """

    name: str = "single device"
    world_size: int = 1
    shard_params: bool = False
    shard_grads: bool = False
    shard_optimizer: bool = False
    unit: str | None = None
    param_bytes: int | None = None
    reduce_bytes: int | None = None


@dataclass(frozen=True)
class GrounderSettings:
    """The reference grounder's generation: ``rows`` prompts of ``tokens`` tokens at once."""

    rows: int
    tokens: int


@dataclass(frozen=True)
class RunSettings:
    """What the estimate needs from a run config (see :func:`run_settings`)."""

    module: str
    model_name_or_path: str
    dtype: str
    quantization: QuantizationConfig | None
    lora: LoraConfig | None
    gradient_checkpointing: bool
    freeze_encoders: bool
    attn_implementation: str
    max_pixels: int
    prompts_per_step: int
    num_generations: int
    completion_tokens: int
    micro_batch_size: int | None
    has_reference: bool
    optimizer: str
    optimizer_states: int
    optimizer_state_bytes: int | None
    precision: str
    strategy: Strategy
    prompt: PromptShape
    sam2: Sam2Settings | None
    grounder: GrounderSettings | None
    notes: tuple[str, ...] = ()

    @property
    def act_bytes(self) -> int:
        """Element size of activations: half precision under a 16-bit trainer precision, else the weights'."""
        if self.precision in _HALF_PRECISIONS:
            return 2
        return 4 if self.quantization is not None else _PARAM_BYTES[self.dtype]

    @property
    def autocast_weight_cache(self) -> bool:
        """Whether autocast computes on the float32 weights themselves, caching a half-precision copy of each
        trainable one for the step: mixed precision without a sharded strategy that gathers half-precision
        copies for it (FSDP's ``param_dtype``, DeepSpeed)."""
        gathered_in_half = self.strategy.param_bytes is not None and self.strategy.param_bytes < 4
        return self.precision in _MIXED_PRECISIONS and not gathered_in_half

    @property
    def rollout_rows(self) -> int:
        return self.prompts_per_step * self.num_generations

    @property
    def training_rows(self) -> int:
        return min(self.micro_batch_size or self.rollout_rows, self.rollout_rows)


def _dataclass(cls: type, node: Any) -> Any:
    if node is None:
        return None
    values = init_args(node)
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def _prompt_shape(data: dict[str, Any], text_tokens: int, max_pixels: int, source: str) -> PromptShape:
    """The largest prompt a DataModule yields (a mixture: its largest member at the policy's pixel budget)."""
    name, args = short_class(data), init_args(data)
    if name == "MixtureDataModule":
        children = args.get("datasets") or {}
        members = children.values() if isinstance(children, dict) else children
        shapes = [_prompt_shape(child, text_tokens, max_pixels, source) for child in members]
        if not shapes:
            raise ValueError(f"{source}: data.init_args.datasets of MixtureDataModule is empty")
        return max(shapes, key=lambda shape: shape.tokens(max_pixels))
    if name == "RefAVSDataModule":
        return PromptShape(images=1, audio_seconds=REFAVS_AUDIO_SECONDS, text_tokens=text_tokens)
    if name == "RefCOCOgDataModule":
        return PromptShape(images=1, text_tokens=text_tokens)
    if "max_frames" in args:
        return PromptShape(video_frames=int(args["max_frames"]), text_tokens=text_tokens)
    raise ValueError(
        f"{source}: cannot tell the frames per prompt of data class {name or data!r}; pass --frames N "
        "(and --audio-seconds S for prompts with audio)"
    )


def _dtype_bytes(value: Any) -> int | None:
    """Element size of a dtype given as ``torch.bfloat16``, ``"torch.bfloat16"`` or ``"bfloat16"``; ``None``
    for no dtype."""
    if value is None:
        return None
    name = str(value).rsplit(".", 1)[-1]
    sizes = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2, "float64": 8, "double": 8}
    if name not in sizes:
        raise ValueError(f"cannot tell the element size of dtype {value!r}; expected e.g. torch.bfloat16")
    return sizes[name]


def _fsdp_dtypes(args: dict[str, Any], precision: str) -> tuple[int | None, int | None]:
    """``(param_bytes, reduce_bytes)`` of an FSDP strategy: its ``mixed_precision``, else what Lightning's
    ``FSDPPrecision`` derives from the trainer precision (16 / bf16 gather and reduce in half precision)."""
    mixed = args.get("mixed_precision")
    if isinstance(mixed, dict):
        mixed = init_args(mixed)
        param = _dtype_bytes(mixed.get("param_dtype"))
        return param, _dtype_bytes(mixed.get("reduce_dtype")) or param
    if precision in _HALF_PRECISIONS:
        return 2, 2
    return None, None


def _strategy(trainer: dict[str, Any], world_size: int | None) -> Strategy:
    precision = str(trainer.get("precision") or "32-true")
    strategy = trainer.get("strategy") or "auto"
    name = short_class(strategy) if isinstance(strategy, dict) else str(strategy)
    args = init_args(strategy) if isinstance(strategy, dict) else {}
    if world_size is None:
        devices, nodes = trainer.get("devices", 1), int(trainer.get("num_nodes") or 1)
        if isinstance(devices, (list, tuple)):
            count = len(devices)
        elif str(devices).lstrip("-").isdigit() and int(devices) > 0:
            count = int(devices)
        else:
            count = 1  # "auto" / -1: unknown here; --world-size sets it
        world_size = count * nodes
    lowered = name.lower()
    if "fsdp" in lowered:
        mode = str(args.get("sharding_strategy") or "FULL_SHARD").upper()
        full = "FULL_SHARD" in mode or "HYBRID" in mode
        split = full or "SHARD_GRAD_OP" in mode
        unit = "layer" if args.get("auto_wrap_policy") else "model"
        param, reduce = _fsdp_dtypes(args, precision)
        return Strategy(name, world_size, full, split, split, unit, param_bytes=param, reduce_bytes=reduce)
    if "deepspeed" in lowered:
        stage = int(args.get("stage") or (lowered.split("stage_")[-1][:1] if "stage_" in lowered else 2))
        half = 2 if precision in _HALF_PRECISIONS else None  # the engine computes on a half-precision copy
        unit = "layer" if stage >= 3 else None
        return Strategy(name, world_size, stage >= 3, stage >= 2, stage >= 1, unit, param_bytes=half)
    return Strategy(name, world_size)


def _optimizer(node: Any) -> tuple[str, int, int | None]:
    """``(class name, states per parameter, state element bytes or None for the parameter's)``."""
    name, args = short_class(node) or "AdamW", init_args(node)
    if "8bit" in name.lower():
        return name, 2, 1
    if name in ("SGD",):
        return name, 1 if args.get("momentum") else 0, None
    if name in ("Adam", "AdamW"):
        return name, 3 if args.get("amsgrad") else 2, None
    return name, 2, None  # Adam-like by assumption


def _find(node: Any, class_name: str) -> dict[str, Any] | None:
    """The first ``class_path`` node of ``class_name`` anywhere below ``node``."""
    if isinstance(node, dict):
        if short_class(node) == class_name:
            return node
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return None
    for child in children:
        found = _find(child, class_name)
        if found is not None:
            return found
    return None


def _sam2(model: dict[str, Any], frames: int, objects: int, size_override: str | None) -> Sam2Settings | None:
    if size_override == "none":
        return None
    node = _find(model, "SAM2Segmenter")
    args = init_args(node) if node is not None else {}
    if size_override is None and node is None:
        return None
    size = size_override or sam2_size(str(args.get("config", "")))
    cached = frames <= int(args.get("max_cached_frames", 64))
    return Sam2Settings(size, int(args.get("image_size", 1024)), frames, objects, cached)


def _grounder(model: dict[str, Any]) -> GrounderSettings | None:
    node = _find(model, "ReferenceGrounder")
    if node is None:
        return None
    args = init_args(node)
    pixels = init_args(args.get("pixels")) or {}
    max_pixels = int(pixels.get("max_pixels", 900 * 28 * 28))
    tokens = max_pixels // (28 * 28) + 64 + int(args.get("max_new_tokens", 128))
    return GrounderSettings(rows=int(args.get("batch_size", 8)), tokens=tokens)


def _unplanned(model: dict[str, Any]) -> tuple[str, ...]:
    """Parts found in the config whose memory the planner does not count."""
    if _find(model, "HFGrounder") is not None:
        return ("HFGrounder loads a second model onto the GPU; its weights and KV cache are not counted",)
    return ()


def run_settings(
    config: dict[str, Any],
    *,
    source: str = "config",
    frames: int | None = None,
    audio_seconds: float | None = None,
    text_tokens: int = 256,
    completion_tokens: int | None = None,
    world_size: int | None = None,
    sam2: str | None = None,
    model_name_or_path: str | None = None,
) -> RunSettings:
    """Read :class:`RunSettings` from a resolved config (``omni_r1.config.resolved_config``).

    Keyword arguments override what the config leaves open: ``frames`` / ``audio_seconds`` the prompt,
    ``completion_tokens`` the answer length (SFT answers have no configured maximum: 256 by default),
    ``world_size`` the device count, ``sam2`` the segmenter size (``"none"`` drops it) and
    ``model_name_or_path`` the model whose architecture is counted.

    Raises:
        KeyError: a required section is missing (the message names it).
        ValueError: the module has no Global-system policy, or the prompt size cannot be told.
    """
    model = section(config, "model", source=source)
    module, margs = short_class(model), init_args(model)
    policy = margs.get("policy")
    pargs = init_args(policy)
    if "model_name_or_path" not in pargs:
        raise ValueError(
            f"{source}: model.init_args.policy must be a GlobalSystem (with model_name_or_path); "
            f"got {short_class(policy) or policy!r} in {module or 'the model'}"
        )
    data = section(config, "data", source=source)
    trainer = section(config, "trainer", source=source)
    max_pixels = int((init_args(pargs.get("pixels")) or {}).get("max_pixels", 128 * 28 * 28))
    if frames is not None:  # the prompt becomes a clip of that many frames
        shape = PromptShape(video_frames=frames, audio_seconds=audio_seconds or 0.0, text_tokens=text_tokens)
    else:
        shape = _prompt_shape(data, text_tokens, max_pixels, source)
        if audio_seconds is not None:
            shape = PromptShape(shape.video_frames, shape.images, audio_seconds, text_tokens)
    grpo = "num_generations" in margs
    generations = int(margs.get("num_generations", 1)) if grpo else 1
    answer = int(margs["max_new_tokens"]) if grpo else 256
    quantization = _dataclass(QuantizationConfig, pargs.get("quantization"))
    if quantization is not None and not quantization.load_in_4bit:
        quantization = None
    lora = _dataclass(LoraConfig, pargs.get("lora"))
    optimizer, states, state_bytes = _optimizer(margs.get("optimizer"))
    max_keyframes = int((margs.get("handover") or {}).get("max_keyframes", 4))
    objects = generations * max_keyframes * int(init_args(data).get("max_objects") or DEFAULT_OBJECTS)
    clip_frames = max(shape.video_frames, shape.images)
    return RunSettings(
        module=module,
        model_name_or_path=model_name_or_path or str(pargs["model_name_or_path"]),
        dtype=str(pargs.get("dtype", "float32")),
        quantization=quantization,
        lora=lora,
        gradient_checkpointing=bool(pargs.get("gradient_checkpointing", False)),
        freeze_encoders=bool(pargs.get("freeze_encoders", True)),
        attn_implementation=str(pargs.get("attn_implementation", "sdpa")),
        max_pixels=max_pixels,
        prompts_per_step=int(init_args(data).get("batch_size", 1)),
        num_generations=generations,
        completion_tokens=completion_tokens or answer,
        micro_batch_size=margs.get("micro_batch_size"),
        has_reference=grpo and float(margs.get("beta", 0.0)) > 0 and lora is None,
        optimizer=optimizer,
        optimizer_states=states,
        optimizer_state_bytes=state_bytes,
        precision=str(trainer.get("precision") or "32-true"),
        strategy=_strategy(trainer, world_size),
        prompt=shape,
        sam2=_sam2(model, clip_frames, objects, sam2),
        grounder=_grounder(model),
        notes=_unplanned(model),
    )
