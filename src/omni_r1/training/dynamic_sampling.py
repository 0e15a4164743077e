"""DAPO's dynamic sampling (Yu et al. 2025; verl's ``algorithm.filter_groups``, EasyR1's ``online_filtering``).

A group whose G rewards are all equal has zero advantage: it costs a forward and backward and teaches nothing.
Dynamic sampling drops those groups (the test of ``frac_reward_zero_std``:
:func:`~omni_r1.grpo.advantages.zero_spread_groups`) and draws further prompts until the update has as many groups
with a reward spread as a batch has prompts.

Design: the groups are kept *across* ``training_step`` calls instead of pulling batches inside one. Every
``training_step`` is one generation batch of the trainer's own dataloader, so the further prompts are exactly the
next batches of the same iterator, drawn by Lightning, counted by its loop and by
:class:`~omni_r1.data.loader.ResumableDataLoader`. No optimizer step happens while groups are kept, so every kept
group was sampled by the weights it updates (on-policy, as ``num_iterations == 1`` assumes), and the buffer is
empty whenever ``global_step`` advances: a step checkpoint never holds kept groups, and a run resumed from one
is exact (a checkpoint taken mid-window, e.g. on a timer, would lose the window's groups, as it would lose an
``accumulate_batches`` window).

A window starts with ``accumulate_batches`` generation batches (one update's worth; their prompt count is the
target) and draws at most ``max_extra_draws`` more. It closes as soon as the target is reached (after the first
``accumulate_batches`` batches) or the cap is hit; the update then takes the first ``target`` kept groups in
draw order (fewer after the cap; none: no update). Kept groups beyond the target are discarded, as in verl: kept
for the next update they would be off-policy. Advantages are recomputed over the kept groups (equal to the
generation batch's for ``scale_rewards: group``; for ``batch`` the std is that of the kept groups, as in verl).
Under DDP every rank updates on the same number of groups (the minimum over ranks), so micro-batches match.
An epoch-based schedule counts one step per ``accumulate_batches`` batches: with dynamic sampling fewer steps
run, so prefer ``max_steps``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor

from omni_r1.grpo.advantages import group_advantages, zero_spread_groups
from omni_r1.training.experience import Experience


def take_groups(exp: Experience, groups: list[int], group_size: int) -> Experience:
    """The rows of groups ``groups`` of ``exp`` (prompts stay whole: rows find theirs through ``prompt_index``)."""
    G = group_size
    rows = torch.tensor([g * G + j for g in groups for j in range(G)], dtype=torch.long)
    r = exp.rollouts
    device = r.completion_ids.device

    def pick(tensor: Tensor | None) -> Tensor | None:
        return None if tensor is None else tensor[rows.to(tensor.device)]

    return Experience(
        prompt=exp.prompt,
        rollouts=type(r)(
            prompt_index=r.prompt_index[rows.to(r.prompt_index.device)],
            prompt_ids=r.prompt_ids[rows.to(device)],
            prompt_mask=r.prompt_mask[rows.to(device)],
            completion_ids=r.completion_ids[rows.to(device)],
            completion_mask=r.completion_mask[rows.to(device)],
            texts=[r.texts[i] for i in rows.tolist()],
        ),
        rewards=pick(exp.rewards),
        terms={name: pick(value) for name, value in exp.terms.items()},
        advantages=pick(exp.advantages),
        old_logps=pick(exp.old_logps),
        ref_logps=pick(exp.ref_logps),
        details=[exp.details[g] for g in groups] if exp.details is not None else None,
        handovers=[exp.handovers[g] for g in groups] if exp.handovers is not None else None,
        temperature=pick(exp.temperature) if isinstance(exp.temperature, Tensor) else exp.temperature,
    )


def rank_min(module: Any) -> Callable[[int], int]:
    """``f(n)``: the minimum of ``n`` over the ranks of ``module``'s trainer (so every rank decides alike)."""
    if module.trainer.world_size == 1:
        return int
    return lambda value: int(module.all_gather(torch.tensor(value, device=module.device)).min())


class DynamicSampler:
    """The kept groups of one update window (see the module docstring).

    Args:
        group_size: G.
        batches_per_step: generation batches of one update without filtering (``accumulate_batches``).
        max_extra_draws: further generation batches a window may draw (``dynamic_sampling_max_draws``).
        scale: ``scale_rewards``, for the advantages recomputed over the kept groups.
        std_floor: ``std_floor``, likewise.
    """

    def __init__(
        self, group_size: int, batches_per_step: int, max_extra_draws: int, scale: str, std_floor: float | None
    ) -> None:
        self.group_size = group_size
        self.batches_per_step = batches_per_step
        self.max_extra_draws = max_extra_draws
        self.scale = scale
        self.std_floor = std_floor
        self.reset()

    def reset(self) -> None:
        self.kept: list[Experience] = []
        self.draws = 0  # generation batches scored in this window
        self.target = 0  # prompts of the window's first batches_per_step batches
        self.dropped = 0  # zero-spread groups dropped

    @property
    def kept_groups(self) -> int:
        return sum(len(exp.rollouts) for exp in self.kept) // self.group_size

    def add(self, exp: Experience) -> None:
        """Keep the groups of generation batch ``exp`` whose rewards differ; drop the others."""
        flat = zero_spread_groups(exp.rewards.detach().cpu(), self.group_size)  # (B,)
        if self.draws < self.batches_per_step:
            self.target += flat.numel()
        self.draws += 1
        self.dropped += int(flat.sum())
        keep = (~flat).nonzero().flatten().tolist()
        if keep:
            self.kept.append(take_groups(exp, keep, self.group_size))

    def ready(self, world_min: Callable[[int], int] = int) -> bool:
        """Whether the window closes now: the target is reached on every rank, or the draw cap is hit."""
        if self.draws < self.batches_per_step:
            return False
        if self.draws >= self.batches_per_step + self.max_extra_draws:
            return True
        return world_min(self.kept_groups - self.target) >= 0

    def take(self, world_min: Callable[[int], int] = int) -> tuple[list[Experience], dict[str, float]]:
        """Close the window: the experiences to update on (the first ``target`` kept groups, the same count on
        every rank, advantages recomputed over them; ``[]`` when none was kept) and the window's statistics."""
        G = self.group_size
        count = world_min(min(self.kept_groups, self.target))
        pieces, left = [], count
        for exp in self.kept:
            groups = min(left, len(exp.rollouts) // G)
            if groups > 0:
                pieces.append(exp if groups * G == len(exp.rollouts) else take_groups(exp, list(range(groups)), G))
            left -= groups
        if pieces:
            rewards = torch.cat([exp.rewards for exp in pieces])
            advantages = group_advantages(rewards, G, scale=self.scale, std_floor=self.std_floor)
            parts = advantages.split([len(exp.rollouts) for exp in pieces])
            pieces = [replace(e, advantages=a.to(e.advantages.device)) for e, a in zip(pieces, parts, strict=True)]
        stats = {
            "draws": float(self.draws),
            "kept_groups": float(count),
            "dropped_groups": float(self.dropped),
            "surplus_groups": float(self.kept_groups - count),
            "skipped_update": float(count == 0),
        }
        self.reset()
        return pieces, stats


def skip_update(module: Any) -> tuple[None, dict]:
    """Close a window that kept no group: an optimizer step with every gradient unset (torch optimizers leave such
    parameters and their state untouched) and a scheduler step, so the window still counts as one of the run's
    steps. Without it a policy whose groups never spread would never reach ``max_steps`` and train forever."""
    optimizer = module.optimizers()
    optimizer.zero_grad(set_to_none=True)
    optimizer.step()
    scheduler = module.lr_schedulers()
    if scheduler is not None:
        scheduler.step()
    return None, {}
