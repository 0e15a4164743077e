"""Grounders of the Detail system: the reference policy, any Hugging Face VLM, and ground-truth boxes.

- :class:`ReferenceGrounder` is the paper's training-time S2 grounder: the *initial* policy, i.e. the Global
  system's weights with LoRA adapters disabled, or the frozen reference copy of a full fine-tuning run; with
  ``weights="policy"`` the current policy grounds (the evaluation variant where the trained model plays both roles).
- :class:`HFGrounder` loads any VLM that ``AutoModelForImageTextToText`` knows (a Qwen2.5-VL checkpoint, another
  Omni thinker...), for the variants with a separate S2 model.
- :class:`OracleGrounder` returns the ground-truth boxes at the chosen keyframes: it isolates the keyframe choice
  from grounding quality (ablations).

Model grounders decode greedily (a deterministic answer: the same (frame, description) always gets the same
boxes, which lets the collaboration step ground each distinct request once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from omni_r1.detail.box_parsing import MAX_BOXES
from omni_r1.detail.grounding_prompts import GroundingPrompts
from omni_r1.detail.vlm_grounding import (
    S2_PIXELS,
    GroundingText,
    answers_to_boxes,
    generate_grounding,
    stop_token_ids,
)
from omni_r1.models.global_system import OMNI_TINY_MODELS, GlobalSystem, PixelBudget
from omni_r1.models.loading import (
    DTYPES,
    Dtype,
    explain_unavailable_model,
    require_attn_implementation,
    require_model_name_or_path,
)
from omni_r1.validation import init_arguments, require_choice, require_device, require_int, validate_nested

GrounderWeights = Literal["reference", "policy"]
GROUNDER_WEIGHTS: tuple[str, ...] = get_args(GrounderWeights)


def _validate_generation(args: Mapping[str, Any]) -> None:
    """The settings every model grounder shares: pixel budget, answer length, batch, box cap, prompts."""
    validate_nested("pixels", PixelBudget, args.get("pixels"))
    require_int("max_new_tokens", args.get("max_new_tokens"), minimum=1)
    require_int("batch_size", args.get("batch_size"), minimum=1)
    require_int("max_boxes", args.get("max_boxes"), minimum=1)
    validate_nested("prompts", GroundingPrompts, args.get("prompts"))


def _check_requests(images: Sequence[Tensor], descriptions: Sequence[str]) -> None:
    if len(images) != len(descriptions):
        raise ValueError(f"grounder: {len(images)} images for {len(descriptions)} descriptions")
    for index, image in enumerate(images):
        if image.ndim != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
            raise ValueError(f"grounder: image {index} must be (3, H, W) uint8, got {tuple(image.shape)} {image.dtype}")


class _ModelGrounder:
    """Grounders that answer a grounding instruction with text (``generate``) and parse boxes from it."""

    needs_ground_truth = False
    prompts: GroundingPrompts
    max_boxes: int

    def generate(self, images: Sequence[Tensor], prompts: Sequence[str]) -> list[GroundingText]:
        raise NotImplementedError

    def ground(
        self,
        images: Sequence[Tensor],
        descriptions: Sequence[str],
        *,
        task: str = "vos",
        gt_boxes: Sequence[Tensor] | None = None,
    ) -> list[Tensor]:
        """See :meth:`omni_r1.detail.protocols.Grounder.ground`."""
        _check_requests(images, descriptions)
        if not images:
            return []
        answers = self.generate(images, [self.prompts(d, task) for d in descriptions])
        return answers_to_boxes(answers, images, self.max_boxes)


class ReferenceGrounder(_ModelGrounder):
    """The Global system's initial weights as grounder (the paper's S2 in training).

    The policy is usually bound after construction (``DetailSystem.bind``), because configs build the grounder
    before the training module owns the policy.

    Args:
        policy: the Global system; ``None`` until :meth:`bind`.
        frozen: a frozen copy of the initial thinker (the KL reference of a run without LoRA).
        weights: ``"reference"`` (adapters disabled, or ``frozen``) or ``"policy"`` (the current weights).
        pixels: per-image pixel budget of the grounder's input (the paper's S2 budget by default).
        max_new_tokens: longest grounding answer.
        batch_size: (image, description) pairs per ``generate`` call.
        prompts: the grounding instructions.
        max_boxes: boxes kept per answer.
    """

    def __init__(
        self,
        policy: GlobalSystem | None = None,
        frozen: nn.Module | None = None,
        weights: GrounderWeights = "reference",
        pixels: PixelBudget | None = None,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        prompts: GroundingPrompts | None = None,
        max_boxes: int = MAX_BOXES,
    ) -> None:
        ReferenceGrounder.validate_init_args(init_arguments(locals()))
        self.policy = policy
        self.frozen = frozen
        self.weights = weights
        self.pixels = pixels or PixelBudget(S2_PIXELS.min_pixels, S2_PIXELS.max_pixels)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.prompts = prompts or GroundingPrompts()
        self.max_boxes = max_boxes

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for the weights choice or a generation setting."""
        require_choice("weights", args.get("weights"), GROUNDER_WEIGHTS)
        _validate_generation(args)

    def bind(self, policy: GlobalSystem, frozen: nn.Module | None = None) -> ReferenceGrounder:
        """Attach the policy (and the frozen reference copy, if the run has one)."""
        self.policy = policy
        if frozen is not None:
            self.frozen = frozen
        return self

    def generate(self, images: Sequence[Tensor], prompts: Sequence[str]) -> list[GroundingText]:
        """Greedy answers to full grounding instructions, under the chosen weights.

        Raises:
            RuntimeError: no policy bound, or ``weights="reference"`` with neither adapters nor a frozen copy.
        """
        policy = self.policy
        if policy is None:
            raise RuntimeError("ReferenceGrounder has no policy: call bind(policy) (DetailSystem.bind does)")
        kwargs = {
            "pixels": self.pixels,
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "bad_words_ids": [[i] for i in policy.forbidden_token_ids],
            "eos_token_id": policy.eos_token_ids,
        }
        if self.weights == "policy":
            return generate_grounding(policy.model, policy.processor, images, prompts, **kwargs)
        if self.frozen is not None:
            return generate_grounding(self.frozen, policy.processor, images, prompts, **kwargs)
        if not policy.has_adapters:
            raise RuntimeError(
                "ReferenceGrounder(weights='reference'): the policy has no LoRA adapters to disable and no frozen "
                "copy was given; pass frozen= (the reference policy's copy) or use weights='policy'"
            )
        with policy.adapters_disabled():
            return generate_grounding(policy.model, policy.processor, images, prompts, **kwargs)


class HFGrounder(_ModelGrounder):
    """Any Hugging Face image-text-to-text model as grounder (e.g. a Qwen2.5-VL checkpoint).

    Args:
        model_name_or_path: hub id, local folder or ``tiny://`` name of the model; its processor is loaded from
            the same place.
        dtype: weight dtype (``float32``, ``bfloat16``, ``float16``).
        device: where the model runs; ``None`` picks CUDA when available.
        pixels: per-image pixel budget of the grounder's input.
        max_new_tokens: longest grounding answer.
        batch_size: (image, description) pairs per ``generate`` call.
        prompts: the grounding instructions.
        max_boxes: boxes kept per answer.
        attn_implementation: ``sdpa``, ``eager`` or ``flash_attention_2``.
    """

    def __init__(
        self,
        model_name_or_path: str,
        dtype: Dtype = "bfloat16",
        device: str | None = None,
        pixels: PixelBudget | None = None,
        max_new_tokens: int = 128,
        batch_size: int = 8,
        prompts: GroundingPrompts | None = None,
        max_boxes: int = MAX_BOXES,
        attn_implementation: str = "sdpa",
    ) -> None:
        HFGrounder.validate_init_args(init_arguments(locals()))
        from transformers import AutoModelForImageTextToText, AutoProcessor

        from omni_r1.models.hub import resolve_pretrained
        from omni_r1.models.loading import torch_dtype
        from omni_r1.models.tiny import generation_bad_words_ids

        path = resolve_pretrained(model_name_or_path)
        with explain_unavailable_model(model_name_or_path):
            self.model = AutoModelForImageTextToText.from_pretrained(
                path, dtype=torch_dtype(dtype), attn_implementation=attn_implementation
            ).eval()
        self.model.requires_grad_(False)
        self.model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.processor = AutoProcessor.from_pretrained(path)
        tokenizer = self.processor.tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self.bad_words_ids = generation_bad_words_ids(tokenizer)
        self.eos_token_id = stop_token_ids(tokenizer)
        self.pixels = pixels or PixelBudget(S2_PIXELS.min_pixels, S2_PIXELS.max_pixels)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.prompts = prompts or GroundingPrompts()
        self.max_boxes = max_boxes

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would only fail once the model loads."""
        require_model_name_or_path("model_name_or_path", args.get("model_name_or_path"), tiny_models=OMNI_TINY_MODELS)
        require_choice("dtype", args.get("dtype"), DTYPES)
        require_device("device", args.get("device"))
        require_attn_implementation("attn_implementation", args.get("attn_implementation"))
        _validate_generation(args)

    def generate(self, images: Sequence[Tensor], prompts: Sequence[str]) -> list[GroundingText]:
        """Greedy answers to full grounding instructions."""
        return generate_grounding(
            self.model,
            self.processor,
            images,
            prompts,
            pixels=self.pixels,
            max_new_tokens=self.max_new_tokens,
            batch_size=self.batch_size,
            bad_words_ids=self.bad_words_ids,
            eos_token_id=self.eos_token_id,
        )


class OracleGrounder:
    """Ground-truth boxes of the objects visible in each image, whatever the description says (ablations)."""

    needs_ground_truth = True

    def ground(
        self,
        images: Sequence[Tensor],
        descriptions: Sequence[str],
        *,
        task: str = "vos",
        gt_boxes: Sequence[Tensor] | None = None,
    ) -> list[Tensor]:
        """See :meth:`omni_r1.detail.protocols.Grounder.ground`.

        Raises:
            ValueError: ``gt_boxes`` missing or not one ``(o, 4)`` tensor per image.
        """
        _check_requests(images, descriptions)
        if gt_boxes is None or len(gt_boxes) != len(images):
            raise ValueError("OracleGrounder needs gt_boxes: one (o, 4) tensor of ground-truth boxes per image")
        out = []
        for index, boxes in enumerate(gt_boxes):
            boxes = torch.as_tensor(boxes, dtype=torch.float32)
            if boxes.numel() and (boxes.ndim != 2 or boxes.shape[1] != 4):
                raise ValueError(f"OracleGrounder: gt_boxes[{index}] must be (o, 4), got {tuple(boxes.shape)}")
            out.append(boxes.reshape(-1, 4).clone())
        return out
