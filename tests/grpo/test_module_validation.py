"""GRPOModule and SFTModule reject values that would train silently wrong or fail only at the first step."""

from __future__ import annotations

import pytest

from omni_r1.detail.collaboration import DetailSystem
from omni_r1.detail.grounders import OracleGrounder
from omni_r1.grpo.module import GRPOModule
from omni_r1.grpo.sft import SFTModule
from omni_r1.rewards import HierarchicalReward
from omni_r1.validation import ConfigError, validate_tree, without_path_checks

GRPO = "omni_r1.grpo.module.GRPOModule"
SFT = "omni_r1.grpo.sft.SFTModule"


def _check(class_path: str, **init_args) -> None:
    """Validate one config node the way ``fit`` does (defaults filled in, nothing built)."""
    validate_tree({"class_path": class_path, "init_args": {"policy": None, **init_args}})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("num_generations", 1),
        ("num_generations", -2),
        ("max_new_tokens", 0),
        ("temperature", 0),
        ("temperature", -1.0),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("beta", -0.01),
        ("loss_type", "ppo"),
        ("epsilon_low", 1.0),
        ("epsilon_low", -0.1),
        ("epsilon_high", -0.2),
        ("num_iterations", 0),
        ("scale_rewards", "rank"),
        ("std_floor", 0.0),
        ("micro_batch_size", 0),
        ("micro_batch_size", -1),
        ("max_grad_norm", 0.0),
        ("log_completions_every_n_steps", -1),
        ("num_generations", 2.5),
    ],
)
def test_grpo_rejects(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as error:
        _check(GRPO, **{key: value})
    assert error.value.key == f"init_args.{key}" and error.value.value == value


def test_grpo_accepts_its_documented_ranges() -> None:
    _check(GRPO)  # the defaults
    _check(GRPO, micro_batch_size=None, std_floor=None, max_grad_norm=None, beta=0.0, top_p=1.0, epsilon_low=0.0)
    _check(GRPO, loss_type="dr_grpo", scale_rewards="none", epsilon_high=0.28, num_iterations=4, micro_batch_size=1)


def test_grpo_constructor_checks_before_touching_the_policy() -> None:
    """The constructor runs the same rules first: nothing about the (absent) policy is read."""
    with pytest.raises(ConfigError, match=r"^micro_batch_size = 0: must be an integer >= 1 or null"):
        GRPOModule(policy=None, micro_batch_size=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^temperature = 0"):
        GRPOModule(policy=None, temperature=0)  # type: ignore[arg-type]


def test_grpo_detail_and_reward_must_hand_over_the_same_keyframes() -> None:
    grounder = {"class_path": "omni_r1.detail.grounders.OracleGrounder"}
    detail = {
        "class_path": "omni_r1.detail.collaboration.DetailSystem",
        "init_args": {"grounder": grounder, "max_keyframes": 3},
    }
    with pytest.raises(ConfigError) as error:
        _check(GRPO, detail=detail)  # the default reward has K0 = 4
    assert error.value.key == "init_args.detail.init_args.max_keyframes" and "4" in error.value.allowed
    reward = {"class_path": "omni_r1.rewards.HierarchicalReward", "init_args": {"max_keyframes": 3}}
    _check(GRPO, detail=detail, reward=reward)
    with pytest.raises(ConfigError, match="keyframe_mode"):
        GRPOModule(
            policy=None,  # type: ignore[arg-type]
            reward=HierarchicalReward(keyframe_mode="interval"),
            detail=DetailSystem(OracleGrounder()),
        )


@pytest.mark.parametrize(("key", "value"), [("max_keyframes", 0), ("max_grad_norm", -1.0), ("export_dir", " ")])
def test_sft_rejects(key: str, value: object) -> None:
    with pytest.raises(ConfigError) as error:
        _check(SFT, **{key: value})
    assert error.value.key == f"init_args.{key}"


def test_sft_export_dir_must_not_be_a_file(tmp_path) -> None:
    target = tmp_path / "policy"
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="is an existing file"):
        SFTModule(policy=None, export_dir=str(target))  # type: ignore[arg-type]
    with without_path_checks():  # config readers (sweep dry runs, the planner) do not look at paths
        _check(SFT, export_dir=str(target))
    _check(SFT, export_dir=str(tmp_path / "new"), max_grad_norm=None)
