"""Gradient-norm clipping that is right under every strategy the configs name.

The total norm must be taken over the whole model's gradients. Under FSDP each rank holds a shard of every
gradient, so ``torch.nn.utils.clip_grad_norm_`` on one rank's parameters sees only its shard: the norm is too
small and differs per rank, and ranks scale by different factors. Lightning's ``FSDPPrecision`` therefore
refuses ``clip_gradients(..., gradient_clip_algorithm="norm")``. The norm has to come from the sharded *root*:

- torch FSDP (``FullyShardedDataParallel``, what Lightning's ``FSDPStrategy`` wraps the LightningModule in): the
  root unit's own ``clip_grad_norm_``, which all-reduces the shards' squared norms.
- FSDP2 (``fully_shard``, Lightning's ``ModelParallelStrategy``): gradients are ``DTensor``\\ s and
  ``torch.nn.utils.clip_grad_norm_`` reduces over their mesh itself.
- DDP and a single device: every rank holds the whole (already averaged) gradient, so the plain function is exact.

DeepSpeed partitions gradients inside its engine, which clips them itself (its config's ``gradient_clipping``):
clipping here would see partitions, so it is refused with that advice.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def fsdp_root(*modules: nn.Module | None) -> nn.Module | None:
    """The outermost torch-FSDP unit among ``modules`` and their children, or ``None`` when nothing is wrapped.

    ``modules()`` walks pre-order, so the first FSDP unit met is the one that contains all others.
    """
    from torch.distributed.fsdp import FullyShardedDataParallel

    for module in modules:
        if module is None:
            continue
        for child in module.modules():
            if isinstance(child, FullyShardedDataParallel):
                return child
    return None


def _is_dtensor(tensor: Tensor) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(tensor, DTensor)


def clip_grad_norm(module: nn.Module, max_norm: float, strategy: object | None = None) -> Tensor:
    """Scale the gradients of ``module`` so that their total L2 norm is at most ``max_norm``.

    Args:
        module: the module being trained (the LightningModule); its own children are searched for an FSDP root
            when ``strategy`` holds none.
        max_norm: the largest total norm kept (``> 0``).
        strategy: the Lightning strategy (``trainer.strategy``): its ``model`` is the FSDP-wrapped root under
            ``FSDPStrategy``. ``None`` outside a Trainer.

    Returns:
        The total norm of the gradients *before* clipping, a float32 scalar equal on every rank (what
        ``train/grad_norm`` logs).

    Raises:
        ValueError: ``max_norm`` is not a positive number, or the strategy is DeepSpeed (clip with its config).
    """
    if not (isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive finite number, got {max_norm!r}")
    if strategy is not None and "deepspeed" in type(strategy).__name__.lower():
        raise ValueError(
            f"{type(strategy).__name__} partitions gradients inside its engine: set `gradient_clipping` in the "
            "DeepSpeed config and max_grad_norm: null on the module"
        )
    root = fsdp_root(getattr(strategy, "model", None), module)
    if root is not None:
        norm = root.clip_grad_norm_(max_norm)
    else:
        params = [p for p in module.parameters() if p.grad is not None]
        if not params:
            return torch.zeros((), dtype=torch.float32)
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    if _is_dtensor(norm):  # FSDP2: a replicated DTensor over the mesh
        norm = norm.full_tensor()
    return norm.detach().float()
