"""Encoder-feature caching for the thinker: run the vision and audio encoders once per prompt per step.

A GRPO step scores every prompt G times for sampling, again for the old and reference log-probs and once per
μ iteration. With frozen encoders their outputs are the same each time, so they are computed once here, repeated
per completion, and scattered into the token embeddings of every later forward pass. The language model sees
exactly the embeddings the stock forward would build, so log-probs are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

# processor output keys that only describe layout (kept, repeated per completion) vs. raw encoder inputs (dropped)
_LAYOUT_KEYS = ("image_grid_thw", "video_grid_thw", "feature_attention_mask", "video_second_per_grid")
_ENCODER_INPUTS = ("pixel_values", "pixel_values_videos", "input_features")


def unwrap_thinker(model: nn.Module) -> nn.Module:
    """The ``Qwen2_5OmniThinkerForConditionalGeneration`` inside a peft wrapper (or the model itself)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base


@dataclass
class MediaFeatures:
    """Encoder outputs of a batch of prompts, one entry per modality, rows in prompt order.

    Attributes:
        features: modality (``image``/``video``/``audio``) → list over prompts of ``(tokens, D)`` features
            (an empty tensor for a prompt without that modality).
        layout: the processor's layout tensors (grids, audio feature mask), per prompt along dim 0.
        token_ids: modality → placeholder token id.
    """

    features: dict[str, list[Tensor]]
    layout: dict[str, Tensor]
    token_ids: dict[str, int]

    def take(self, prompt_index: Tensor) -> MediaFeatures:
        """Features of the prompt each row belongs to (``prompt_index`` ``(N,)``: G rows per prompt, or a slice)."""
        rows = prompt_index.tolist()
        features = {k: [v[i] for i in rows] for k, v in self.features.items()}
        layout = {k: v[prompt_index.to(v.device)] for k, v in self.layout.items()}
        return MediaFeatures(features, layout, self.token_ids)

    def embed(self, model: nn.Module, input_ids: Tensor) -> Tensor:
        """Token embeddings of ``input_ids`` ``(N, L)`` with the cached features at their placeholders."""
        thinker = unwrap_thinker(model)
        embeds = thinker.get_input_embeddings()(input_ids)  # (N, L, D)
        for name, per_row in self.features.items():
            if not per_row:
                continue
            if len(per_row) != input_ids.shape[0]:
                raise ValueError(f"{len(per_row)} {name} feature rows for {input_ids.shape[0]} sequences")
            features = torch.cat(per_row, dim=0).to(embeds.device, embeds.dtype)
            mask = (input_ids == self.token_ids[name]).unsqueeze(-1).expand_as(embeds)
            if mask[..., 0].sum() != features.shape[0]:
                raise ValueError(f"{int(mask[..., 0].sum())} {name} placeholders for {features.shape[0]} features")
            embeds = embeds.masked_scatter(mask, features)
        return embeds


def _split_rows(features: Tensor, counts: list[int]) -> list[Tensor]:
    return list(torch.split(features, counts, dim=0))


@torch.no_grad()
def encode_media(model: nn.Module, inputs: dict) -> MediaFeatures:
    """Run the encoders once on a processed batch; features are split per prompt by placeholder counts."""
    thinker = unwrap_thinker(model)
    inner = thinker.model
    config = thinker.config
    input_ids = inputs["input_ids"]
    token_ids = {
        "image": config.image_token_id if hasattr(config, "image_token_id") else config.image_token_index,
        "video": config.video_token_id if hasattr(config, "video_token_id") else config.video_token_index,
        "audio": config.audio_token_id if hasattr(config, "audio_token_id") else config.audio_token_index,
    }
    counts = {k: (input_ids == v).sum(dim=1).tolist() for k, v in token_ids.items()}
    features: dict[str, list[Tensor]] = {}
    if inputs.get("input_features") is not None:
        audio = inner.get_audio_features(
            inputs["input_features"], inputs.get("feature_attention_mask"), return_dict=True
        ).last_hidden_state
        features["audio"] = _split_rows(audio, counts["audio"])
    if inputs.get("pixel_values") is not None:
        image = torch.cat(
            inner.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"], return_dict=True).pooler_output
        )
        features["image"] = _split_rows(image, counts["image"])
    if inputs.get("pixel_values_videos") is not None:
        video = torch.cat(
            inner.get_video_features(
                inputs["pixel_values_videos"], inputs["video_grid_thw"], return_dict=True
            ).pooler_output
        )
        features["video"] = _split_rows(video, counts["video"])
    layout = _per_prompt_layout(inputs, counts)
    return MediaFeatures(features, layout, token_ids)


def _per_prompt_layout(inputs: dict, counts: dict[str, list[int]]) -> dict[str, Tensor]:
    """Layout tensors indexed by prompt. Each prompt holds at most one item per modality (one clip, one image,
    one audio track), so the per-item tensors can be repeated row-wise with the prompts."""
    layout = {}
    for key in _LAYOUT_KEYS:
        value = inputs.get(key)
        if value is None:
            continue
        modality = {"image_grid_thw": "image", "video_grid_thw": "video"}.get(
            key, "audio" if "feature" in key else "video"
        )
        present = sum(1 for c in counts[modality] if c > 0)
        if present != len(counts[modality]):
            raise ValueError(f"a batch mixes prompts with and without {modality}: cache features per task family")
        layout[key] = value
    return layout


def strip_encoder_inputs(inputs: dict) -> dict:
    """Processor outputs without the raw encoder inputs (pixels, mel features)."""
    return {k: v for k, v in inputs.items() if k not in _ENCODER_INPUTS}
