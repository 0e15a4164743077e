"""Tiny model configs: the stock transformers config classes with small widths and the tiny tokenizer's ids."""

from __future__ import annotations

from typing import Any

from omni_r1.models.tiny.tokenizer import SPECIAL_TOKENS


def tiny_thinker_config(tokenizer: Any) -> Any:
    """A ``Qwen2_5OmniThinkerConfig`` with tiny encoders whose token ids are the tokenizer's."""
    from transformers import Qwen2_5OmniThinkerConfig

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,  # head_dim 16
        "num_key_value_heads": 2,
        # M-RoPE splits head_dim / 2 rotary frequencies into (time, height, width) sections.
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [2, 3, 3]},
        "max_position_embeddings": 32768,
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
    }
    vision = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "spatial_merge_size": 2,
        "fullatt_block_indexes": [1],  # block 0 uses window attention, block 1 full attention, like the real one
        "out_hidden_size": text["hidden_size"],
    }
    audio = {
        "num_mel_bins": 128,  # Whisper-v3 features, as WhisperFeatureExtractor(feature_size=128) produces
        "encoder_layers": 2,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "d_model": 32,
        "output_dim": text["hidden_size"],
    }
    return Qwen2_5OmniThinkerConfig(
        text_config=text,
        vision_config=vision,
        audio_config=audio,
        audio_token_index=ids["<|AUDIO|>"],
        image_token_index=ids["<|IMAGE|>"],
        video_token_index=ids["<|VIDEO|>"],
        audio_start_token_id=ids["<|audio_bos|>"],
        audio_end_token_id=ids["<|audio_eos|>"],
        vision_start_token_id=ids["<|vision_bos|>"],
        vision_end_token_id=ids["<|vision_eos|>"],
        user_token_id=tokenizer.convert_tokens_to_ids("user"),
    )


def tiny_qwen2_config(tokenizer: Any) -> Any:
    """A ``Qwen2Config`` of the tiny thinker's text model sizes, for the text-only ``Qwen2ForCausalLM``."""
    from transformers import Qwen2Config

    text = tiny_thinker_config(tokenizer).text_config
    return Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=text.hidden_size,
        intermediate_size=text.intermediate_size,
        num_hidden_layers=text.num_hidden_layers,
        num_attention_heads=text.num_attention_heads,
        num_key_value_heads=text.num_key_value_heads,
        max_position_embeddings=text.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
