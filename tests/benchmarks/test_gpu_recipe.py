"""``benchmarks/gpu_recipe.py``: its 7B architecture is the one the plan counts, and its ``--tiny`` mode runs.

The GPU run itself needs an accelerator; ``--tiny`` runs the same code (both recipes built by the fit CLI, a real
``Trainer.fit`` GRPO step, the phase meter, the plan) on CPU with tiny parts.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_recipe.py"


def _script():
    spec = importlib.util.spec_from_file_location("gpu_recipe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_7b_architecture_is_the_published_one_the_plan_counts() -> None:
    from omni_r1.plan.architecture import meta_thinker, thinker_config
    from omni_r1.plan.weights import weight_bytes

    config = _script().thinker_config(tiny=False)
    assert config.text_config.rope_parameters["mrope_section"] == [16, 24, 24]  # sums to head_dim / 2 = 64
    built = weight_bytes(meta_thinker(config, "bfloat16"))
    published = weight_bytes(meta_thinker(thinker_config("Qwen/Qwen2.5-Omni-7B"), "bfloat16"))
    assert built == published
    assert 8.8e9 < sum(p.numel() for p in meta_thinker(config, "bfloat16").parameters()) < 9.0e9


@pytest.mark.slow
def test_tiny_mode_runs_both_recipes(tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    cmd = [sys.executable, str(SCRIPT), "--tiny", "--steps", "1", "--workdir", str(tmp_path)]
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    for recipe in ("qlora", "fsdp"):
        assert f"== {recipe}:" in out
    for phase in ("rollout", "s2", "reference", "update"):
        assert len(re.findall(rf"^  {phase} +[0-9.]+ s ", out, flags=re.M)) == 2, phase
    assert out.count("every completion full length: True") == 2
    assert "rollout tokens/s" in out and out.rstrip().endswith("result: within the plan")
