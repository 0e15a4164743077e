"""Optimizer groups as the authors' Hugging Face Trainer makes them, and a cosine schedule as long as the run."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch
from torch import nn

from omni_r1.training.optim import parameter_groups, policy_optimizers
from omni_r1.training.schedules import CosineSchedule
from omni_r1.validation import ConfigError


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)
        self.input_layernorm = nn.Parameter(torch.ones(4))  # an RMSNorm-style weight, named like Qwen's
        self.norm = nn.LayerNorm(4)
        self.frozen = nn.Linear(4, 4).requires_grad_(False)


def test_biases_and_norms_get_no_weight_decay() -> None:
    block = Block()
    groups = parameter_groups(block)
    decayed = {id(p) for p in groups[0]["params"]}
    plain = {id(p) for p in groups[1]["params"]}
    assert decayed == {id(block.proj.weight)}
    assert plain == {id(block.proj.bias), id(block.input_layernorm), id(block.norm.weight), id(block.norm.bias)}
    assert groups[1]["weight_decay"] == 0.0 and "weight_decay" not in groups[0]
    optimizer = policy_optimizers(block, partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.01), None)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    (single,) = parameter_groups(block, no_decay=())  # the former behaviour: everything decays
    assert len(single["params"]) == 5


def test_cosine_schedule_spans_the_run_and_gets_its_length() -> None:
    weight = nn.Parameter(torch.zeros(1))
    result = policy_optimizers(
        nn.ParameterList([weight]), partial(torch.optim.SGD, lr=1.0), partial(CosineSchedule), total_steps=10
    )
    optimizer, scheduler = result["optimizer"], result["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == 1.0 and rates[10] == pytest.approx(0.0, abs=1e-12)
    assert rates[5] == pytest.approx(0.5) and all(a >= b for a, b in zip(rates, rates[1:]))
    assert CosineSchedule(torch.optim.SGD([weight], lr=1.0), 10, warmup_steps=2).factor(1) == 0.5
    assert math.isclose(CosineSchedule(torch.optim.SGD([weight], lr=1.0), 4, min_lr_ratio=0.1).factor(4), 0.1)
    with pytest.raises(ConfigError, match="total_steps"):
        CosineSchedule(torch.optim.SGD([weight], lr=1.0))


def test_a_config_built_schedule_gets_the_run_length() -> None:
    """jsonargparse builds the scheduler factory from a config (a partial holding the class): it still gets
    ``total_steps``."""
    from jsonargparse import ArgumentParser
    from lightning.pytorch.cli import LRSchedulerCallable

    parser = ArgumentParser()
    parser.add_argument("--scheduler", type=LRSchedulerCallable)
    factory = parser.instantiate(parser.parse_args(["--scheduler", "omni_r1.training.schedules.CosineSchedule"]))
    weight = nn.Parameter(torch.zeros(1))
    result = policy_optimizers(
        nn.ParameterList([weight]), partial(torch.optim.SGD, lr=1.0), factory.scheduler, total_steps=7
    )
    assert result["lr_scheduler"]["scheduler"].total_steps == 7
