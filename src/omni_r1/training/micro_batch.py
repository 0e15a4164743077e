"""The loss of one micro-batch of a GRPO update, and the batch-wide entropy threshold its token mask needs.

:meth:`GRPOModule.update <omni_r1.training.grpo_module.GRPOModule.update>` calls :func:`micro_batch_loss` for
every micro-batch of every experience it updates on. With ``top_entropy_quantile < 1`` it first calls
:func:`update_entropy_threshold` once per optimizer iteration: the threshold is the quantile over *every*
completion token of the update (all experiences, micro-batches and ranks) under the current weights, so
``micro_batch_size`` stays a memory knob that does not change the update. That costs one extra no-grad forward
per iteration; TRL instead takes the quantile over each forward pass's tokens (gathered over ranks), which is the
same thing when the whole batch is one micro-batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from omni_r1.grpo.exploration import entropy_threshold, high_entropy_mask
from omni_r1.grpo.loss import policy_loss
from omni_r1.training.experience import Experience


def micro_batch_loss(
    module: Any, exp: Experience, mask: Tensor, part: slice, num_items: Tensor, threshold: Tensor | None
) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss of rows ``part`` of ``exp`` (``mask``: the full ``(N, C)`` completion mask of ``exp``) and its
    metrics: those of :func:`~omni_r1.grpo.loss.policy_loss`, ``entropy`` (token mean over the micro-batch) and,
    with an entropy ``threshold``, ``entropy_mask/kept_ratio`` (share of tokens whose surrogate counts)."""
    rows = mask[part]
    logps, entropy = module.policy.completion_logps(
        exp.prompt,
        exp.rollouts[part],
        temperature=module._rows(exp.temperature, part),
        return_entropy=True,
        entropy_grad=module.entropy_coef != 0,
    )
    pg_mask = high_entropy_mask(entropy, rows, threshold) if threshold is not None else None
    loss, metrics = policy_loss(
        logps,
        exp.old_logps[part] if exp.old_logps is not None else None,
        exp.ref_logps[part] if exp.ref_logps is not None else None,
        exp.advantages[part],
        rows,
        loss_type=module.loss_type,
        epsilon_low=module.epsilon_low,
        epsilon_high=module.epsilon_high,
        beta=module.beta,
        max_completion_length=module.max_new_tokens,
        num_items_in_batch=num_items,
        pg_mask=pg_mask,
        entropy=entropy,
        entropy_coef=module.entropy_coef,
    )
    tokens = rows.sum().clamp(min=1)
    metrics["entropy"] = (entropy.detach() * rows).sum() / tokens
    if pg_mask is not None:
        metrics["entropy_mask/kept_ratio"] = pg_mask.sum() / tokens
    return loss, metrics


@torch.no_grad()
def update_entropy_threshold(module: Any, exps: Sequence[Experience], masks: Sequence[Tensor]) -> Tensor:
    """The entropy threshold of ``top_entropy_quantile`` over every completion token of the update, under the
    current weights, gathered over ranks (see :func:`~omni_r1.grpo.exploration.entropy_threshold`)."""
    values = []
    for exp, mask in zip(exps, masks, strict=True):
        for part in module._micro_batches(mask.shape[0]):
            _, entropy = module.policy.completion_logps(
                exp.prompt, exp.rollouts[part], temperature=module._rows(exp.temperature, part), return_entropy=True
            )
            values.append(entropy[mask[part].bool()].float())
    local = torch.cat(values).to(module.device)
    if module.trainer.world_size > 1:  # ranks hold different token counts: pad to the longest, drop the padding
        counts = module.all_gather(torch.tensor([local.numel()], device=module.device)).flatten()
        padded = torch.full((int(counts.max()),), -1.0, device=module.device)  # entropies are never negative
        padded[: local.numel()] = local
        gathered = module.all_gather(padded).flatten()
        local = gathered[gathered >= 0]
    return entropy_threshold(local, module.top_entropy_quantile)
