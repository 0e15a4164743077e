"""The policies and their config dataclasses reject bad values, and bad model names, before any weight loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.models.global_system import GlobalSystem, PixelBudget
from omni_r1.models.loading import LoraConfig, QuantizationConfig, load_thinker, require_model_name_or_path
from omni_r1.models.text_policy import TextPolicy
from omni_r1.validation import ConfigError, validate_tree, without_path_checks

GLOBAL = "omni_r1.models.global_system.GlobalSystem"
TEXT = "omni_r1.models.text_policy.TextPolicy"


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache of this test's own (a check that built a tiny model would write here)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("OMNI_R1_CACHE", str(cache))
    return cache


def _key(class_path: str, **init_args) -> str:
    with pytest.raises(ConfigError) as error:
        validate_tree({"class_path": class_path, "init_args": init_args})
    return error.value.key


@pytest.mark.parametrize(
    ("init_args", "key"),
    [
        ({"dtype": "fp8"}, "dtype"),
        ({"fps": 0.0}, "fps"),
        ({"fps": -2}, "fps"),
        ({"attn_implementation": "flash"}, "attn_implementation"),
        ({"pixels": {"min_pixels": 0, "max_pixels": 10}}, "pixels.min_pixels"),
        ({"pixels": {"min_pixels": 6272, "max_pixels": 3136}}, "pixels.max_pixels"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"lora": {"alpha": 0}}, "lora.alpha"),
        ({"lora": {"dropout": 1.0}}, "lora.dropout"),
        ({"lora": {"target_modules": "(unclosed"}}, "lora.target_modules"),
        ({"lora": {"target_modules": []}}, "lora.target_modules"),
        ({"quantization": {"quant_type": "int3"}, "lora": {}}, "quantization.quant_type"),
        ({"quantization": {"compute_dtype": "float64"}, "lora": {}}, "quantization.compute_dtype"),
        ({"quantization": {"load_in_4bit": True}}, "quantization.load_in_4bit"),  # 4-bit needs LoRA to train
        ({"cache_encoders": "yes"}, "cache_encoders"),
        ({"model_name_or_path": "tiny://qwen2"}, "model_name_or_path"),  # text-only: not an omni thinker
        ({"model_name_or_path": "tiny://qwen9"}, "model_name_or_path"),
        ({"model_name_or_path": ""}, "model_name_or_path"),
    ],
)
def test_global_system_rejects(init_args: dict, key: str, empty_cache: Path) -> None:
    assert _key(GLOBAL, **init_args) == f"init_args.{key}"
    assert not any(empty_cache.iterdir())


@pytest.mark.parametrize(
    ("init_args", "key"),
    [
        ({"dtype": "half"}, "dtype"),
        ({"model_name_or_path": "tiny://qwen2.5-omni"}, "model_name_or_path"),
        ({"lora": {"r": -4}}, "lora.r"),
        ({"system_prompt": 3}, "system_prompt"),
        ({"forbid_special_tokens": 1}, "forbid_special_tokens"),
    ],
)
def test_text_policy_rejects(init_args: dict, key: str) -> None:
    assert _key(TEXT, **init_args) == f"init_args.{key}"


def test_config_dataclasses_check_themselves() -> None:
    with pytest.raises(ConfigError, match=r"^max_pixels = 100: must be an integer >= 200"):
        PixelBudget(min_pixels=200, max_pixels=100)
    with pytest.raises(ConfigError, match=r"^dropout = -0.1"):
        LoraConfig(dropout=-0.1)
    with pytest.raises(ConfigError, match=r"^skip_modules = "):
        QuantizationConfig(skip_modules=[""])
    LoraConfig(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    with pytest.raises(ConfigError, match=r"quantization\.load_in_4bit = True: 4-bit weights cannot be trained"):
        load_thinker("tiny://qwen2.5-omni", quantization=QuantizationConfig())


def test_constructors_check_before_loading(empty_cache: Path) -> None:
    with pytest.raises(ConfigError, match=r"^fps = 0"):
        GlobalSystem(fps=0)
    with pytest.raises(ConfigError, match=r"^dtype = 'float64'"):
        TextPolicy(dtype="float64")  # type: ignore[arg-type]
    assert not any(empty_cache.iterdir())  # neither tiny model was built


# ---------------------------------------------------------------------------------------------------- model names
@pytest.mark.parametrize(
    "name",
    [
        "runs/demo/policy",  # more than one "/": a path, never a repo id
        "./policy",
        "../runs/policy",
        "~/models/omni",
        "policy/",
        "/no/such/folder",
    ],
)
def test_a_local_path_that_does_not_exist_is_named(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        require_model_name_or_path("model_name_or_path", name, tiny_models=("qwen2.5-omni",))
    message = str(error.value)
    assert message.startswith(f"model_name_or_path = {name!r}: local path does not exist")
    assert "SFT" in message  # the usual cause: the warm start was never exported
    with without_path_checks():
        require_model_name_or_path("model_name_or_path", name, tiny_models=("qwen2.5-omni",))


def test_existing_folders_hub_ids_and_tiny_names_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "demo" / "policy").mkdir(parents=True)
    for name in ("runs/demo/policy", str(tmp_path), "Qwen/Qwen2.5-Omni-7B", "gpt2", "tiny://qwen2.5-omni?seed=3"):
        require_model_name_or_path("model_name_or_path", name, tiny_models=("qwen2.5-omni",))
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match="is a file"):
        require_model_name_or_path("model_name_or_path", "weights.bin", tiny_models=("qwen2.5-omni",))
    with pytest.raises(ConfigError, match="seed"):
        require_model_name_or_path("model_name_or_path", "tiny://qwen2.5-omni?seed=-1", tiny_models=("qwen2.5-omni",))


def test_an_unreachable_hub_id_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A well-formed id that is neither a local folder nor fetchable (offline here) fails with the key and value,
    not transformers' bare "couldn't connect" message."""
    monkeypatch.chdir(tmp_path)  # tests run offline (tests/conftest.py sets HF_HUB_OFFLINE)
    for build in (lambda: TextPolicy("nobody/no-such-model"), lambda: GlobalSystem("nobody/no-such-model")):
        with pytest.raises(ConfigError) as error:
            build()
        message = str(error.value)
        assert message.startswith("model_name_or_path = 'nobody/no-such-model': neither an existing local folder")
        assert "Hub repo" in message and "\n" not in message
