"""GRPOModule and SFTModule reject values that would train silently wrong or fail only at the first step."""

from __future__ import annotations

import pytest

from omni_r1.detail.grounders import OracleGrounder
from omni_r1.detail.system import DetailSystem
from omni_r1.rewards import HierarchicalReward
from omni_r1.training.grpo_module import GRPOModule
from omni_r1.training.sft_module import SFTModule
from omni_r1.validation import ConfigError, validate_tree, without_path_checks

GRPO = "omni_r1.training.grpo_module.GRPOModule"
SFT = "omni_r1.training.sft_module.SFTModule"


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


def test_the_handover_is_one_key_checked_under_its_name() -> None:
    """K0 and the keyframe mode exist once, on the module: the Detail system and the reward take no copy."""
    with pytest.raises(ConfigError) as error:
        _check(GRPO, handover={"max_keyframes": 0})
    assert error.value.key == "init_args.handover.max_keyframes"
    with pytest.raises(ConfigError, match="keyframe_mode"):
        _check(GRPO, handover={"keyframe_mode": "middle"})
    with pytest.raises(TypeError, match="max_keyframes"):  # no second copy on the Detail system ...
        DetailSystem(OracleGrounder(), max_keyframes=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="keyframe_mode"):  # ... nor on the reward
        HierarchicalReward(keyframe_mode="interval")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("key", "value", "where"),
    [
        ("handover", {"max_keyframes": 0}, "handover.max_keyframes"),
        ("max_grad_norm", -1.0, "max_grad_norm"),
        ("export_dir", " ", "export_dir"),
    ],
)
def test_sft_rejects(key: str, value: object, where: str) -> None:
    with pytest.raises(ConfigError) as error:
        _check(SFT, **{key: value})
    assert error.value.key == f"init_args.{where}"


def test_sft_export_dir_must_not_be_a_file(tmp_path) -> None:
    target = tmp_path / "policy"
    target.write_text("not a folder")
    with pytest.raises(ConfigError, match="is an existing file"):
        SFTModule(policy=None, export_dir=str(target))  # type: ignore[arg-type]
    with without_path_checks():  # config readers (sweep dry runs, the planner) do not look at paths
        _check(SFT, export_dir=str(target))
    _check(SFT, export_dir=str(tmp_path / "new"), max_grad_norm=None)


def test_completions_table_interval_is_checked() -> None:
    from omni_r1.callbacks.completions import CompletionsTableCallback

    with pytest.raises(ConfigError, match=r"^every_n_steps = 0"):
        CompletionsTableCallback(every_n_steps=0)
    with pytest.raises(ConfigError) as error:
        path = "omni_r1.callbacks.completions.CompletionsTableCallback"
        table = {"class_path": path, "init_args": {"every_n_steps": -1}}
        validate_tree({"trainer": {"callbacks": [table]}})
    assert error.value.key == "trainer.callbacks[0].init_args.every_n_steps"
