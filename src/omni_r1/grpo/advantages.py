"""Group-relative advantages: the only place GRPO turns rewards into a learning signal.

GRPO samples ``G`` completions per prompt and scores each against the others of its own group, so no value network
is needed. The paper's estimator is ``A_i = (r_i - mean_group) / (std_group + 1e-4)`` (``scale="group"``); the
variants ``"batch"`` (one std over the whole batch, less noisy for small groups) and ``"none"`` (Dr. GRPO: no std
scaling, which removes the bias toward easy and hard prompts) are offered as config choices.
"""

from __future__ import annotations

import torch
from torch import Tensor

SCALES = ("group", "batch", "none")


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    """Validate ``rewards`` and view them as ``(B, G)``, one row per prompt.

    Bad rewards would silently poison every advantage of the step, so they are rejected here with the reason.
    """
    if not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")
    if rewards.ndim != 1:
        raise ValueError(f"rewards must be 1-D of shape (B*G,), got shape {tuple(rewards.shape)}")
    if rewards.numel() == 0 or rewards.numel() % group_size != 0:
        raise ValueError(
            f"rewards length {rewards.numel()} must be a positive multiple of group_size={group_size} "
            "(rewards are ordered group by group)"
        )
    if not rewards.is_floating_point():
        rewards = rewards.to(torch.get_default_dtype())
    if not torch.isfinite(rewards).all():
        bad = (~torch.isfinite(rewards)).nonzero().flatten().tolist()
        raise ValueError(f"rewards must be finite; non-finite values at indices {bad}")
    return rewards.detach().view(-1, group_size)  # (B, G)


def _group_std(grouped: Tensor, constant: Tensor) -> Tensor:
    """Unbiased std per group, ``(B, 1)``, defined as exactly 0 for constant groups (including ``G = 1``).

    Bessel's correction makes the std of a single reward NaN, and rounding in the mean can make the std of equal
    rewards a tiny non-zero number; neither carries information, so both are pinned to 0.
    """
    if grouped.shape[1] < 2:
        return torch.zeros_like(grouped[:, :1])
    std = grouped.std(dim=1, keepdim=True)  # (B, 1)
    return torch.where(constant, torch.zeros_like(std), std)


def group_advantages(
    rewards: Tensor,
    group_size: int,
    scale: str = "group",
    eps: float = 1e-4,
    std_floor: float | None = None,
) -> Tensor:
    """Advantage of each completion relative to the other completions of its prompt.

    A group whose rewards are all equal (which includes every group when ``group_size == 1``) gets exactly 0
    advantage under every ``scale``: it carries no preference, and must neither produce NaN nor push the policy
    because of floating-point noise in the group mean.

    Args:
        rewards: ``(B*G,)`` total reward per completion, ordered group by group (first ``G`` belong to prompt 0).
        group_size: ``G``, the number of completions sampled per prompt.
        scale: ``"group"`` divides by the group's unbiased std (the paper), ``"batch"`` by the unbiased std of all
            ``B*G`` rewards, ``"none"`` only subtracts the group mean.
        eps: added to the std so that groups with a tiny spread do not explode (paper: ``1e-4``).
        std_floor: if set, divide by ``max(std, std_floor) + eps`` instead, bounding advantages of groups whose
            rewards differ only slightly. Off by default so that the default equals the paper's formula.

    Returns:
        ``(B*G,)`` advantages, detached, in the rewards' floating dtype.

    Raises:
        ValueError: if ``rewards`` is not 1-D, its length is not a multiple of ``group_size``, it holds non-finite
            values, or ``scale`` is unknown.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    if std_floor is not None and std_floor < 0:
        raise ValueError(f"std_floor must be >= 0 or None, got {std_floor}")
    grouped = _grouped(rewards, group_size)  # (B, G)
    constant = (grouped == grouped[:, :1]).all(dim=1, keepdim=True)  # (B, 1)
    centered = grouped - grouped.mean(dim=1, keepdim=True)  # (B, G)
    if scale == "none":
        advantages = centered
    else:
        if scale == "group":
            std = _group_std(grouped, constant)  # (B, 1)
        else:
            flat = grouped.flatten()
            std = flat.std() if flat.numel() > 1 else flat.new_zeros(())
            std = std.expand(grouped.shape[0], 1)  # (B, 1)
        if std_floor is not None:
            std = std.clamp_min(std_floor)
        advantages = centered / (std + eps)
    advantages = torch.where(constant, torch.zeros_like(advantages), advantages)
    return advantages.flatten()  # (B*G,)


def zero_spread_groups(rewards: Tensor, group_size: int) -> Tensor:
    """``(B,)`` whether each group's rewards are all equal (no advantage, no signal): the test behind
    ``frac_reward_zero_std`` and DAPO's dynamic-sampling filter. A group of one counts as zero-spread."""
    grouped = _grouped(rewards, group_size)  # (B, G)
    return (grouped == grouped[:, :1]).all(dim=1)


def group_reward_stats(rewards: Tensor, group_size: int) -> dict[str, Tensor]:
    """Summaries of the group structure worth logging every step.

    ``frac_reward_zero_std`` is the share of prompts that teach nothing this step (all completions scored alike);
    when it approaches 1 the run has stalled even though the loss looks healthy.

    Args:
        rewards: ``(B*G,)`` rewards ordered group by group, as for :func:`group_advantages`.
        group_size: ``G``, the number of completions per prompt.

    Returns:
        Detached 0-dim tensors: ``frac_reward_zero_std`` (fraction of groups whose rewards are all equal, i.e. whose
        std is 0; a group of one counts as zero-std), ``reward_std`` (mean over groups of the unbiased group std)
        and ``reward_mean`` (mean reward).

    Raises:
        ValueError: on the same malformed input as :func:`group_advantages`.
    """
    grouped = _grouped(rewards, group_size)  # (B, G)
    constant = zero_spread_groups(rewards, group_size)[:, None]  # (B, 1)
    std = _group_std(grouped, constant)  # (B, 1)
    return {
        "frac_reward_zero_std": constant.to(grouped.dtype).mean(),
        "reward_std": std.mean(),
        "reward_mean": grouped.mean(),
    }
