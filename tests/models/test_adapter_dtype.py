"""The QLoRA recipe trains float32 LoRA adapters on its 4-bit base, fresh and from a saved adapter (warm start).

The policy is the one ``configs/omni_r1_7b_qlora_24gb.yaml`` builds, shrunk by ``experiments/tiny/recipe_on_cpu.yaml``
(its ``dtype: bfloat16``, NF4 quantisation with bf16 compute and LoRA are the recipe's). Under ``bf16-mixed`` the
adapters are the weights AdamW updates, so they are its master weights: float32.
"""

from __future__ import annotations

from pathlib import Path

import torch

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.models.global_system import GlobalSystem
from omni_r1.models.loading import encoder_modules, float32_adapters, load_thinker

REPO = Path(__file__).resolve().parents[2]
QLORA = ["--config", str(REPO / "configs/omni_r1_7b_qlora_24gb.yaml")]
TINY = ["--config", str(REPO / "experiments/tiny/recipe_on_cpu.yaml")]


def _recipe_policy(**overrides: str) -> GlobalSystem:
    """The QLoRA recipe's policy (tiny parts), its ``init_args`` overridden by ``overrides``."""
    config = resolved_config([*QLORA, *TINY])
    assert config["trainer"]["precision"] == "bf16-mixed"
    model = config["model"]
    model["init_args"]["detail"] = None  # the Detail system plays no part here
    model["init_args"]["policy"]["init_args"].update(overrides)
    assert model["init_args"]["policy"]["init_args"]["dtype"] == "bfloat16"
    return instantiate_model(model).policy


def _trainable_dtypes(policy: GlobalSystem) -> set[torch.dtype]:
    trainable = [(n, p) for n, p in policy.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n, _ in trainable)
    return {p.dtype for _, p in trainable}


def test_qlora_recipe_adapters_are_float32_fresh_and_after_a_warm_start(tmp_path: Path) -> None:
    policy = _recipe_policy()
    assert _trainable_dtypes(policy) == {torch.float32}
    assert any(p.dtype == torch.uint8 for p in policy.model.parameters())  # the 4-bit base
    encoders = [p for m in encoder_modules(policy.model) for p in m.parameters()]
    assert encoders and {p.dtype for p in encoders} == {torch.bfloat16}  # frozen: kept in the load dtype

    policy.save_pretrained(str(tmp_path / "adapter"))  # an SFT warm start of a LoRA run
    warm = _recipe_policy(model_name_or_path=str(tmp_path / "adapter"))
    assert _trainable_dtypes(warm) == {torch.float32}


def test_float32_adapters_upcasts_half_precision_trainable_weights() -> None:
    model = load_thinker("tiny://qwen2.5-omni", dtype="bfloat16")
    head = model.lm_head.weight
    assert head.requires_grad and head.dtype == torch.bfloat16
    assert float32_adapters(model) > 0
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
