"""What the policies hand the GRPO engine: prompt batches, sampled rollouts, and the token-level helpers on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from omni_r1.models.media import MediaFeatures


@dataclass
class Rollouts:
    """Sampled completions of a batch: ``G`` per prompt, ordered prompt by prompt.

    Attributes:
        prompt_index: ``(B*G,)`` index of the prompt each row answers (rows stay aligned when sliced).
        prompt_ids: ``(B*G, P)`` left-padded prompt tokens (each prompt repeated G times).
        prompt_mask: ``(B*G, P)`` attention mask of the prompts.
        completion_ids: ``(B*G, C)`` sampled tokens, padded after the first EOS.
        completion_mask: ``(B*G, C)`` 1 up to and including the first EOS, 0 after.
        texts: decoded completions (special tokens removed).
    """

    prompt_index: Tensor
    prompt_ids: Tensor
    prompt_mask: Tensor
    completion_ids: Tensor
    completion_mask: Tensor
    texts: list[str]

    def __len__(self) -> int:
        return self.completion_ids.shape[0]

    def __getitem__(self, part: slice) -> Rollouts:
        """The rollouts of rows ``part`` (a micro-batch); prompts are found through ``prompt_index``."""
        return Rollouts(
            prompt_index=self.prompt_index[part],
            prompt_ids=self.prompt_ids[part],
            prompt_mask=self.prompt_mask[part],
            completion_ids=self.completion_ids[part],
            completion_mask=self.completion_mask[part],
            texts=self.texts[part],
        )


@dataclass
class PromptBatch:
    """Tokenised prompts of one step and, when cached, their encoder features.

    Attributes:
        inputs: the processor's tensors on the model's device (left-padded ``input_ids``, media inputs).
        media: encoder features computed once for the step, or ``None`` (encoders run in every forward).
    """

    inputs: dict
    media: MediaFeatures | None = None


def make_rollouts(
    prompt_ids: Tensor,
    prompt_mask: Tensor,
    completion_ids: Tensor,
    num_generations: int,
    eos_token_ids: Sequence[int],
    tokenizer: Any,
) -> Rollouts:
    """Rollouts from sampled tokens: everything after the first EOS masked and padded, texts decoded, each
    prompt repeated for its ``num_generations`` completions."""
    completion_mask = completion_mask_after_eos(completion_ids, eos_token_ids)
    completion_ids = completion_ids.masked_fill(completion_mask == 0, tokenizer.pad_token_id)
    index = torch.arange(prompt_ids.shape[0], device=prompt_ids.device)
    return Rollouts(
        prompt_index=index.repeat_interleave(num_generations),
        prompt_ids=prompt_ids.repeat_interleave(num_generations, dim=0),
        prompt_mask=prompt_mask.repeat_interleave(num_generations, dim=0),
        completion_ids=completion_ids,
        completion_mask=completion_mask,
        texts=tokenizer.batch_decode(completion_ids, skip_special_tokens=True),
    )


def completion_mask_after_eos(completion_ids: Tensor, eos_token_ids: Sequence[int]) -> Tensor:
    """``(N, C)`` mask that keeps tokens up to and including the first EOS of each row."""
    is_eos = torch.isin(completion_ids, torch.tensor(list(eos_token_ids), device=completion_ids.device))
    # index of first EOS (C when none)
    length = completion_ids.shape[1]
    no_eos = torch.full_like(is_eos[:, 0], length, dtype=torch.long)
    first = torch.where(is_eos.any(dim=1), is_eos.int().argmax(dim=1), no_eos)
    positions = torch.arange(length, device=completion_ids.device)[None, :]
    return (positions <= first[:, None]).long()


def selective_log_softmax(logits: Tensor, index: Tensor) -> Tensor:
    """``log_softmax(logits).gather(index)`` one row at a time, never holding ``(N, C, V)`` log-probs twice."""
    rows = [row.gather(-1, idx[:, None]).squeeze(-1) - torch.logsumexp(row, dim=-1) for row, idx in zip(logits, index)]
    return torch.stack(rows)


def token_entropy(logits: Tensor, *, grad: bool = False) -> Tensor:
    """``(N, C)`` entropy of each position's full next-token distribution, row by row: a logging signal without
    gradient, or differentiable with ``grad`` (an entropy bonus; only where autograd is enabled anyway)."""
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
        rows = []
        for row in logits:
            logp = torch.log_softmax(row, dim=-1)
            rows.append(-(logp.exp() * logp).sum(dim=-1))
        return torch.stack(rows)
