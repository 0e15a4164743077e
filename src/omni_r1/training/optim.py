"""Optimizer and scheduler of a training module, over the policy's trainable parameters only."""

from __future__ import annotations

from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import nn


def policy_optimizers(policy: nn.Module, optimizer: OptimizerCallable, scheduler: LRSchedulerCallable | None):
    """What ``configure_optimizers`` returns: frozen encoders, base weights under LoRA and the reference copy get no
    optimizer state; the scheduler steps once per optimizer step."""
    params = [p for p in policy.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the policy has no trainable parameters (4-bit weights need `lora`)")
    opt = optimizer(params)
    if scheduler is None:
        return opt
    return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler(opt), "interval": "step"}}
