"""The checks of :class:`~omni_r1.training.grpo_module.GRPOModule`'s keys, run before anything is built."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omni_r1.answer.handover import HandoverConfig
from omni_r1.grpo.advantages import SCALES
from omni_r1.grpo.loss import LOSS_TYPES
from omni_r1.rewards.hierarchical import TASK_TERMS
from omni_r1.validation import (
    require,
    require_bool,
    require_choice,
    require_int,
    require_number,
    validate_nested,
)

TASKS = tuple(TASK_TERMS)  # the tasks a prompt can have, for task_temperatures


def check_grpo_args(args: Mapping[str, Any]) -> None:
    """Raise :class:`~omni_r1.validation.ConfigError` for a value that would fail at the first step or, worse,
    train silently wrong (``micro_batch_size: -1`` makes an empty micro-batch loop: nothing trains)."""
    require_int("num_generations", args.get("num_generations"), minimum=2, note="a group of one has no advantage")
    require_int("max_new_tokens", args.get("max_new_tokens"), minimum=1)
    require_number("temperature", args.get("temperature"), minimum=0, exclusive_minimum=True)
    task_temperatures = args.get("task_temperatures") or {}
    require(isinstance(task_temperatures, Mapping), "task_temperatures", task_temperatures, "must be {task: T}")
    for task, value in task_temperatures.items():
        require_choice("task_temperatures", task, TASKS)
        require_number(f"task_temperatures.{task}", value, minimum=0, exclusive_minimum=True)
    require_number("top_p", args.get("top_p"), minimum=0, maximum=1, exclusive_minimum=True)
    require_number("beta", args.get("beta"), minimum=0, note="0 skips the reference policy")
    require_choice("loss_type", args.get("loss_type"), LOSS_TYPES)
    # the lower clip bound 1 - epsilon_low must stay a positive ratio
    require_number("epsilon_low", args.get("epsilon_low"), minimum=0, maximum=1, exclusive_maximum=True)
    require_number("epsilon_high", args.get("epsilon_high"), minimum=0)
    require_int("num_iterations", args.get("num_iterations"), minimum=1)
    require_int("accumulate_batches", args.get("accumulate_batches"), minimum=1)
    parts = args.get("no_weight_decay")
    require(
        isinstance(parts, (list, tuple)) and all(isinstance(p, str) for p in parts),
        "no_weight_decay",
        parts,
        "must be a list of parameter-name parts",
    )
    require_choice("scale_rewards", args.get("scale_rewards"), SCALES)
    require_number("std_floor", args.get("std_floor"), minimum=0, exclusive_minimum=True, optional=True)
    require_int("micro_batch_size", args.get("micro_batch_size"), minimum=1, optional=True, note="null: all")
    require_number("max_grad_norm", args.get("max_grad_norm"), minimum=0, exclusive_minimum=True, optional=True)
    require_int("top_k", args.get("top_k"), minimum=1, optional=True, note="null: no top-k")
    require_number("entropy_coef", args.get("entropy_coef"), minimum=0, note="0: no entropy bonus")
    keep = args.get("top_entropy_quantile")
    require_number("top_entropy_quantile", keep, minimum=0, maximum=1, exclusive_minimum=True, note="1: all tokens")
    require_bool("dynamic_sampling", args.get("dynamic_sampling"))
    require_int("dynamic_sampling_max_draws", args.get("dynamic_sampling_max_draws"), minimum=0)
    validate_nested("handover", HandoverConfig, args.get("handover"))
