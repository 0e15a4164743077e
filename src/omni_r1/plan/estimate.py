"""Peak GPU memory of a run, broken down by what holds it and when.

A GRPO step goes through phases that do not overlap in time: sampling (KV cache), rewarding (the Detail system's
grounding and SAM2 tracking) and the update (activations and logits). State that lives through the whole step
(weights, the frozen reference, gradients, optimizer states, SAM2's weights, the encoder-feature cache) is always
there, so the peak is that state plus the largest phase, plus a fixed overhead for the CUDA context and allocator
fragmentation. Weights, gradients and optimizer states are exact for the loaded model
(:mod:`omni_r1.plan.weights`); the rest are the documented estimates of :mod:`omni_r1.plan.activations` and
:mod:`omni_r1.plan.sam2`.

Under FSDP / DeepSpeed the sharded column divides the split state by the world size and adds what is gathered
for computing: the whole module when FSDP has no ``auto_wrap_policy`` (one unit), else two decoder layers in the
dtype they are gathered in (FSDP's ``param_dtype``: bf16 copies of float32 master weights) and one layer's
gradients (plus their float32 copy when gradients are reduced in float32).

Float32 master weights under ``precision: bf16-mixed`` cost their full size in weights, gradients and AdamW
states; without a strategy that gathers bf16 copies, autocast also caches a bf16 copy of every trainable
linear weight for the whole step (counted as persistent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from omni_r1.plan import activations as act
from omni_r1.plan.architecture import meta_thinker, thinker_config
from omni_r1.plan.settings import RunSettings
from omni_r1.plan.weights import WeightBytes, is_encoder, lora_target_names, weight_bytes

PHASES = ("persistent", "generation", "reward", "training", "overhead")
GiB = 1024**3


@dataclass(frozen=True)
class Item:
    """One line of the breakdown.

    Attributes:
        name: what holds the memory.
        bytes: per GPU on a single device (before sharding).
        sharded_bytes: per GPU under the run's strategy.
        phase: one of :data:`PHASES`.
        counted: ``False`` for a shown alternative (e.g. activations without checkpointing) left out of the peak.
    """

    name: str
    bytes: int
    sharded_bytes: int
    phase: str
    counted: bool = True


@dataclass
class MemoryPlan:
    """The breakdown and its peak; see the module docstring."""

    settings: RunSettings
    weights: WeightBytes
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def phase_bytes(self, phase: str, sharded: bool = False) -> int:
        return sum(i.sharded_bytes if sharded else i.bytes for i in self.items if i.phase == phase and i.counted)

    def peak_phase(self, sharded: bool = False) -> str:
        return max(("generation", "reward", "training"), key=lambda p: self.phase_bytes(p, sharded))

    def peak(self, sharded: bool = False) -> int:
        """Persistent state + the largest phase + overhead, per GPU."""
        steady = self.phase_bytes("persistent", sharded) + self.phase_bytes("overhead", sharded)
        return steady + self.phase_bytes(self.peak_phase(sharded), sharded)


def _split(value: int, flag: bool, world: int) -> int:
    return math.ceil(value / world) if flag and world > 1 else value


def estimate(settings: RunSettings, *, overhead_bytes: int = GiB) -> MemoryPlan:
    """Build the :class:`MemoryPlan` of a run (architecture from ``settings.model_name_or_path``)."""
    config = thinker_config(settings.model_name_or_path)
    meta = meta_thinker(config, settings.dtype)
    weights = weight_bytes(
        meta, quantization=settings.quantization, lora=settings.lora, freeze_encoders=settings.freeze_encoders
    )
    plan = MemoryPlan(settings=settings, weights=weights, notes=list(settings.notes))
    dims = act.TextDims.from_config(config)
    _training_state(plan)
    _phases(plan, dims, _adapter_inputs(meta, settings))
    plan.items.append(Item("CUDA context, allocator slack", overhead_bytes, overhead_bytes, "overhead"))
    return plan


def _add(plan: MemoryPlan, name: str, size: int, phase: str, shard: bool = False, counted: bool = True) -> None:
    world = plan.settings.strategy.world_size
    plan.items.append(Item(name, int(size), int(_split(size, shard, world)), phase, counted))


def _training_state(plan: MemoryPlan) -> None:
    """Weights, the frozen reference, gradients, optimizer states and what FSDP gathers: exact bytes."""
    s, w, st = plan.settings, plan.weights, plan.settings.strategy
    fmt = "NF4" if s.quantization else s.dtype
    _add(plan, f"policy weights: language model ({fmt})", w.language, "persistent", st.shard_params)
    _add(plan, "policy weights: vision + audio encoders", w.encoders, "persistent", st.shard_params)
    _add(plan, "policy weights: output head", w.lm_head, "persistent", st.shard_params)
    _add(plan, "policy buffers (rotary, positions)", w.buffers, "persistent")
    if s.lora is not None:
        _add(plan, f"LoRA adapters r={s.lora.r} (float32)", w.lora, "persistent", st.shard_params)
    if s.has_reference:
        _add(plan, "frozen reference copy (beta > 0, no LoRA)", w.base, "persistent", st.shard_params)
    trainable = f"gradients ({w.trainable_params / 1e6:,.1f} M trainable)"
    _add(plan, trainable, w.trainable_bytes, "persistent", st.shard_grads)
    state_bytes = s.optimizer_state_bytes or w.trainable_element_bytes
    optimizer = s.optimizer_states * w.trainable_params * state_bytes
    name = f"optimizer states ({s.optimizer}: {s.optimizer_states} x {state_bytes} B)"
    _add(plan, name, optimizer, "persistent", st.shard_optimizer)
    if st.unit is not None and st.world_size > 1:
        # A gathered unit holds its full parameters and, in the backward pass, its unsharded gradients.
        if st.unit == "model":
            gathered = w.total + (w.base if s.has_reference else 0) + w.trainable_bytes
            plan.notes.append(
                "FSDP without auto_wrap_policy gathers the whole module at once: set auto_wrap_policy to "
                "{Qwen2_5OmniDecoderLayer} to gather one decoder layer at a time."
            )
        else:
            gathered = _gathered_layers(w, st.param_bytes, st.reduce_bytes)
        plan.items.append(Item(f"{st.name} gathered {st.unit} + its gradients", 0, gathered, "persistent"))
    if s.autocast_weight_cache and w.autocast_cast_params:
        name = "autocast bf16 copies of the float32 trainable weights (until the step ends)"
        _add(plan, name, 2 * w.autocast_cast_params, "persistent")


def _gathered_layers(w: WeightBytes, param_bytes: int | None, reduce_bytes: int | None) -> int:
    """One decoder layer computing and the prefetched next one in the gathered dtype, plus the computing layer's
    unsharded gradients in that dtype and, when the reduce dtype differs, their copy in it."""
    params = w.largest_layer_params
    stored = w.largest_layer // max(params, 1)
    gather = param_bytes or stored
    reduce = reduce_bytes or gather
    return 3 * params * gather + (params * reduce if reduce != gather else 0)


def _phases(plan: MemoryPlan, dims: act.TextDims, adapted: list[int]) -> None:
    """The step's encoder cache and SAM2 weights, then sampling, rewarding and updating (estimates)."""
    s, a = plan.settings, plan.settings.act_bytes
    prompt = s.prompt.tokens(s.max_pixels)
    media = prompt - s.prompt.text_tokens
    _add(plan, "encoder feature cache (one step's prompts)", s.prompts_per_step * media * dims.hidden * a, "persistent")
    if s.sam2 is not None:
        _add(plan, f"SAM2.1 hiera-{s.sam2.size} weights (float32)", s.sam2.weight_bytes(), "persistent")

    sequence = prompt + s.completion_tokens
    if s.num_generations > 1:
        rows = s.rollout_rows
        kv = act.kv_cache_bytes(dims, rows, sequence, a)
        _add(plan, f"KV cache: {rows} rollouts x {sequence} tokens", kv, "generation")
        _add(plan, "prefill (one layer, all rollouts)", act.prefill_bytes(dims, rows, prompt, a), "generation")
    if s.grounder is not None:
        g = s.grounder
        grounding = act.kv_cache_bytes(dims, g.rows, g.tokens, a) + act.prefill_bytes(dims, g.rows, g.tokens, a)
        _add(plan, f"S2 grounding: KV cache {g.rows} x {g.tokens} tokens", grounding, "reward")
    if s.sam2 is not None:
        tracking = f"SAM2 tracking: {s.sam2.objects} objects x {s.sam2.frames} frames"
        _add(plan, tracking, s.sam2.tracking_bytes(), "reward")

    rows = s.training_rows
    per_layer = act.layer_bytes_per_token(
        dims,
        a,
        seq_len=sequence,
        eager=s.attn_implementation == "eager",
        adapter_inputs=adapted,
        lora_rank=s.lora.r if s.lora else 0,
        lora_dropout=bool(s.lora and s.lora.dropout > 0),
    )
    for checkpointing in (s.gradient_checkpointing, not s.gradient_checkpointing):
        size = act.training_activation_bytes(dims, rows * sequence, a, checkpointing, per_layer)
        counted = checkpointing == s.gradient_checkpointing
        name = f"activations {'with' if checkpointing else 'without'} checkpointing: {rows} rows x {sequence} tokens"
        _add(plan, name if counted else f"[not used] {name}", size, "training", counted=counted)
    # The head's output has the activations' element size (its weights are float32 whenever activations are).
    logits = act.grpo_logits_bytes if s.num_generations > 1 else act.sft_logits_bytes
    _add(plan, f"logits ({dims.vocab} vocabulary)", logits(dims, rows, prompt, s.completion_tokens, a), "training")
    plan.notes.append(
        f"prompt: {prompt} tokens ({s.prompt.video_frames} frames, {s.prompt.images} images, "
        f"{s.prompt.audio_seconds:g} s audio, {s.prompt.text_tokens} text) at {s.max_pixels} pixels per frame; "
        f"completion: {s.completion_tokens} tokens"
    )


def _adapter_inputs(meta: object, s: RunSettings) -> list[int]:
    """Input widths of the adapted modules of one decoder layer (LoRA's extra saved tensors)."""
    if s.lora is None:
        return []
    modules = dict(meta.named_modules())
    first = next(n for n in modules if n.endswith(".layers.0") and not is_encoder(n))
    names = [n for n in lora_target_names(meta, s.lora) if n.startswith(first + ".")]
    return [modules[n].in_features for n in names]
