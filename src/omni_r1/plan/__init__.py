"""Memory planner: will a run config fit on a GPU, and what holds the memory?

``python -m omni_r1.plan --config X [--gpu-memory 24GiB]`` parses the config as the training CLI does, counts the
policy's weights exactly on a weightless (meta-device) model and estimates the rest (optimizer states, rollouts'
KV cache, activations with and without gradient checkpointing, logits, SAM2), per GPU before and after sharding.
"""

from omni_r1.plan.estimate import Item, MemoryPlan, estimate
from omni_r1.plan.report import parse_size, render
from omni_r1.plan.settings import RunSettings, run_settings

__all__ = ["Item", "MemoryPlan", "RunSettings", "estimate", "parse_size", "render", "run_settings"]
