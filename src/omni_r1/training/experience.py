"""One scored generation batch (:class:`Experience`) and the scoring of its groups, prompt by prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from omni_r1.answer.handover import Handover
from omni_r1.answer.outputs import DetailOutput
from omni_r1.models.rollouts import PromptBatch, Rollouts


@dataclass
class Experience:
    """One generation batch, scored: what the μ updates consume.

    Attributes:
        prompt: tokenised prompts and cached encoder features.
        rollouts: the B·G completions, prompt by prompt.
        rewards: ``(B*G,)`` total rewards; ``terms`` holds each reward term on its own.
        advantages: ``(B*G,)`` grouped advantages.
        old_logps: ``(B*G, C)`` log-probs at sampling time (μ > 1), else ``None`` (on-policy).
        ref_logps: ``(B*G, C)`` reference log-probs (β > 0), else ``None``.
        details: per prompt, the Detail system's output for each completion (keyframes, boxes, masks), or ``None``.
        handovers: per prompt, each completion's hand-over (parsed answer, keyframes), made once and read by both
            the Detail system and the reward; ``None`` for rewards that do not read one.
        temperature: what the completions were sampled at and every log-prob of them is computed at: one number,
            or a ``(B*G,)`` tensor when the batch mixes tasks with their own temperatures.
    """

    prompt: PromptBatch
    rollouts: Rollouts
    rewards: Tensor
    terms: dict[str, Tensor]
    advantages: Tensor
    old_logps: Tensor | None = None
    ref_logps: Tensor | None = None
    details: list[list[DetailOutput]] | None = None
    handovers: list[list[Handover]] | None = None
    temperature: float | Tensor = 1.0


def score_groups(
    reward: Callable[..., Any],
    batch: Sequence[Any],
    rollouts: Rollouts,
    group_size: int,
    details: list[list[DetailOutput]] | None = None,
    image_hw: list[tuple[int, int]] | None = None,
    handovers: list[list[Handover]] | None = None,
) -> tuple[Tensor, dict[str, Tensor]]:
    """``(B*G,)`` rewards and per-term values, prompt by prompt; ``details`` are the Detail system's outputs
    per prompt (one per completion), ``image_hw`` the image size each grounding prompt was answered at,
    ``handovers`` the hand-overs the Detail system ran on."""
    G = group_size
    lengths = rollouts.completion_mask.sum(dim=1).cpu()
    totals, terms = [], {}
    for i, sample in enumerate(batch):
        texts = rollouts.texts[i * G : (i + 1) * G]
        extra = {}  # only what exists: simple rewards (benchmarks, text runs) need not take every keyword
        if details:
            extra["details"] = details[i]
        if image_hw:
            extra["image_hw"] = image_hw[i]
        if handovers:
            extra["handovers"] = handovers[i]
        out = reward(texts, sample, num_tokens=lengths[i * G : (i + 1) * G], **extra)
        totals.append(out.total)
        for name, value in out.terms.items():
            terms.setdefault(name, []).append(value)
    return torch.cat(totals), {k: torch.cat(v) for k, v in terms.items()}
