"""Optimizer and scheduler of a training module, over the policy's trainable parameters only."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn

# The Hugging Face Trainer (the authors' trainer) gives biases and layer-norm weights no weight decay: parameters of
# nn.LayerNorm modules and names containing these parts (transformers' `get_decay_parameter_names`).
NO_DECAY: tuple[str, ...] = ("bias", "layernorm", "rmsnorm")


def parameter_groups(policy: nn.Module, no_decay: Sequence[str] = NO_DECAY) -> list[dict[str, Any]]:
    """The trainable parameters as optimizer groups: those matching ``no_decay`` (or of a ``LayerNorm``) with
    ``weight_decay`` 0, the rest with the optimizer's own. One group when ``no_decay`` is empty."""
    norm_params = {id(p) for m in policy.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    decay, plain = [], []
    for name, param in policy.named_parameters():
        if not param.requires_grad:
            continue
        excluded = no_decay and (id(param) in norm_params or any(part in name.lower() for part in no_decay))
        (plain if excluded else decay).append(param)
    groups = [{"params": decay}] if decay else []
    if plain:
        groups.append({"params": plain, "weight_decay": 0.0})
    return groups


def _accepts(factory: Any, name: str) -> bool:
    """Whether the class a factory builds takes ``name`` (jsonargparse's factories are partials holding the class
    among their arguments)."""
    if name in (getattr(factory, "keywords", None) or {}):
        return True
    classes = [c for c in (*getattr(factory, "args", ()), getattr(factory, "func", None)) if isinstance(c, type)]
    target = classes[0] if classes else factory
    try:
        return name in inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False


def policy_optimizers(
    policy: nn.Module,
    optimizer: OptimizerCallable,
    scheduler: LRSchedulerCallable | None,
    no_decay: Sequence[str] = NO_DECAY,
    total_steps: int | None = None,
):
    """What ``configure_optimizers`` returns: frozen encoders, base weights under LoRA and the reference copy get no
    optimizer state; biases and norms no weight decay (``no_decay``); the scheduler steps once per optimizer step
    and, when it takes ``total_steps`` (:class:`~omni_r1.training.schedules.CosineSchedule`), gets the run's."""
    groups = parameter_groups(policy, no_decay)
    if not groups:
        raise ValueError("the policy has no trainable parameters (4-bit weights need `lora`)")
    opt = optimizer(groups)
    if scheduler is None:
        return opt
    extra = {"total_steps": total_steps} if total_steps is not None and _accepts(scheduler, "total_steps") else {}
    return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler(opt, **extra), "interval": "step"}}
