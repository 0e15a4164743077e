"""The Global Reasoning System (S1): a Qwen2.5-Omni thinker that watches low-resolution frames and listens.

It owns the policy weights and the processor, turns ``VideoSample`` records into model inputs (chat template,
pixel budgets, 2-fps video, 16 kHz audio), samples answers and scores completions. Turning records into inputs
needs no weights: that is its :class:`~omni_r1.models.preprocess.OmniPreprocessor`, which a training module
hands to the DataModule so the loader's workers run it (``encode`` and ``sft_loss`` then take the
:class:`~omni_r1.data.types.ProcessedBatch`); given plain records they run it themselves, with autocast off.
The same class runs the CPU demo on a ``tiny://`` model and a 7B run on ``Qwen/Qwen2.5-Omni-7B``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.models.cache_keyword import cache_kwargs
from omni_r1.models.hub import resolve_pretrained
from omni_r1.models.loading import (
    DTYPES,
    Dtype,
    LoraConfig,
    QuantizationConfig,
    explain_unavailable_model,
    load_thinker,
    require_attn_implementation,
    require_model_name_or_path,
    require_trainable_quantization,
)
from omni_r1.models.media import encode_media, unwrap_thinker
from omni_r1.models.policy import SamplingPolicy, Step
from omni_r1.models.preprocess import OmniPreprocessor, PixelBudget, image_budget, model_image_sizes
from omni_r1.models.prompts import PromptBuilder
from omni_r1.models.rollouts import PromptBatch, Rollouts
from omni_r1.validation import (
    init_arguments,
    require_bool,
    require_choice,
    require_number,
    validate_nested,
)

# Tokens a policy must never produce: they are placeholders for encoder features or modality delimiters, and a
# sampled one makes the next forward pass fail (features / placeholders count mismatch) or reward nonsense.
_FORBIDDEN_TOKENS = (
    "<|AUDIO|>",
    "<|IMAGE|>",
    "<|VIDEO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
    "<|vision_bos|>",
    "<|vision_eos|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|audio_start|>",
    "<|audio_end|>",
    "<|audio_pad|>",
    "<|im_start|>",
)

# The tiny:// models with the Qwen2.5-Omni thinker layout (``tiny://qwen2`` is text-only: see TextPolicy).
OMNI_TINY_MODELS = ("qwen2.5-omni", "qwen2.5-omni-full")


class GlobalSystem(SamplingPolicy):
    """Policy wrapper of the Global system.

    Args:
        model_name_or_path: HF id (``Qwen/Qwen2.5-Omni-7B``), local folder, or ``tiny://qwen2.5-omni`` for the
            random-weight model built offline.
        dtype: weight dtype of the non-quantised parameters (``float32``, ``bfloat16``, ``float16``).
        quantization: 4-bit base weights (QLoRA); requires ``lora``.
        lora: LoRA adapters on the language model; with adapters, the reference policy and the S2 grounder are
            the same weights with adapters disabled.
        gradient_checkpointing: recompute activations in the backward pass (memory for time).
        freeze_encoders: keep the vision and audio encoders frozen, as in the paper.
        attn_implementation: ``sdpa``, ``eager`` or ``flash_attention_2``.
        pixels: per-frame pixel budget of the S1 frames.
        image_pixels: pixel budget of single images (RefAVS's first frame, refCOCOg). ``None`` is the authors'
            image path (up to 1600·28·28); the kit's former behaviour, images at the frame budget, is
            ``image_pixels`` equal to ``pixels``.
        fps: frame rate the S1 clip is presented at (the paper samples at 2 fps).
        prompts: builds the S1 instruction for a sample.
        cache_encoders: run the (frozen) vision and audio encoders once per prompt per step and reuse their
            features for sampling, old / reference log-probs and every update (exact: the embeddings are
            identical). Ignored when the encoders are trained.
        hf_generate: sample with ``transformers``' ``generate`` instead of the built-in loop, which prefills each
            prompt once for its G completions (``generate`` prefills every copy of the long media prompt).
    """

    def __init__(
        self,
        model_name_or_path: str = "tiny://qwen2.5-omni",
        dtype: Dtype = "float32",
        quantization: QuantizationConfig | None = None,
        lora: LoraConfig | None = None,
        gradient_checkpointing: bool = False,
        freeze_encoders: bool = True,
        attn_implementation: str = "sdpa",
        pixels: PixelBudget | None = None,
        image_pixels: PixelBudget | None = None,
        fps: float = 2.0,
        prompts: PromptBuilder | None = None,
        cache_encoders: bool = True,
        hf_generate: bool = False,
    ) -> None:
        GlobalSystem.validate_init_args(init_arguments(locals()))
        super().__init__()
        from transformers import Qwen2_5OmniProcessor

        self.model_name_or_path = model_name_or_path
        self.pixels = pixels or PixelBudget()
        self.image_pixels = image_budget(self.pixels, image_pixels)
        self.fps = fps
        self.freeze_encoders = freeze_encoders
        self.cache_encoders = cache_encoders and freeze_encoders
        self.hf_generate = hf_generate
        self.prompts = prompts or PromptBuilder()
        self.model = load_thinker(
            model_name_or_path,
            dtype=dtype,
            quantization=quantization,
            lora=lora,
            gradient_checkpointing=gradient_checkpointing,
            freeze_encoders=freeze_encoders,
            attn_implementation=attn_implementation,
        )
        self.model.train()  # from_pretrained returns eval mode; training modes are Lightning's to switch
        with explain_unavailable_model(model_name_or_path):
            self.processor = Qwen2_5OmniProcessor.from_pretrained(resolve_pretrained(model_name_or_path))
        self.tokenizer = self.processor.tokenizer
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"  # generation appends on the right
        vocab = self.tokenizer.get_vocab()
        stops = set(self.eos_token_ids) | {self.tokenizer.pad_token_id}
        named = {vocab[t] for t in _FORBIDDEN_TOKENS if t in vocab}
        self.forbidden_token_ids = sorted((named | set(self.tokenizer.all_special_ids)) - stops)
        # The weight-free part: a DataModule runs it in its loader workers (see GRPOModule.setup).
        self.preprocessor = OmniPreprocessor(self.processor, self.pixels, self.fps, self.prompts, self.image_pixels)

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would fail (or mislead) once the weights
        load: an unloadable model name, a dtype, quantisation without LoRA, a pixel budget, a frame rate."""
        require_model_name_or_path("model_name_or_path", args.get("model_name_or_path"), tiny_models=OMNI_TINY_MODELS)
        require_choice("dtype", args.get("dtype"), DTYPES)
        validate_nested("quantization", QuantizationConfig, args.get("quantization"))
        validate_nested("lora", LoraConfig, args.get("lora"))
        require_trainable_quantization(args.get("quantization"), args.get("lora"))
        for flag in ("gradient_checkpointing", "freeze_encoders", "cache_encoders", "hf_generate"):
            require_bool(flag, args.get(flag))
        require_attn_implementation("attn_implementation", args.get("attn_implementation"))
        validate_nested("pixels", PixelBudget, args.get("pixels"))
        validate_nested("image_pixels", PixelBudget, args.get("image_pixels"))
        require_number("fps", args.get("fps"), minimum=0, exclusive_minimum=True)

    @property
    def eos_token_ids(self) -> list[int]:
        ids = {self.tokenizer.convert_tokens_to_ids("<|im_end|>"), self.tokenizer.eos_token_id}
        return sorted(i for i in ids if i is not None and i >= 0)

    def save_pretrained(self, path: str) -> None:
        """Write the policy in Hugging Face format (full weights, or the peft adapter when LoRA is used) plus the
        processor, so ``model_name_or_path: <path>`` loads it back in a later run (e.g. SFT → GRPO)."""
        self.model.save_pretrained(path)
        self.processor.save_pretrained(path)

    # ------------------------------------------------------------------ inputs
    def conversation(self, sample: VideoSample) -> tuple[list[dict], Tensor | None, Tensor | None, Tensor | None]:
        """Chat turns and media of one sample: (messages, image, video, audio); see :class:`OmniPreprocessor`."""
        return self.preprocessor.conversation(sample)

    def prompt_inputs(self, samples: Sequence[VideoSample], responses: Sequence[str] | None = None) -> dict:
        """Tokenised model inputs for a batch (autocast off); with ``responses`` the answers are appended for
        teacher forcing."""
        return self.preprocessor.inputs(samples, responses)

    def _to_device(self, inputs: dict) -> dict:
        device = self.device
        return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in inputs.items()}

    @staticmethod
    def model_image_sizes(inputs: dict) -> list[tuple[int, int]]:
        """``(H, W)`` of each prompt's image as the model saw it (after the processor's resize), from the grids."""
        return model_image_sizes(inputs)

    # ------------------------------------------------------------------ supervised
    def sft_loss(
        self,
        samples: Sequence[VideoSample] | ProcessedBatch,
        responses: Sequence[str] | None = None,
        weights: Sequence[Tensor] | None = None,
    ) -> Tensor:
        """Token-mean cross-entropy of the responses given the prompts (prompt and padding tokens masked).

        ``samples`` is a list of records with their ``responses``, or a :class:`ProcessedBatch` whose inputs the
        data pipeline made with its responses appended. The media are processed once: the response is the last
        tokens of each row (left padding), so only the response is tokenised again to count them — and checked
        against the row, never assumed. ``weights`` (one ``(tokens + 1,)`` tensor per response: its tokens and the
        closing ``<|im_end|>``) make it the weighted mean ``Σ w·CE / Σ w``; ``None`` is the plain token mean.
        """
        if isinstance(samples, ProcessedBatch):
            if samples.responses is None:
                raise ValueError("sft_loss needs a ProcessedBatch made with responses (teacher-forced inputs)")
            responses, inputs = samples.responses, samples.inputs
        elif responses is None:
            raise ValueError("sft_loss needs the responses of a list of records")
        else:
            inputs = self.prompt_inputs(samples, responses)
        full = self._to_device(inputs)
        input_ids = full["input_ids"]
        labels = torch.full_like(input_ids, -100)
        for row, response in enumerate(responses):
            ids = self.tokenizer(response + "<|im_end|>", add_special_tokens=False)["input_ids"]
            target = torch.tensor(ids, device=input_ids.device)
            if not torch.equal(input_ids[row, -len(ids) :], target):
                raise ValueError(f"response {row} does not tokenise the same alone and after its prompt")
            labels[row, -len(ids) :] = target
        if weights is None:
            return self.model(**full, labels=labels, use_cache=False).loss
        per_token = torch.zeros_like(input_ids, dtype=torch.float32)
        for row, weight in enumerate(weights):
            if weight.shape[0] != int((labels[row] != -100).sum()):
                raise ValueError(f"sft_loss: {weight.shape[0]} weights for response {row}'s tokens")
            per_token[row, -weight.shape[0] :] = weight.to(per_token.device, torch.float32)
        logits = self.model(**full, use_cache=False).logits[:, :-1].float()  # (B, L-1, V): predicts token t+1
        targets, w = labels[:, 1:], per_token[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets.clamp(min=0), reduction="none")
        return (ce * w * (targets != -100)).sum() / (w * (targets != -100)).sum().clamp(min=1e-8)

    # ------------------------------------------------------------------ sampling and scoring
    def encode(self, samples: Sequence[VideoSample] | ProcessedBatch) -> PromptBatch:
        """Tokenise a batch of prompts (or take the inputs a :class:`ProcessedBatch` carries from the data
        pipeline) and, with ``cache_encoders``, run the encoders once for the whole step."""
        raw = samples.inputs if isinstance(samples, ProcessedBatch) else self.prompt_inputs(samples)
        inputs = self._to_device(raw)
        media = encode_media(self.model, inputs) if self.cache_encoders else None
        return PromptBatch(inputs=inputs, media=media)

    def _model_inputs(self, prompt: PromptBatch, input_ids: Tensor, attention_mask: Tensor, index: Tensor) -> dict:
        """Forward kwargs for ``input_ids`` whose row ``r`` holds prompt ``index[r]`` (+ a completion)."""
        if prompt.media is not None:
            media = prompt.media.take(index)
            return {
                "input_ids": input_ids,
                "inputs_embeds": media.embed(self.model, input_ids),
                "attention_mask": attention_mask,
                **media.layout,
            }
        inputs = take_media_inputs(prompt.inputs, index)
        inputs.update(input_ids=input_ids, attention_mask=attention_mask)
        return inputs

    def _generation_inputs(self, prompt: PromptBatch) -> dict:
        ids, mask = prompt.inputs["input_ids"], prompt.inputs["attention_mask"]
        return self._model_inputs(prompt, ids, mask, torch.arange(ids.shape[0], device=ids.device))

    def _prefill(self, prompt: PromptBatch, num_generations: int) -> tuple[Tensor, Step]:
        """Prefill each media prompt once and repeat its KV cache G times.

        Text tokens after the prompt sit at rotary position ``real prompt tokens + rope delta`` on all three mRoPE
        axes (padding takes no position), where the prefill's position computation leaves the per-prompt delta;
        ``generate`` and the full forward that scores completions continue the same way.
        """
        from transformers import DynamicCache

        ids, mask = prompt.inputs["input_ids"], prompt.inputs["attention_mask"]
        thinker = unwrap_thinker(self.model)
        decoder = thinker.model
        decoder.rope_deltas = None  # computed afresh from this prompt's media layout
        cache = DynamicCache()
        kv = cache_kwargs(decoder, cache)  # the keyword the installed transformers expects
        hidden = decoder(**self._generation_inputs(prompt), **kv, use_cache=True).last_hidden_state
        deltas = decoder.rope_deltas
        if deltas is None or deltas.shape[0] != ids.shape[0]:
            raise RuntimeError(
                f"{type(decoder).__name__} left no per-prompt rope deltas after the prefill; "
                "sample with hf_generate=True for this model"
            )
        cache.batch_repeat_interleave(num_generations)  # (B, ...) -> (B*G, ...), prompt by prompt
        rows = ids.shape[0] * num_generations
        # The position of the token fed at decoding step i, before adding i: (3, B*G, 1), equal on every axis.
        start = (mask.sum(dim=1, keepdim=True) + deltas.reshape(-1, 1)).repeat_interleave(num_generations, dim=0)
        start = start.expand(3, rows, 1)
        # Without left padding every position is attended: no mask needed, which skips building one per token.
        attention = mask.repeat_interleave(num_generations, dim=0) if not bool(mask.all()) else None

        def step(token: Tensor, i: int) -> Tensor:
            nonlocal attention
            if attention is not None:
                attention = torch.cat([attention, attention.new_ones(rows, 1)], dim=1)
            out = decoder(
                input_ids=token[:, None],
                attention_mask=attention,
                position_ids=start + i,
                **kv,
                use_cache=True,
            )
            return thinker.lm_head(out.last_hidden_state[:, -1])

        logits = thinker.lm_head(hidden[:, -1])  # (B, V)
        return logits.repeat_interleave(num_generations, dim=0), step

    def _completion_logits(self, prompt: PromptBatch, rollouts: Rollouts, model: nn.Module) -> Tensor:
        ids = torch.cat([rollouts.prompt_ids, rollouts.completion_ids], dim=1)
        mask = torch.cat([rollouts.prompt_mask, rollouts.completion_mask], dim=1)
        kwargs = self._model_inputs(prompt, ids, mask, rollouts.prompt_index)
        completion_len = rollouts.completion_ids.shape[1]
        # Run the decoder, then the output head on the completion positions only: the (P + C) × vocabulary
        # logits of a long omni prompt would be the largest tensor of the step.
        thinker = unwrap_thinker(model)
        hidden = thinker.model(**kwargs, use_cache=False).last_hidden_state  # (N, P + C, D)
        return thinker.lm_head(hidden[:, -completion_len - 1 : -1])  # position t predicts token t+1


def take_media_inputs(inputs: dict, index: Tensor) -> dict:
    """Processor media inputs for rows that hold prompt ``index[r]`` (the uncached path).

    Each prompt holds at most one image, one clip and one audio track (see :meth:`GlobalSystem.conversation`),
    so flattened patches are split per prompt by their grids.
    """
    out = {}
    for key, value in inputs.items():
        if not isinstance(value, Tensor) or key in ("input_ids", "attention_mask"):
            continue
        if key in ("pixel_values", "pixel_values_videos"):
            grid = inputs["image_grid_thw" if key == "pixel_values" else "video_grid_thw"]
            chunks = torch.split(value, grid.prod(dim=1).tolist(), dim=0)
            out[key] = torch.cat([chunks[i] for i in index.tolist()], dim=0)
        else:
            out[key] = value[index.to(value.device)]
    return out
