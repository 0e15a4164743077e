"""HierarchicalReward rejects weights and settings that would train on a wrong reward, before any step."""

from __future__ import annotations

import math

import pytest

from omni_r1.rewards import HierarchicalReward, RewardWeights
from omni_r1.validation import ConfigError, validate_tree

REWARD = "omni_r1.rewards.HierarchicalReward"


@pytest.mark.parametrize(
    ("init_args", "key"),
    [
        ({"weights": {"box": -1.0}}, "weights.box"),
        ({"weights": {"mask": math.inf}}, "weights.mask"),
        ({"weights": {"format": math.nan}}, "weights.format"),
        ({"weights": {"alpha_g": 2.0}}, "weights.alpha_g"),
        ({"weights": {"sal": "high"}}, "weights.sal"),
        ({"length_min_tokens": -1}, "length_min_tokens"),
        ({"length_min_tokens": 800, "length_max_tokens": 750}, "length_max_tokens"),
        ({"length_accuracy_threshold": math.inf}, "length_accuracy_threshold"),
    ],
)
def test_hierarchical_reward_rejects(init_args: dict, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_tree({"class_path": REWARD, "init_args": init_args})
    assert error.value.key == f"init_args.{key}"


def test_weights_may_be_zero_and_the_length_bonus_a_penalty() -> None:
    validate_tree({"class_path": REWARD, "init_args": {"weights": {"sal": 0.0, "mask": 2, "length": -0.5}}})
    HierarchicalReward(RewardWeights.paper_script())
    HierarchicalReward({"length": -1.0})


def test_constructor_checks_mappings_and_weight_objects() -> None:
    with pytest.raises(ConfigError, match=r"^weights\.refavs = -0\.5: must be a number >= 0"):
        HierarchicalReward({"refavs": -0.5})
    with pytest.raises(ConfigError, match=r"^weights\.num = -1\.0"):
        HierarchicalReward(RewardWeights(num=-1.0))
