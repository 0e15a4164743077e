"""``python -m omni_r1.export``: short demo runs exported as a full model, a peft adapter (4-bit too) or a merged
model; each reloads through ``GlobalSystem(model_name_or_path=DIR)`` with the trained policy's log-probs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from omni_r1.export import load_checkpoint, main
from omni_r1.fit import main as fit
from omni_r1.models.global_system import GlobalSystem, PixelBudget
from omni_r1.models.loading import LoraConfig, QuantizationConfig
from omni_r1.models.rollouts import Rollouts

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.yaml")
DEMO_GRPO = str(REPO / "configs" / "demo_grpo.yaml")
QUICK = ["--trainer.max_steps", "1", "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false"]
PIXELS = PixelBudget(min_pixels=3136, max_pixels=6272)  # the demo policy's budget
LORA = LoraConfig(r=4, alpha=8, dropout=0.0)
NF4 = QuantizationConfig(compute_dtype="float32")
ANSWER = '<think>the dog on the left</think><answer>{"start_time": "00:00.50", "description": "a dog"}</answer>'


def _overlay(path: Path, lora: bool, quantized: bool) -> str:
    lines = ["model:", "  init_args:", "    policy:", "      init_args:"]
    if lora:
        lines.append("        lora: {r: 4, alpha: 8, dropout: 0.0}")
    if quantized:
        lines.append("        quantization: {load_in_4bit: true, compute_dtype: float32}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder a test's runs start from: the demo configs write data/ and runs/ relative to it, and the export
    reads the run's relative paths (e.g. GRPO's warm start runs/demo/policy) from it too."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _train(workdir: Path, *extra: str, config: str = DEMO) -> tuple[Any, Path, Path]:
    """A one-step run; returns (trained module, its last checkpoint, its saved config)."""
    cli = fit(["--config", config, *extra, *QUICK])
    root = Path(cli.trainer.default_root_dir)
    return cli.model, workdir / root / "checkpoints/last.ckpt", Path(cli.trainer.log_dir) / "config.yaml"


@torch.no_grad()
def _logps(policy: GlobalSystem, samples: list) -> torch.Tensor:
    """Log-probs of a fixed answer after each prompt."""
    policy.eval()
    prompt = policy.encode(samples)
    completion = policy.tokenizer([ANSWER] * len(samples), return_tensors="pt", add_special_tokens=False).input_ids
    rollouts = Rollouts(
        prompt_index=torch.arange(len(samples)),
        prompt_ids=prompt.inputs["input_ids"],
        prompt_mask=prompt.inputs["attention_mask"],
        completion_ids=completion,
        completion_mask=torch.ones_like(completion),
        texts=[ANSWER] * len(samples),
    )
    return policy.completion_logps(prompt, rollouts)


def test_full_fine_tuning_exports_a_full_model(workdir: Path, revos_batch: list) -> None:
    module, ckpt, config = _train(workdir)
    assert main(["--ckpt", str(ckpt), "--config", str(config), "--out", "export/full"]) == 0
    out = workdir / "export/full"
    assert (out / "model.safetensors").is_file() and (out / "processor_config.json").is_file()
    assert not (out / "adapter_config.json").exists()
    trained = _logps(module.policy, revos_batch)
    reloaded = _logps(GlobalSystem(str(out), pixels=PIXELS), revos_batch)
    torch.testing.assert_close(reloaded, trained, rtol=0, atol=1e-5)
    base = _logps(GlobalSystem("tiny://qwen2.5-omni", pixels=PIXELS), revos_batch)
    assert (base - trained).abs().max() > 1e-2  # the comparison can tell trained from untrained weights


def test_lora_exports_an_adapter_and_a_merged_model(workdir: Path, revos_batch: list) -> None:
    module, ckpt, config = _train(workdir, "--config", _overlay(workdir / "lora.yaml", True, False))
    trained = _logps(module.policy, revos_batch)
    assert main(["--ckpt", str(ckpt), "--config", str(config), "--out", "export/adapter"]) == 0
    adapter = workdir / "export/adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    kept = _logps(GlobalSystem(str(adapter), pixels=PIXELS, lora=LORA), revos_batch)  # adapter kept
    torch.testing.assert_close(kept, trained, rtol=0, atol=1e-5)
    folded = _logps(GlobalSystem(str(adapter), pixels=PIXELS), revos_batch)  # folded into the base on load
    torch.testing.assert_close(folded, trained, rtol=0, atol=1e-4)

    assert main(["--ckpt", str(ckpt), "--config", str(config), "--out", "export/merged", "--merge"]) == 0
    merged = workdir / "export/merged"
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    assert not hasattr(Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(merged), "peft_config")
    torch.testing.assert_close(
        _logps(GlobalSystem(str(merged), pixels=PIXELS), revos_batch), trained, rtol=0, atol=1e-4
    )


def test_grpo_checkpoint_without_its_reference_weights_exports(workdir: Path, revos_batch: list) -> None:
    """GRPO leaves the frozen reference out of checkpoints; the export restores it from the config's weights."""
    _train(workdir)  # the SFT warm start GRPO starts from (runs/demo/policy)
    module, ckpt, config = _train(workdir, "--model.init_args.max_new_tokens", "8", config=DEMO_GRPO)
    assert not any(k.startswith("reference.") for k in torch.load(ckpt, weights_only=True)["state_dict"])
    assert main(["--ckpt", str(ckpt), "--config", str(config), "--out", "export/grpo"]) == 0
    reloaded = _logps(GlobalSystem(str(workdir / "export/grpo"), pixels=PIXELS), revos_batch)
    torch.testing.assert_close(reloaded, _logps(module.policy, revos_batch), rtol=0, atol=1e-5)


def test_nf4_lora_adapter_reloads_onto_the_same_4bit_base(workdir: Path, revos_batch: list) -> None:
    module, ckpt, config = _train(workdir, "--config", _overlay(workdir / "q.yaml", True, True))
    assert main(["--ckpt", str(ckpt), "--config", str(config), "--out", "export/qlora"]) == 0
    reloaded = GlobalSystem(str(workdir / "export/qlora"), pixels=PIXELS, quantization=NF4, lora=LORA)
    torch.testing.assert_close(_logps(reloaded, revos_batch), _logps(module.policy, revos_batch), rtol=0, atol=1e-5)


def test_a_checkpoint_of_another_model_is_refused(workdir: Path, capsys: pytest.CaptureFixture) -> None:
    module, ckpt, config = _train(workdir)
    state = torch.load(ckpt, weights_only=True)
    state["state_dict"] = {k: v for k, v in state["state_dict"].items() if "lm_head" not in k}
    torch.save(state, workdir / "partial.ckpt")
    with pytest.raises(KeyError, match="lacks weights"):
        load_checkpoint(module, workdir / "partial.ckpt")
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        load_checkpoint(module, workdir / "nowhere.ckpt")
    assert main(["--ckpt", str(workdir / "partial.ckpt"), "--config", str(config), "--out", "x"]) == 2
    assert "lacks weights" in capsys.readouterr().err and not (workdir / "x").exists()
