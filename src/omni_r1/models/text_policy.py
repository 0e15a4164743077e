"""A text-only policy with the Global system's interface, so the GRPO engine runs on any causal LM.

``GRPOModule`` only needs a policy that encodes prompts, samples ``G`` completions per prompt, scores sampled
tokens and (with LoRA) switches its adapters off for the reference. :class:`TextPolicy` provides exactly that for
``AutoModelForCausalLM`` checkpoints (a local folder, a Hub id or ``tiny://qwen2``): it lets the engine be checked
and timed on text against other GRPO implementations without the omni encoders in the way.

Prompts are the user turn of a chat, rendered with the tokenizer's chat template. A record is a
:class:`TextSample` (``prompt`` is the user turn) or a ``VideoSample`` (its ``expression`` is the user turn), so
the same rewards, which receive the record, work on both.

Sampling uses a lean decoding loop instead of ``transformers``' ``generate``: each prompt is prefilled once and its
KV cache repeated for the G completions (``generate`` prefills every copy), the causal mask is dropped when no row
is padded, and the per-token work is one forward plus temperature / top-p sampling without a sort over the
vocabulary (:func:`sample_next_token`). On small models the per-token bookkeeping of ``generate`` costs about as
much as the forward itself, and on CPU ``torch.sort`` and ``torch.multinomial`` over the vocabulary cost a forward's
worth too. ``hf_generate=True`` switches back, e.g. for an architecture whose cache the loop does not handle; both
give the same greedy tokens (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from omni_r1.data.types import VideoSample
from omni_r1.models.cache_keyword import cache_kwargs
from omni_r1.models.hub import resolve_pretrained
from omni_r1.models.loading import (
    DTYPES,
    Dtype,
    LoraConfig,
    apply_lora,
    explain_unavailable_model,
    require_attn_implementation,
    require_model_name_or_path,
    torch_dtype,
)
from omni_r1.models.policy import SamplingPolicy, Step
from omni_r1.models.rollouts import PromptBatch, Rollouts
from omni_r1.validation import init_arguments, require, require_bool, require_choice, validate_nested

# The tiny:// models a causal-LM head loads (the omni thinkers are not AutoModelForCausalLM checkpoints).
TEXT_TINY_MODELS = ("qwen2",)


@dataclass
class TextSample:
    """One text prompt and, optionally, what a reward compares completions with.

    Args:
        prompt: the user turn.
        answer: a reference answer for rewards that need one (unused by the policy).
        sample_id: a name for logs (the completions table shows it where video prompts show the video id).
        task: task family, so rewards and batch samplers can tell text prompts apart.
    """

    prompt: str
    answer: str | None = None
    sample_id: str = ""
    task: str = "text"

    @property
    def expression(self) -> str:
        """The prompt, under the name ``VideoSample`` uses (completions tables read ``sample.expression``)."""
        return self.prompt

    @property
    def video_id(self) -> str:
        """The sample id, under the name ``VideoSample`` uses (completions tables read ``sample.video_id``)."""
        return self.sample_id


def prompt_text(sample: TextSample | VideoSample | str) -> str:
    """The user turn of a record: ``TextSample.prompt``, ``VideoSample.expression`` or the string itself."""
    if isinstance(sample, str):
        return sample
    if isinstance(sample, TextSample):
        return sample.prompt
    if isinstance(sample, VideoSample):
        return sample.expression
    raise TypeError(f"TextPolicy prompts must be TextSample, VideoSample or str, got {type(sample).__name__}")


def left_padded_position_ids(attention_mask: Tensor) -> Tensor:
    """``(N, L)`` positions counted from each row's first real token, as ``generate`` assigns them.

    A plain forward numbers every column from 0, so a left-padded row would be scored at other positions than it
    was sampled at: rotary models barely notice (attention sees position differences only), but models with
    absolute or learned positions would score another distribution than the one sampled.
    """
    return (attention_mask.long().cumsum(dim=-1) - 1).clamp_min(0)


class TextPolicy(SamplingPolicy):
    """Causal-LM policy for ``GRPOModule``: chat-template prompts, grouped sampling, completion log-probs.

    Args:
        model_name_or_path: local folder, Hub id, or ``tiny://qwen2`` (the tiny text-only Qwen2 built offline).
        dtype: weight dtype (``float32``, ``bfloat16``, ``float16``).
        lora: LoRA adapters (peft); the KL reference is then the same weights with adapters disabled.
        gradient_checkpointing: recompute activations in the backward pass (memory for time).
        attn_implementation: ``sdpa``, ``eager`` or ``flash_attention_2``.
        system_prompt: a system turn put before every prompt, or ``None`` for the template's default.
        forbid_special_tokens: never sample special tokens other than the stop tokens (a young policy that emits
            ``<|im_start|>`` writes a fake new turn); off, sampling is the model's unconstrained distribution.
        hf_generate: sample with ``transformers``' ``generate`` instead of the built-in cached loop (slower on
            small models; for architectures the loop does not support).
    """

    def __init__(
        self,
        model_name_or_path: str = "tiny://qwen2",
        dtype: Dtype = "float32",
        lora: LoraConfig | None = None,
        gradient_checkpointing: bool = False,
        attn_implementation: str = "sdpa",
        system_prompt: str | None = None,
        forbid_special_tokens: bool = True,
        hf_generate: bool = False,
    ) -> None:
        TextPolicy.validate_init_args(init_arguments(locals()))
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name_or_path = model_name_or_path
        self.system_prompt = system_prompt
        self.hf_generate = hf_generate
        path = resolve_pretrained(model_name_or_path)
        with explain_unavailable_model(model_name_or_path):
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=torch_dtype(dtype), attn_implementation=attn_implementation
            )
        if gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            model.config.use_cache = False
        if lora is not None:
            model = apply_lora(model, lora)
        self.model = model
        self.model.train()  # from_pretrained returns eval mode; training modes are Lightning's to switch
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.chat_template is None:
            raise ValueError(f"the tokenizer of {model_name_or_path!r} ({path}) has no chat template")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "left"  # generation appends on the right
        declared = self.model.generation_config.eos_token_id
        declared = [declared] if isinstance(declared, int) else list(declared or [])
        ids = {self.tokenizer.eos_token_id, self.tokenizer.get_vocab().get("<|im_end|>"), *declared}
        self._eos_token_ids = sorted(i for i in ids if i is not None and i >= 0)
        stops = set(self.eos_token_ids) | {self.tokenizer.pad_token_id}
        forbidden = set(self.tokenizer.all_special_ids) - stops if forbid_special_tokens else set()
        self.forbidden_token_ids = sorted(forbidden)

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would only fail once the weights load."""
        require_model_name_or_path("model_name_or_path", args.get("model_name_or_path"), tiny_models=TEXT_TINY_MODELS)
        require_choice("dtype", args.get("dtype"), DTYPES)
        validate_nested("lora", LoraConfig, args.get("lora"))
        for flag in ("gradient_checkpointing", "forbid_special_tokens", "hf_generate"):
            require_bool(flag, args.get(flag))
        require_attn_implementation("attn_implementation", args.get("attn_implementation"))
        system = args.get("system_prompt")  # "" is a real choice: an empty system turn instead of the default one
        require(system is None or isinstance(system, str), "system_prompt", system, "must be a string or null")

    @property
    def eos_token_ids(self) -> list[int]:
        """Ids that end a completion: the tokenizer's EOS, ``<|im_end|>`` where it exists, and every EOS id the
        model's generation config declares (Qwen chat models also stop on ``<|endoftext|>``)."""
        return list(self._eos_token_ids)

    def save_pretrained(self, path: str) -> None:
        """Write the model (or its peft adapter) and the tokenizer in Hugging Face format."""
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)

    # ------------------------------------------------------------------ inputs
    def chat_prompt(self, sample: TextSample | VideoSample | str) -> str:
        """The templated prompt text of one record, ending with the assistant turn's header."""
        messages = [{"role": "user", "content": prompt_text(sample)}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def encode(self, samples: Sequence[TextSample | VideoSample | str]) -> PromptBatch:
        """Left-padded prompt tokens of a batch on the model's device (``media`` stays ``None``: text only)."""
        if len(samples) == 0:
            raise ValueError("TextPolicy.encode: empty batch")
        texts = [self.chat_prompt(sample) for sample in samples]
        tokens = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        device = self.device
        return PromptBatch(inputs={k: tokens[k].to(device) for k in ("input_ids", "attention_mask")})

    # ------------------------------------------------------------------ sampling and scoring
    def _generation_inputs(self, prompt: PromptBatch) -> dict:
        return {"input_ids": prompt.inputs["input_ids"], "attention_mask": prompt.inputs["attention_mask"]}

    def _prefill(self, prompt: PromptBatch, num_generations: int) -> tuple[Tensor, Step]:
        """Prefill each prompt once and repeat its KV cache G times; positions count from each row's first token."""
        from transformers import DynamicCache

        model = self.model
        ids, mask = prompt.inputs["input_ids"], prompt.inputs["attention_mask"]
        positions = left_padded_position_ids(mask)  # (B, P)
        cache = DynamicCache(config=model.config)
        kv = cache_kwargs(model, cache)  # the keyword the installed transformers expects
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            **kv,
            use_cache=True,
            logits_to_keep=1,
        )
        cache.batch_repeat_interleave(num_generations)  # (B, ...) -> (B*G, ...), prompt by prompt
        # Without left padding every position is attended: no mask needed, which skips building one per token.
        attention = mask.repeat_interleave(num_generations, dim=0) if not bool(mask.all()) else None
        last = positions[:, -1:].repeat_interleave(num_generations, dim=0)  # (B*G, 1)

        def step(token: Tensor, i: int) -> Tensor:
            nonlocal attention
            if attention is not None:
                attention = torch.cat([attention, attention.new_ones(attention.shape[0], 1)], dim=1)
            out = model(
                input_ids=token[:, None],
                attention_mask=attention,
                position_ids=last + i + 1,
                **kv,
                use_cache=True,
            )
            return out.logits[:, -1]

        return out.logits[:, -1].repeat_interleave(num_generations, dim=0), step  # (B*G, V)

    def _completion_logits(self, prompt: PromptBatch, rollouts: Rollouts, model: nn.Module) -> Tensor:
        """Only the ``C + 1`` last positions go through the output head (``logits_to_keep``): the prompt's
        logits are never needed."""
        ids = torch.cat([rollouts.prompt_ids, rollouts.completion_ids], dim=1)  # (N, P + C)
        mask = torch.cat([rollouts.prompt_mask, rollouts.completion_mask], dim=1)
        logits = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=left_padded_position_ids(mask),
            logits_to_keep=rollouts.completion_ids.shape[1] + 1,
            use_cache=False,
        ).logits  # (N, C + 1, V)
        return logits[:, :-1]  # position t predicts token t+1
