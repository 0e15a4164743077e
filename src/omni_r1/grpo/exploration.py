"""Exploration maths of the GRPO engine: the high-entropy token mask and the diversity of a group's completions.

The entropy bonus itself is a term of :func:`omni_r1.grpo.loss.policy_loss` (``entropy_coef``), aggregated like the
token losses. The token mask here is TRL's ``top_entropy_quantile`` ("Beyond the 80/20 Rule", Wang et al. 2025):

    τ = quantile(entropies of every completion token of the batch, 1 − q)        (linear interpolation)
    keep token t  ⇔  H_t ≥ τ  and  t is a completion token

so ``q`` is the fraction of tokens *kept* (``q = 0.2`` trains on the 20 % highest-entropy tokens; ``q = 1`` keeps
every token). Only the policy-gradient term is masked; the KL penalty and the loss normaliser are not.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def entropy_threshold(entropies: Tensor, keep: float) -> Tensor:
    """The entropy at or above which a token is kept: the ``(1 − keep)``-quantile of ``entropies``.

    Args:
        entropies: 1-D entropies of every completion token the threshold is taken over (padding excluded).
        keep: ``top_entropy_quantile``, the fraction of tokens kept, in ``(0, 1]``.

    Returns:
        A 0-dim tensor: ``torch.quantile(entropies, 1 − keep)`` (linear interpolation, as TRL), or ``+inf`` when
        there are no tokens (nothing is kept).
    """
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if entropies.ndim != 1:
        raise ValueError(f"entropies must be 1-D (the batch's completion tokens), got shape {tuple(entropies.shape)}")
    values = entropies.detach()
    if not values.is_floating_point():
        values = values.float()
    if values.numel() == 0:
        return values.new_tensor(float("inf"))
    return torch.quantile(values, 1.0 - keep)


def high_entropy_mask(entropies: Tensor, mask: Tensor, threshold: Tensor | float) -> Tensor:
    """``(B, T)`` bool: the completion tokens (``mask``) whose entropy is at or above ``threshold``."""
    if entropies.shape != mask.shape:
        raise ValueError(f"entropies {tuple(entropies.shape)} and mask {tuple(mask.shape)} must have one shape")
    return (entropies.detach() >= threshold) & mask.bool()


def top_entropy_mask(entropies: Tensor, mask: Tensor, keep: float) -> Tensor:
    """``(B, T)`` bool: the ``keep`` fraction of highest-entropy completion tokens of one batch (threshold taken
    over this batch's completion tokens: :func:`entropy_threshold`, then :func:`high_entropy_mask`)."""
    threshold = entropy_threshold(entropies.detach()[mask.bool()], keep)
    return high_entropy_mask(entropies, mask, threshold)


def completion_diversity(texts: Sequence[str], group_size: int) -> dict[str, float]:
    """How different the completions of each group are.

    Args:
        texts: ``B*G`` decoded completions, group by group.
        group_size: ``G``.

    Returns:
        ``distinct_completions``: mean over groups of the number of distinct texts (1 … G);
        ``frac_groups_one_answer``: fraction of groups whose G completions are one and the same text.
    """
    if group_size < 1 or len(texts) == 0 or len(texts) % group_size:
        raise ValueError(f"{len(texts)} completions are not whole groups of {group_size}")
    counts = [len(set(texts[i : i + group_size])) for i in range(0, len(texts), group_size)]
    return {
        "distinct_completions": sum(counts) / len(counts),
        "frac_groups_one_answer": sum(c == 1 for c in counts) / len(counts),
    }
