"""The defaults follow the authors' final script (``scripts/run_training.sh``): the length bonus is on with their
thresholds, and the shipped GRPO recipes set the authors' hand-over, reward and temperature keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from omni_r1.data.types import VideoSample
from omni_r1.rewards import HierarchicalReward, RewardWeights

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"
GOOD = '<think>t</think><answer>{"start_time": "00:01.00", "end_time": "00:01.00", "description": "a"}</answer>'


def test_the_length_bonus_is_on_with_the_authors_thresholds(make_sample: Callable[..., VideoSample]) -> None:
    reward = HierarchicalReward({"box": 0, "mask": 0})  # text terms only
    assert reward.weights.length == RewardWeights().length == RewardWeights.paper_script().length == 1.0
    assert (reward.length_min_tokens, reward.length_max_tokens, reward.length_accuracy_threshold) == (320, 750, 0.1)
    # len_control: +1 for 320 <= tokens <= 750 when accuracy > 0.1 and more than one completion of the group passes
    lengths = [319, 320, 750, 751, 400]
    out = reward([GOOD] * 4 + ["garbage"], make_sample(), num_tokens=lengths)
    torch.testing.assert_close(out.terms["length"], torch.tensor([0.0, 1.0, 1.0, 0.0, 0.0]))
    alone = reward([GOOD, "garbage"], make_sample(), num_tokens=[400, 400])  # one accurate completion: no bonus
    torch.testing.assert_close(alone.terms["length"], torch.tensor([0.0, 0.0]))


@pytest.mark.parametrize("name", ["grpo_7b.yaml", "grpo_7b_qlora.yaml", "grpo_tiny.yaml"])
def test_grpo_recipes_set_the_authors_keys(name: str) -> None:
    args = yaml.safe_load((CONFIGS / name).read_text())["init_args"]
    assert args["handover"] == {"max_keyframes": 4, "keyframe_mode": "interval", "drop_invalid_segments": True}
    reward = args["reward"]["init_args"]
    assert reward["weights"]["length"] == 1.0
    assert (reward["first_boxes_only"], reward["refavs_empty_target"], reward["refcocog_points"]) == (
        True,
        "dummy_box",
        "inscribed_circles",
    )
    assert args["temperature"] == 1.0 and args["task_temperatures"] is None  # FUSE_TEMPERATURE="false"
