"""What a GRPO step logs: the reward and each term, group statistics, completion lengths, the loss metrics.

Keys are ``train/…``: ``reward``, ``reward_std``, ``frac_reward_zero_std`` (groups whose rewards are all equal:
no advantage, no signal), ``rewards/<term>/{mean,std}``, ``completions/{mean,min,max}_length``, ``completions/tokens``
(generated tokens of the batch), ``completions/clipped_ratio`` (rollouts that hit the token limit),
``advantage_abs_mean``, ``distinct_completions`` (distinct texts per group, mean over groups) and
``frac_groups_one_answer`` (groups whose G completions are one text), and, for a batch that ended an update,
``loss`` and the loss metrics (KL, clip fractions, ``entropy``: the token mean entropy of the policy's full
next-token distribution over the completion tokens, ``grad_norm``; with dynamic sampling ``dynamic_sampling/…``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from omni_r1.grpo.advantages import group_reward_stats
from omni_r1.grpo.exploration import completion_diversity


def step_metrics(
    exp: Any,
    group_size: int,
    eos_token_ids: Sequence[int],
    loss_metrics: Mapping[str, Tensor],
    loss: Tensor | None,
) -> dict[str, Tensor | float]:
    """The metrics of one scored generation batch ``exp`` (an :class:`~omni_r1.training.grpo_module.Experience`)."""
    rewards, terms, advantages, rollouts = exp.rewards, exp.terms, exp.advantages, exp.rollouts
    n = rewards.shape[0]
    values: dict[str, Tensor | float] = {
        "train/reward": rewards.mean(),
        "train/reward_std": rewards.std() if n > 1 else 0.0,
    }
    if loss is not None:
        values["train/loss"] = loss
    stats = group_reward_stats(rewards.detach().cpu(), group_size)
    values["train/frac_reward_zero_std"] = stats["frac_reward_zero_std"]
    for name, value in terms.items():
        values[f"train/rewards/{name}/mean"] = value.float().mean()
        values[f"train/rewards/{name}/std"] = value.float().std() if value.numel() > 1 else 0.0
    for name, value in loss_metrics.items():
        values[f"train/{name}"] = value
    lengths = rollouts.completion_mask.sum(dim=1).float()
    values["train/completions/mean_length"] = lengths.mean()
    values["train/completions/tokens"] = lengths.sum()  # generated tokens of the batch (throughput per step)
    values["train/completions/min_length"] = lengths.min()
    values["train/completions/max_length"] = lengths.max()
    eos = torch.tensor(list(eos_token_ids), device=lengths.device)
    ended = (rollouts.completion_ids == eos[:, None, None]).any(0).any(1)
    values["train/completions/clipped_ratio"] = 1.0 - ended.float().mean()
    values["train/advantage_abs_mean"] = advantages.abs().mean()
    for name, value in completion_diversity(rollouts.texts, group_size).items():
        values[f"train/{name}"] = value
    return values
