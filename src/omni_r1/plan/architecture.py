"""The thinker's architecture for a model name, and a weightless (meta-device) copy of it to count exactly.

Counting parameters from a formula drifts from what transformers actually builds (biases, merger MLPs, rotary
buffers, tied heads). Instead the planner builds the real ``Qwen2_5OmniThinkerForConditionalGeneration`` on the
``meta`` device, which allocates nothing, and reads every parameter's and buffer's shape and dtype from it.

The architecture comes from, in order: a local folder's ``config.json`` (a peft adapter folder points to its
base), a ``tiny://`` name (built offline on first use), the published numbers of the Qwen2.5-Omni thinkers below,
or a config already in the local Hugging Face cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from omni_r1.models.hub import resolve_pretrained
from omni_r1.models.loading import torch_dtype

_VISION_ENCODER = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16}

# Published thinker configs (config.json of the Hub checkpoints). transformers' config defaults are the 7B sizes
# except the vision encoder's width, which the checkpoints set to 1280 (a 675 M-parameter ViT); the audio encoder
# is Whisper-large-v3's (32 layers of width 1280, about 640 M parameters).
KNOWN_THINKERS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2.5-Omni-7B": {
        "text_config": {
            "vocab_size": 152064,
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
        },
        "vision_config": {**_VISION_ENCODER, "out_hidden_size": 3584},
        "audio_config": {"output_dim": 3584},
    },
    "Qwen/Qwen2.5-Omni-3B": {
        "text_config": {
            "vocab_size": 151936,
            "hidden_size": 2048,
            "intermediate_size": 11008,
            "num_hidden_layers": 36,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
        },
        "vision_config": {**_VISION_ENCODER, "out_hidden_size": 2048},
        "audio_config": {"output_dim": 2048},
    },
}


def thinker_config(name_or_path: str) -> Any:
    """The ``Qwen2_5OmniThinkerConfig`` of a model name, local folder or ``tiny://`` name.

    Raises:
        FileNotFoundError: the name is none of the accepted forms; the message lists them.
    """
    from transformers import Qwen2_5OmniThinkerConfig

    path = Path(resolve_pretrained(name_or_path))
    adapter = path / "adapter_config.json"
    if adapter.is_file():  # a LoRA warm start: the architecture is the base model's
        base = json.loads(adapter.read_text()).get("base_model_name_or_path")
        if not base:
            raise FileNotFoundError(f"{adapter}: expected 'base_model_name_or_path' naming the base model")
        return thinker_config(base)
    if (path / "config.json").is_file():
        return Qwen2_5OmniThinkerConfig.from_pretrained(str(path))
    if name_or_path in KNOWN_THINKERS:
        return Qwen2_5OmniThinkerConfig(**KNOWN_THINKERS[name_or_path])
    try:
        return Qwen2_5OmniThinkerConfig.from_pretrained(name_or_path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise FileNotFoundError(
            f"model_name_or_path {name_or_path!r}: expected a local folder with config.json, a tiny:// name, one of "
            f"{sorted(KNOWN_THINKERS)} or a model in the local Hugging Face cache"
        ) from error


def meta_thinker(config: Any, dtype: str) -> nn.Module:
    """The thinker built on the meta device with ``from_pretrained``'s dtype rules (buffers keep their own)."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    with torch.device("meta"):
        return Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, dtype=torch_dtype(dtype))
