"""What every policy of the GRPO engine shares: grouped sampling, and LoRA adapters switched off for the reference.

A policy encodes prompts into a :class:`~omni_r1.models.rollouts.PromptBatch`, samples ``G`` completions per
prompt and scores sampled tokens. Sampling runs the prefill-once loop of :mod:`omni_r1.models.decoding` by
default, or ``transformers``' ``generate`` (``hf_generate``); a subclass says what either one feeds its model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from omni_r1.models.decoding import decode_with_cache, divide_by_temperature
from omni_r1.models.rollouts import PromptBatch, Rollouts, make_rollouts, selective_log_softmax, token_entropy

# One decoding step: the tokens sampled at step i go in, the next position's (N, V) logits come out.
Step = Callable[[Tensor, int], Tensor]


class SamplingPolicy(nn.Module):
    """Base of :class:`~omni_r1.models.global_system.GlobalSystem` and :class:`~omni_r1.models.text_policy.TextPolicy`.

    Subclasses set ``model``, ``tokenizer``, ``forbidden_token_ids`` and ``hf_generate``, and implement
    :meth:`encode`, :meth:`eos_token_ids`, :meth:`_generation_inputs` and :meth:`_prefill`.
    """

    model: nn.Module
    tokenizer: Any
    forbidden_token_ids: list[int]
    hf_generate: bool

    @property
    def eos_token_ids(self) -> list[int]:
        raise NotImplementedError

    @property
    def has_adapters(self) -> bool:
        return hasattr(self.model, "disable_adapter")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode(self, samples: Sequence[Any]) -> PromptBatch:
        """Left-padded prompts of a batch on the model's device."""
        raise NotImplementedError

    def _generation_inputs(self, prompt: PromptBatch) -> dict[str, Any]:
        """Keyword arguments of ``model.generate`` for the prompts (ids, mask and whatever else the model reads)."""
        raise NotImplementedError

    def _prefill(self, prompt: PromptBatch, num_generations: int) -> tuple[Tensor, Step]:
        """Run the prompts once with a fresh KV cache repeated for ``num_generations`` completions each.

        Returns:
            The ``(B*G, V)`` next-token logits after each prompt copy and the decoding step that extends the cache.
        """
        raise NotImplementedError

    @torch.no_grad()
    def generate(
        self,
        samples: Sequence[Any] | PromptBatch,
        *,
        num_generations: int = 1,
        max_new_tokens: int = 256,
        temperature: float | Tensor = 1.0,
        top_p: float = 0.95,
        do_sample: bool = True,
        top_k: int | None = None,
    ) -> Rollouts:
        """Sample ``num_generations`` completions per prompt, never a forbidden token (placeholders, special
        tokens); everything after a completion's first EOS is masked out. ``temperature`` may be a ``(B*G,)``
        tensor, one per completion row (prompt by prompt), which only the built-in loop can sample with.
        ``top_k`` keeps the ``top_k`` most likely tokens before ``top_p`` (``None``: off)."""
        if num_generations < 1 or max_new_tokens < 1:
            raise ValueError(
                f"num_generations and max_new_tokens must be >= 1, got {num_generations}, {max_new_tokens}"
            )
        if do_sample and bool((torch.as_tensor(temperature) <= 0).any()):
            raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
        if isinstance(temperature, Tensor) and self.hf_generate:
            raise ValueError("per-row temperatures need the built-in sampler: set hf_generate to false")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if top_k is not None and not (isinstance(top_k, int) and top_k >= 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k}")
        prompt = samples if isinstance(samples, PromptBatch) else self.encode(samples)
        ids, mask = prompt.inputs["input_ids"], prompt.inputs["attention_mask"]
        was_training = self.model.training
        self.model.eval()
        try:
            settings = dict(
                max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p, top_k=top_k
            )
            if self.hf_generate:
                completion_ids = self._generate_hf(prompt, num_generations, **settings)
            else:
                logits, step = self._prefill(prompt, num_generations)
                completion_ids = decode_with_cache(
                    logits,
                    step,
                    eos_token_ids=self.eos_token_ids,
                    pad_token_id=self.tokenizer.pad_token_id,
                    forbidden_token_ids=self.forbidden_token_ids,
                    **settings,
                )
        finally:
            self.model.train(was_training)
        return make_rollouts(ids, mask, completion_ids, num_generations, self.eos_token_ids, self.tokenizer)

    def _generate_hf(
        self,
        prompt: PromptBatch,
        num_generations: int,
        *,
        max_new_tokens: int,
        do_sample: bool,
        temperature: float,
        top_p: float,
        top_k: int | None = None,
    ) -> Tensor:
        out = self.model.generate(
            **self._generation_inputs(prompt),
            do_sample=do_sample,
            temperature=temperature if do_sample else None,
            top_p=top_p if do_sample else None,
            top_k=top_k if do_sample else None,
            max_new_tokens=max_new_tokens,
            num_return_sequences=num_generations,
            bad_words_ids=[[i] for i in self.forbidden_token_ids] or None,
            eos_token_id=self.eos_token_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        return out[:, prompt.inputs["input_ids"].shape[1] :]  # (B*G, C)

    def _completion_logits(self, prompt: PromptBatch, rollouts: Rollouts, model: nn.Module) -> Tensor:
        """``(N, C, V)`` logits of ``model`` at the positions that predict each completion token."""
        raise NotImplementedError

    def completion_logps(
        self,
        prompt: PromptBatch,
        rollouts: Rollouts,
        *,
        temperature: float | Tensor = 1.0,
        model: nn.Module | None = None,
        return_entropy: bool = False,
        entropy_grad: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``(N, C)`` log-probabilities of the sampled tokens at the sampling temperature (and, with
        ``return_entropy``, each position's entropy); ``temperature`` may be an ``(N,)`` tensor, one per row.

        Both are of the full temperature-scaled distribution: the top-k / top-p truncation of sampling is not
        applied (as in TRL and verl). ``entropy_grad`` keeps the entropy differentiable (an entropy bonus);
        otherwise it is a detached logging signal.

        ``model`` scores with other weights (a frozen reference copy); with LoRA, wrap the call in
        :meth:`adapters_disabled` instead.
        """
        logits = self._completion_logits(prompt, rollouts, model if model is not None else self.model)
        logits = divide_by_temperature(logits.float(), temperature)
        logps = selective_log_softmax(logits, rollouts.completion_ids)
        return (logps, token_entropy(logits, grad=entropy_grad)) if return_entropy else logps

    @contextmanager
    def adapters_disabled(self) -> Iterator[None]:
        """The base weights alone: the KL reference (and a LoRA run's S2 grounder)."""
        if not self.has_adapters:
            raise RuntimeError("the policy has no LoRA adapters to disable")
        with self.model.disable_adapter():
            yield
