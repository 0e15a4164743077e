"""Token counts and the activation, logits and KV-cache formulas of the planner (estimates, not measurements).

Tokens of one prompt (Qwen2.5-Omni's processor, worst case at the pixel budget ``px``):

- video: the 2-fps clip is cut in pairs of frames (temporal patch 2), each pair gives ``px // (28·28)`` merged
  tokens, so ``ceil(frames / 2) · px // 784``; an image (RefAVS's first frame) gives ``px // 784``;
- audio: 25 tokens per second (100 mel frames/s, strided twice by the audio encoder);
- text: the chat template and the instruction, a fixed allowance (``--text-tokens``).

Bytes per token of one decoder layer kept for the backward pass, with hidden size ``h``, key/value width ``k``,
MLP width ``I`` and activation element size ``a`` (an SDPA / flash attention that keeps no ``T × T`` matrix)::

    a · (7h + 3k + 4I)  +  8h if a == 2            (RMSNorm's float32 copies)
      attention: norm in/out 2h, q h, k and v 2k, rotated q/k h + k, attention out h;
      MLP: norm in/out 2h, gate, up, silu(gate), product 4I
    + a · heads · T                               (eager attention only: the softmax)
    + per adapted module: a · r  (+ (1 + a) · in_features with LoRA dropout: its mask and output)

Without gradient checkpointing every layer keeps that; with it only each layer's input (``a · h``) is kept and one
layer's worth is rebuilt during the backward pass. Logits (``V`` = vocabulary, ``l`` = head output element size):
the GRPO scorer runs the head over the ``C`` completion positions only and keeps their float32 logits plus
their gradient: ``V · C · (l + 8)`` per row; SFT's loss upcasts all positions:
``V · (P + C) · (l + 8)``. The KV cache of generation holds ``2 · k · a`` bytes per token per layer for all
``B·G`` rows of ``P + C`` tokens; the prefill briefly holds ``(4h + 2I) · a`` per prompt token (one layer's
hidden states and MLP intermediates). Allocator fragmentation and kernels' workspaces come on top (the
planner's ``overhead`` line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AUDIO_TOKENS_PER_SECOND = 25
PIXELS_PER_TOKEN = 28 * 28  # one merged vision token covers 28×28 pixels (of two frames for video)


@dataclass(frozen=True)
class PromptShape:
    """What one prompt shows the Global system.

    Attributes:
        video_frames: frames of the 2-fps clip (0 for image prompts).
        images: still images (RefAVS shows its first frame).
        audio_seconds: length of the audio track.
        text_tokens: chat template plus instruction.
    """

    video_frames: int = 0
    images: int = 0
    audio_seconds: float = 0.0
    text_tokens: int = 256

    def tokens(self, max_pixels: int) -> int:
        """Prompt tokens at a per-frame pixel budget of ``max_pixels``."""
        per_frame = max_pixels // PIXELS_PER_TOKEN
        vision = (math.ceil(self.video_frames / 2) + self.images) * per_frame
        audio = math.ceil(self.audio_seconds * AUDIO_TOKENS_PER_SECOND)
        return self.text_tokens + vision + audio


@dataclass(frozen=True)
class TextDims:
    """Sizes of the language model that the formulas need."""

    hidden: int
    kv_width: int
    intermediate: int
    layers: int
    heads: int
    vocab: int

    @classmethod
    def from_config(cls, thinker_config: object) -> TextDims:
        text = thinker_config.text_config
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        return cls(
            hidden=text.hidden_size,
            kv_width=text.num_key_value_heads * head_dim,
            intermediate=text.intermediate_size,
            layers=text.num_hidden_layers,
            heads=text.num_attention_heads,
            vocab=text.vocab_size,
        )


def layer_bytes_per_token(
    dims: TextDims,
    act_bytes: int,
    *,
    seq_len: int = 0,
    eager: bool = False,
    adapter_inputs: list[int] | None = None,
    lora_rank: int = 0,
    lora_dropout: bool = False,
) -> int:
    """Bytes one decoder layer keeps per token for the backward pass (see the module docstring)."""
    h, k, i, a = dims.hidden, dims.kv_width, dims.intermediate, act_bytes
    total = a * (7 * h + 3 * k + 4 * i) + (8 * h if a == 2 else 0)
    if eager:
        total += a * dims.heads * seq_len
    for in_features in adapter_inputs or []:
        total += a * lora_rank + ((1 + a) * in_features if lora_dropout else 0)
    return total


def training_activation_bytes(dims: TextDims, tokens: int, act_bytes: int, checkpointing: bool, per_layer: int) -> int:
    """Activations of one forward/backward pass over ``tokens`` tokens (all rows of a micro-batch together)."""
    edges = 3 * dims.hidden * act_bytes * tokens  # embeddings output, final norm in/out
    if checkpointing:
        return edges + tokens * (dims.layers * dims.hidden * act_bytes + per_layer)
    return edges + tokens * dims.layers * per_layer


def grpo_logits_bytes(dims: TextDims, rows: int, prompt: int, completion: int, logit_bytes: int) -> int:
    """Head output over the completion positions only plus their float32 copy and its gradient (GRPO scoring)."""
    return rows * dims.vocab * completion * (logit_bytes + 8)


def sft_logits_bytes(dims: TextDims, rows: int, prompt: int, completion: int, logit_bytes: int) -> int:
    """Head output plus the loss's float32 copy and log-softmax over all positions (transformers' SFT loss)."""
    return rows * dims.vocab * (prompt + completion) * (logit_bytes + 8)


def kv_cache_bytes(dims: TextDims, rows: int, tokens: int, act_bytes: int) -> int:
    """Keys and values of every layer for ``rows`` sequences of ``tokens`` tokens."""
    return rows * tokens * dims.layers * 2 * dims.kv_width * act_bytes


def prefill_bytes(dims: TextDims, rows: int, prompt: int, act_bytes: int) -> int:
    """One layer's hidden states and MLP intermediates during the prefill, plus the input embeddings."""
    return rows * prompt * (5 * dims.hidden + 2 * dims.intermediate) * act_bytes
