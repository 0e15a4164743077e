"""Values are checked before anything is built: helpers of omni_r1.validation and ``validate_tree`` on real configs."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from omni_r1.validation import (
    ConfigError,
    as_arguments,
    init_arguments,
    require_bool,
    require_device,
    require_file,
    require_number,
    require_str,
    validate_nested,
    validate_tree,
    without_path_checks,
)

REPO = Path(__file__).resolve().parents[1]
DEMO_GRPO = str(REPO / "configs" / "demo_grpo.yaml")


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model cache of this test's own, and a working directory without ``runs/``: whatever a check builds or
    loads would land in the cache."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("OMNI_R1_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    return cache


# ---------------------------------------------------------------------------------------------------- helpers
def test_helpers_name_the_key_and_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^top_p = 1.5: must be a number > 0 and <= 1$"):
        require_number("top_p", 1.5, minimum=0, maximum=1, exclusive_minimum=True)
    with pytest.raises(ConfigError, match=r"^dropout = 1.0: must be a number >= 0 and < 1$"):
        require_number("dropout", 1.0, minimum=0, maximum=1, exclusive_maximum=True)
    require_number("dropout", 0.99, minimum=0, maximum=1, exclusive_maximum=True)
    with pytest.raises(ConfigError, match="must be a non-empty string"):
        require_str("name", "  ")
    require_str("name", None, optional=True)
    with pytest.raises(ConfigError, match="must be true or false"):
        require_bool("flag", "false")
    with pytest.raises(ConfigError, match="torch device"):
        require_device("device", "gpu0")
    require_device("device", "cuda:1")  # a name torch parses, whether or not this machine has one
    with pytest.raises(ConfigError, match="does not exist"):
        require_file("checkpoint", str(tmp_path / "missing.pt"))
    with pytest.raises(ConfigError, match="is not a file"):
        require_file("checkpoint", str(tmp_path))
    with without_path_checks():
        require_file("checkpoint", str(tmp_path / "missing.pt"))


@dataclass
class _Budget:
    low: int = 1
    names: list[str] = field(default_factory=lambda: ["a"])

    @classmethod
    def validate_init_args(cls, args) -> None:
        if args["low"] < 1:
            raise ConfigError("low", args["low"], "must be >= 1")
        if not isinstance(args["names"], list):  # a default_factory field arrives as its value
            raise ConfigError("names", args["names"], "must be a list")


def test_nested_dataclass_values_are_checked_with_their_key_in_front() -> None:
    validate_nested("budget", _Budget, None)
    validate_nested("budget", _Budget, {"names": ["b"]})  # defaults fill the fields not given
    with pytest.raises(ConfigError, match=r"^budget\.low = 0: must be >= 1$"):
        validate_nested("budget", _Budget, {"low": 0})
    with pytest.raises(ConfigError, match=r"^budget\.low = -2"):
        validate_nested("budget", _Budget, _Budget(low=-2))  # a built dataclass is read field by field
    assert as_arguments(_Budget(low=3)) == {"low": 3, "names": ["a"]}


def test_init_arguments_drop_self_and_the_class_cell() -> None:
    class Probe:
        def __init__(self, a: int, b: int = 2) -> None:
            self.seen = init_arguments(locals())
            super().__init__()

    assert Probe(1).seen == {"a": 1, "b": 2}


# ---------------------------------------------------------------------------------------------------- configs
def _demo_grpo_config() -> dict:
    """``configs/demo_grpo.yaml`` resolved by the training CLI's parser (group files merged, defaults filled)."""
    from omni_r1.config import resolved_config

    return resolved_config(["--config", DEMO_GRPO])


def test_validate_tree_names_the_dotted_key_and_builds_nothing(empty_cache: Path) -> None:
    (empty_cache.parent / "runs" / "demo" / "policy").mkdir(parents=True)  # the warm start "exists"
    config = _demo_grpo_config()
    bad = copy.deepcopy(config)
    bad["model"]["init_args"]["micro_batch_size"] = -1
    with pytest.raises(ConfigError) as error:
        validate_tree({key: bad[key] for key in ("model", "data", "trainer")})
    assert error.value.key == "model.init_args.micro_batch_size"
    assert str(error.value).startswith("model.init_args.micro_batch_size = -1: must be an integer >= 1 or null")
    bad = copy.deepcopy(config)
    bad["data"]["init_args"]["min_frames"] = 8  # max_frames is 6
    with pytest.raises(ConfigError, match=r"^data\.init_args\.min_frames = 8: must be <= max_frames \(6\)"):
        validate_tree({"data": bad["data"]})
    bad = copy.deepcopy(config)
    bad["model"]["init_args"]["detail"]["init_args"]["grounder"]["init_args"]["pixels"]["max_pixels"] = 10
    with pytest.raises(ConfigError, match=r"^model\.init_args\.detail\.init_args\.grounder\.init_args\.pixels\.max"):
        validate_tree({"model": bad["model"]})
    assert not any(empty_cache.iterdir())  # nothing was built or loaded


def test_missing_warm_start_is_one_line_before_any_weight_loads(empty_cache: Path) -> None:
    """The GRPO demo names the SFT stage's export; without it the run stops on the config key, not in the Hub
    client (``HFValidationError: Repo id must be in the form…``)."""
    with pytest.raises(ConfigError) as error:
        validate_tree({"model": _demo_grpo_config()["model"]})
    assert error.value.key == "model.init_args.policy.init_args.model_name_or_path"
    message = str(error.value)
    assert "runs/demo/policy" in message and "local path does not exist" in message and "\n" not in message
    assert "SFT" in message
    assert not any(empty_cache.iterdir())


def test_fit_stops_on_a_bad_value_before_building(empty_cache: Path) -> None:
    from omni_r1.fit import main

    with pytest.raises(ConfigError, match=r"^model\.init_args\.num_generations = 1: must be an integer >= 2"):
        main(["--config", DEMO_GRPO, "--model.init_args.num_generations", "1"])
    assert not any(empty_cache.iterdir())
    assert not (empty_cache.parent / "runs").exists() and not (empty_cache.parent / "data").exists()
