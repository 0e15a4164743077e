"""The GRPO policy loss on per-token log-probabilities, independent of any model or trainer.

Per token the loss is the PPO clipped surrogate plus an optional k3 KL penalty toward the reference policy:

    ρ = exp(logp − old_logp)
    ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A) + β·k3,   k3 = exp(ref − logp) − (ref − logp) − 1

With ``old_logps=None`` the update is on-policy (the paper's single update per batch): ρ = exp(logp − sg(logp)) is 1
in value but its gradient is ρ·∇logp, so the surrogate reduces to the REINFORCE-style ``−A·∇logp``.

How the token losses are averaged (``loss_type``) decides how long and short completions are weighed:

- ``grpo`` (paper): mean over the tokens of each sequence, then mean over sequences.
- ``bnpo`` / ``dapo``: one mean over every completion token of the batch (long answers weigh more per sequence).
- ``dr_grpo``: sum over tokens divided by ``B · max_completion_length``, a constant that removes the length bias.

``num_items_in_batch`` makes each normaliser global. Under gradient accumulation and DDP each micro-batch sees only
part of the step's tokens; passing the step's total (token count for ``bnpo``/``dapo``, sequence count for ``grpo``
and ``dr_grpo``, summed over micro-batches and ranks) makes the micro-batch losses add up to the full-batch loss.
DDP averages gradients over ranks, so a caller passing a global count should multiply the loss by the world size.

Two exploration terms are optional (both off by default, where the loss is the paper's): ``pg_mask`` keeps the
clipped surrogate on some tokens only (the high-entropy tokens of Wang et al. 2025, see
:mod:`omni_r1.grpo.exploration`), and ``entropy_coef`` subtracts an entropy bonus aggregated like the token losses
(verl's ``entropy_coeff``: ``loss = pg_loss − coef · agg(entropy)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

LOSS_TYPES = ("grpo", "bnpo", "dapo", "dr_grpo")


def k3_divergence(logps: Tensor, ref_logps: Tensor) -> Tensor:
    """Per-token k3 estimator of KL(π || π_ref): unbiased, never negative, and 0 exactly where the two agree.

    Args:
        logps: ``(B, T)`` log-probabilities of the sampled tokens under the policy being trained.
        ref_logps: ``(B, T)`` log-probabilities of the same tokens under the reference policy.

    Returns:
        ``(B, T)`` values ``exp(ref − logp) − (ref − logp) − 1``.
    """
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


def _check_shapes(
    logps: Tensor, old_logps: Tensor | None, ref_logps: Tensor | None, advantages: Tensor, mask: Tensor
) -> None:
    """Reject mismatched inputs up front: broadcasting would otherwise turn them into a silently wrong loss."""
    if logps.ndim != 2:
        raise ValueError(f"logps must be 2-D (B, T), got shape {tuple(logps.shape)}")
    for name, tensor in (("old_logps", old_logps), ("ref_logps", ref_logps), ("mask", mask)):
        if tensor is not None and tensor.shape != logps.shape:
            raise ValueError(f"{name} must have the shape of logps {tuple(logps.shape)}, got {tuple(tensor.shape)}")
    if advantages.shape != logps.shape[:1]:
        raise ValueError(f"advantages must have shape (B,) = {tuple(logps.shape[:1])}, got {tuple(advantages.shape)}")


def _aggregate(
    token_loss: Tensor,
    mask: Tensor,
    loss_type: str,
    max_completion_length: int | None,
    num_items_in_batch: float | None,
) -> Tensor:
    """Reduce masked ``(B, T)`` token losses to the scalar loss according to ``loss_type``.

    For ``grpo`` a row without trained tokens contributes 0 but still counts as a sequence (its token count is
    clamped to 1, as in TRL), so the normaliser stays ``B`` whatever the masks hold.
    """
    masked = token_loss * mask  # (B, T)
    if loss_type == "grpo":
        per_sequence = masked.sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)  # (B,)
        return per_sequence.sum() / (num_items_in_batch if num_items_in_batch is not None else mask.shape[0])
    if loss_type in ("bnpo", "dapo"):
        denominator = num_items_in_batch if num_items_in_batch is not None else mask.sum().clamp_min(1.0)
        return masked.sum() / denominator
    if max_completion_length is None:
        raise ValueError("loss_type='dr_grpo' needs max_completion_length (its constant normaliser)")
    sequences = num_items_in_batch if num_items_in_batch is not None else mask.shape[0]
    return masked.sum() / (sequences * max_completion_length)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over masked tokens, 0 when there are none; detached because it is only logged."""
    return ((values * mask).sum() / mask.sum().clamp_min(1.0)).detach()


def policy_loss(
    logps: Tensor,
    old_logps: Tensor | None,
    ref_logps: Tensor | None,
    advantages: Tensor,
    mask: Tensor,
    *,
    loss_type: str,
    epsilon_low: float = 0.2,
    epsilon_high: float = 0.2,
    beta: float = 0.0,
    max_completion_length: int | None = None,
    num_items_in_batch: float | None = None,
    pg_mask: Tensor | None = None,
    entropy: Tensor | None = None,
    entropy_coef: float = 0.0,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Clipped GRPO surrogate with optional k3 penalty, aggregated as ``loss_type`` asks.

    Args:
        logps: ``(B, T)`` log-probabilities of the completion tokens under the current policy (with gradient).
            Values at masked positions are ignored (they may be padding, even ``-inf``).
        old_logps: ``(B, T)`` log-probabilities under the policy that sampled the completions, or ``None`` for the
            on-policy case, where ``logps.detach()`` is used so ρ = 1 but the gradient still flows.
        ref_logps: ``(B, T)`` log-probabilities under the frozen reference policy; may be ``None`` when ``beta == 0``.
            When given with ``beta == 0`` the KL is still reported in the metrics.
        advantages: ``(B,)`` one advantage per sequence (see :func:`omni_r1.grpo.advantages.group_advantages`).
        mask: ``(B, T)`` bool or float, 1 for completion tokens to train on, 0 for prompt/padding/after EOS.
        loss_type: ``"grpo"``, ``"bnpo"``, ``"dapo"`` or ``"dr_grpo"`` (see the module docstring).
        epsilon_low: lower clip range, ρ is clipped below at ``1 − epsilon_low``.
        epsilon_high: upper clip range, ρ is clipped above at ``1 + epsilon_high`` (DAPO's "clip-higher" when larger).
        beta: weight of the k3 KL penalty (paper: 0.04); 0 disables it and allows ``ref_logps=None``.
        max_completion_length: the generation length cap; required by ``dr_grpo`` only.
        num_items_in_batch: global normaliser across gradient-accumulation micro-batches and ranks. ``bnpo``/``dapo``
            divide the token-loss sum by it (total masked tokens); ``grpo`` divides the sum of per-sequence means by
            it (total sequences); ``dr_grpo`` divides by it × ``max_completion_length`` (total sequences). A 0-dim
            tensor (e.g. from an all-reduce) works too. ``None`` uses the local count, exact without accumulation.
        pg_mask: ``(B, T)`` tokens whose clipped surrogate counts (TRL's entropy mask: the surrogate is zeroed
            elsewhere, the KL penalty is not, and the normaliser stays that of ``mask``); ``None`` keeps all.
        entropy: ``(B, T)`` entropy of the policy's full next-token distribution at each position, differentiable;
            needed when ``entropy_coef != 0``, ignored otherwise.
        entropy_coef: weight of the entropy bonus; the loss becomes ``loss − entropy_coef · agg(entropy)`` with
            ``agg`` the aggregation of ``loss_type`` over ``mask`` (and ``num_items_in_batch``), as in verl.

    Returns:
        ``(loss, metrics)``: the scalar loss to backpropagate, and detached 0-dim metrics: ``kl`` (masked mean k3,
        0 without a reference), ``clip_ratio/low_mean`` (fraction of masked tokens with ρ < 1 − ε_low and A < 0),
        ``clip_ratio/high_mean`` (ρ > 1 + ε_high and A > 0) and ``clip_ratio/region_mean`` (either).

    Raises:
        ValueError: on an unknown ``loss_type``, mismatched shapes, ``beta > 0`` without ``ref_logps``, a missing
            ``max_completion_length`` for ``dr_grpo``, or non-positive normalisers / negative clip ranges.
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    _check_shapes(logps, old_logps, ref_logps, advantages, mask)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    if beta > 0 and ref_logps is None:
        raise ValueError(f"beta={beta} > 0 needs ref_logps for the KL penalty, got None")
    if epsilon_low < 0 or epsilon_high < 0:
        raise ValueError(f"epsilon_low and epsilon_high must be >= 0, got {epsilon_low} and {epsilon_high}")
    if max_completion_length is not None and max_completion_length < 1:
        raise ValueError(f"max_completion_length must be a positive int, got {max_completion_length}")
    if num_items_in_batch is not None and not num_items_in_batch > 0:
        raise ValueError(f"num_items_in_batch must be > 0, got {num_items_in_batch}")
    if entropy_coef != 0 and entropy is None:
        raise ValueError(f"entropy_coef={entropy_coef} needs the per-token entropy, got None")
    for name, tensor in (("pg_mask", pg_mask), ("entropy", entropy if entropy_coef != 0 else None)):
        if tensor is not None and tensor.shape != logps.shape:
            raise ValueError(f"{name} must have the shape of logps {tuple(logps.shape)}, got {tuple(tensor.shape)}")

    weights = mask.to(logps.dtype)  # (B, T)
    trained = weights != 0
    zeros = torch.zeros_like(logps)
    old = logps.detach() if old_logps is None else old_logps
    # Masked positions are zeroed *before* exp so padding values (even -inf) cannot leak NaN into loss or gradient.
    log_ratio = torch.where(trained, logps - old, zeros)  # (B, T)
    ratio = torch.exp(log_ratio)
    adv = advantages.to(logps.dtype).unsqueeze(1)  # (B, 1)
    clipped = ratio.clamp(1 - epsilon_low, 1 + epsilon_high)
    token_loss = -torch.minimum(ratio * adv, clipped * adv)  # (B, T)
    if pg_mask is not None:
        token_loss = torch.where(pg_mask.bool(), token_loss, zeros)

    kl = zeros
    if ref_logps is not None:
        kl = k3_divergence(torch.where(trained, logps, zeros), torch.where(trained, ref_logps, zeros))
        if beta > 0:
            token_loss = token_loss + beta * kl

    loss = _aggregate(token_loss, weights, loss_type, max_completion_length, num_items_in_batch)
    if entropy_coef != 0:
        bonus = _aggregate(
            torch.where(trained, entropy, zeros), weights, loss_type, max_completion_length, num_items_in_batch
        )
        loss = loss - entropy_coef * bonus

    with torch.no_grad():
        low = (ratio < 1 - epsilon_low) & (adv < 0)
        high = (ratio > 1 + epsilon_high) & (adv > 0)
        metrics = {
            "kl": _masked_mean(kl, weights),
            "clip_ratio/low_mean": _masked_mean(low.to(weights.dtype), weights),
            "clip_ratio/high_mean": _masked_mean(high.to(weights.dtype), weights),
            "clip_ratio/region_mean": _masked_mean((low | high).to(weights.dtype), weights),
        }
    return loss, metrics
