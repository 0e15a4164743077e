"""Verdicts on the 7B recipes, the token / activation / KV formulas by hand, and the planner's CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.config import resolved_config
from omni_r1.plan.__main__ import main
from omni_r1.plan.activations import (
    PromptShape,
    TextDims,
    kv_cache_bytes,
    layer_bytes_per_token,
    training_activation_bytes,
)
from omni_r1.plan.estimate import GiB, estimate
from omni_r1.plan.report import parse_size
from omni_r1.plan.sam2 import SAM2_BUFFER_BYTES, SAM2_PARAMS, sam2_size
from omni_r1.plan.settings import run_settings

FIXTURES = Path(__file__).parent / "fixtures"
FULL_7B = str(FIXTURES / "omni_r1_7b_full.yaml")
QLORA_7B = str(FIXTURES / "omni_r1_7b_qlora.yaml")


def _plan(path: str, **overrides):
    return estimate(run_settings(resolved_config(["--config", path]), source=path, **overrides))


def test_qlora_7b_recipe_fits_one_24_gib_gpu_with_sam2_small() -> None:
    plan = _plan(QLORA_7B, sam2="s")
    assert plan.settings.strategy.world_size == 1
    assert plan.peak() < 24 * GiB
    assert plan.peak() == plan.peak(sharded=True)  # nothing to shard on one GPU
    # 4-bit language model: well under a quarter of its bf16 size (embeddings stay full precision)
    assert plan.weights.quantized_linears == 28 * 7


def test_full_precision_7b_grpo_exceeds_24_gib_per_gpu_before_sharding() -> None:
    plan = _plan(FULL_7B)
    assert plan.settings.has_reference and plan.settings.strategy.world_size == 8
    assert plan.peak() > 24 * GiB
    persistent = plan.phase_bytes("persistent")
    assert plan.phase_bytes("persistent", sharded=True) < persistent  # sharding splits weights and states
    # bf16 weights + frozen copy + bf16 gradients + two bf16 AdamW moments of the trainable 7.6 B
    w = plan.weights
    assert w.trainable_element_bytes == 2
    optimizer = next(i for i in plan.items if i.name.startswith("optimizer states"))
    assert optimizer.bytes == 2 * 2 * w.trainable_params
    assert optimizer.sharded_bytes == -(-optimizer.bytes // 8)


def test_cli_prints_the_table_and_the_verdicts(capsys: pytest.CaptureFixture) -> None:
    assert main(["--config", QLORA_7B, "--sam2", "s", "--gpu-memory", "24GiB", "--check"]) == 0
    out = capsys.readouterr().out
    assert "fits: yes" in out and "LoRA adapters r=16" in out and "SAM2.1 hiera-s" in out
    assert main(["--config", FULL_7B, "--gpu-memory", "24GiB", "--check"]) == 1
    out = capsys.readouterr().out
    assert "fits before sharding: no" in out and "fits: no" in out and "auto_wrap_policy" in out


def test_cli_overrides_reach_the_run_config(capsys: pytest.CaptureFixture) -> None:
    main(["--config", QLORA_7B, "--sam2", "none", "--model.init_args.num_generations", "4"])
    assert "4 rollouts x" in capsys.readouterr().out


def test_prompt_tokens_by_hand() -> None:
    budget = 128 * 28 * 28
    assert PromptShape(video_frames=5, text_tokens=100).tokens(budget) == 100 + 3 * 128  # frames pair up
    assert PromptShape(images=1, audio_seconds=10.0, text_tokens=0).tokens(budget) == 128 + 250


def test_video_tokens_match_the_processor_at_the_budget() -> None:
    import torch
    from transformers import Qwen2_5OmniProcessor

    from omni_r1.models.hub import resolve_pretrained

    processor = Qwen2_5OmniProcessor.from_pretrained(resolve_pretrained("tiny://qwen2.5-omni"))
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "x"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    budget = 16 * 28 * 28
    clip = torch.zeros(5, 3, 112, 112, dtype=torch.uint8)  # 112·112 = 16·28·28: exactly at the budget
    size = {"shortest_edge": 4 * 28 * 28, "longest_edge": budget}
    kwargs = {"size": size, "fps": 2.0, "do_sample_frames": False, "cap_pixels_per_frame": True}
    ids = processor(text=[text], videos=[clip], return_tensors="pt", videos_kwargs=kwargs)["input_ids"][0]
    count = int((ids == processor.tokenizer.convert_tokens_to_ids("<|VIDEO|>")).sum())
    assert count == PromptShape(video_frames=5, text_tokens=0).tokens(budget)


def test_activation_and_kv_formulas_by_hand() -> None:
    dims = TextDims(hidden=4, kv_width=2, intermediate=8, layers=3, heads=2, vocab=10)
    # a·(7h + 3k + 4I) + 8h for 16-bit activations: 2·(28 + 6 + 32) + 32
    assert layer_bytes_per_token(dims, 2) == 164
    assert layer_bytes_per_token(dims, 4) == 4 * 66
    assert layer_bytes_per_token(dims, 2, seq_len=5, eager=True) == 164 + 2 * 2 * 5
    assert layer_bytes_per_token(dims, 2, adapter_inputs=[4, 8], lora_rank=2, lora_dropout=True) == 164 + 2 * (
        2 * 2
    ) + 3 * (4 + 8)
    # 10 tokens: edges 3·h·a per token, then all layers, or layer inputs + one layer recomputed
    assert training_activation_bytes(dims, 10, 2, False, 164) == 10 * 24 + 10 * 3 * 164
    assert training_activation_bytes(dims, 10, 2, True, 164) == 10 * 24 + 10 * (3 * 4 * 2 + 164)
    assert kv_cache_bytes(dims, rows=2, tokens=10, act_bytes=2) == 2 * 10 * 3 * 2 * 2 * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("24GiB", 24 * 2**30), ("80G", 80 * 2**30), ("24GB", 24 * 10**9), ("1.5 MiB", 3 * 2**19), ("512", 512)],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_rejects_unknown_units() -> None:
    with pytest.raises(ValueError, match="24GiB"):
        parse_size("24 parsecs")


def _config(model_extra: dict | None = None, data: dict | None = None, trainer: dict | None = None) -> dict:
    policy = {"class_path": "x.GlobalSystem", "init_args": {"model_name_or_path": "tiny://qwen2.5-omni"}}
    model = {"class_path": "x.GRPOModule", "init_args": {"policy": policy, "num_generations": 2, "max_new_tokens": 8}}
    model["init_args"].update(model_extra or {})
    return {
        "model": model,
        "data": data or {"class_path": "x.ReVOSDataModule", "init_args": {"max_frames": 6, "batch_size": 1}},
        "trainer": trainer or {"devices": 1},
    }


def test_sam2_segmenter_found_anywhere_in_the_model_section() -> None:
    segmenter = {
        "class_path": "omni_r1.detail.sam2_segmenter.SAM2Segmenter",
        "init_args": {"config": "configs/sam2.1/sam2.1_hiera_l.yaml", "image_size": 512},
    }
    detail = {"class_path": "omni_r1.detail.system.DetailSystem", "init_args": {"segmenter": segmenter}}
    settings = run_settings(_config({"detail": detail}))
    assert settings.sam2 is not None and settings.sam2.size == "l" and settings.sam2.image_size == 512
    assert settings.sam2.objects == 2 * 4 * 3  # G x K0 x objects per keyframe
    assert run_settings(_config({"detail": detail}), sam2="none").sam2 is None


def test_grounders() -> None:
    grounder = {
        "class_path": "omni_r1.detail.grounders.ReferenceGrounder",
        "init_args": {"batch_size": 4, "max_new_tokens": 100, "pixels": {"max_pixels": 900 * 28 * 28}},
    }
    settings = run_settings(_config({"detail": {"init_args": {"grounder": grounder}}}))
    assert (settings.grounder.rows, settings.grounder.tokens) == (4, 900 + 64 + 100)  # image + instruction + answer
    assert any(i.phase == "reward" and i.name.startswith("S2 grounding") for i in estimate(settings).items)
    other = {"class_path": "omni_r1.detail.grounders.HFGrounder", "init_args": {"model_name_or_path": "x"}}
    settings = run_settings(_config({"detail": {"init_args": {"grounder": other}}}))
    assert settings.grounder is None and "not counted" in settings.notes[0]


def test_a_mixture_is_planned_for_its_largest_prompt() -> None:
    refavs = {"class_path": "omni_r1.data.refavs.RefAVSDataModule", "init_args": {"root": "r"}}
    revos = {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": {"root": "v", "max_frames": 24}}
    mixture = {
        "class_path": "x.MixtureDataModule",
        "init_args": {"datasets": {"a": refavs, "v": revos}, "batch_size": 1},
    }
    policy = {"pixels": {"max_pixels": 128 * 28 * 28}}
    config = _config(data=mixture)
    config["model"]["init_args"]["policy"]["init_args"].update(policy)
    assert run_settings(config).prompt == PromptShape(video_frames=24)  # 12 x 128 tokens beat 128 + 250
    config["model"]["init_args"]["policy"]["init_args"]["pixels"]["max_pixels"] = 4 * 28 * 28
    assert run_settings(config).prompt == PromptShape(images=1, audio_seconds=10.0)  # 4 + 250 beat 12 x 4


def test_strategies() -> None:
    fsdp = {
        "class_path": "lightning.pytorch.strategies.FSDPStrategy",
        "init_args": {"sharding_strategy": "SHARD_GRAD_OP", "auto_wrap_policy": ["x"]},
    }
    s = run_settings(_config(trainer={"devices": 4, "num_nodes": 2, "strategy": fsdp})).strategy
    assert (s.world_size, s.shard_params, s.shard_grads, s.shard_optimizer, s.unit) == (8, False, True, True, "layer")
    s = run_settings(_config(trainer={"devices": 2, "strategy": "deepspeed_stage_2"})).strategy
    assert (s.world_size, s.shard_params, s.shard_grads, s.shard_optimizer) == (2, False, True, True)
    assert run_settings(_config(trainer={"devices": "auto"}), world_size=4).strategy.world_size == 4


def test_unknown_inputs_are_named() -> None:
    text_policy = _config()
    text_policy["model"]["init_args"]["policy"] = {"class_path": "x.TextPolicy", "init_args": {"model": "q"}}
    with pytest.raises(ValueError, match="GlobalSystem"):
        run_settings(text_policy)
    with pytest.raises(ValueError, match="--frames"):
        run_settings(_config(data={"class_path": "x.SomeDataModule", "init_args": {}}))
    assert run_settings(_config(data={"class_path": "x.SomeDataModule", "init_args": {}}), frames=8).prompt.video_frames
    with pytest.raises(KeyError, match="'model'"):
        run_settings({"data": {}, "trainer": {}})
    with pytest.raises(ValueError, match="hiera size"):
        sam2_size("sam2.1_hiera_huge.yaml")


@pytest.mark.parametrize("size", ["t", "s", "b+", "l"])
def test_sam2_parameter_table_matches_the_built_predictor(size: str) -> None:
    from sam2.build_sam import build_sam2_video_predictor

    predictor = build_sam2_video_predictor(f"configs/sam2.1/sam2.1_hiera_{size}.yaml", ckpt_path=None, device="cpu")
    assert sum(p.numel() for p in predictor.parameters()) == SAM2_PARAMS[size]
    assert sum(b.numel() * b.element_size() for b in predictor.buffers()) == SAM2_BUFFER_BYTES


def test_cli_names_a_model_it_cannot_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # the GRPO demo's warm start runs/demo/policy does not exist here
    demo_grpo = str(Path(__file__).resolve().parents[2] / "configs" / "demo_grpo.yaml")
    assert main(["--config", demo_grpo]) == 2
    err = capsys.readouterr().err
    assert "runs/demo/policy" in err and "--model" in err
    assert main(["--config", demo_grpo, "--model", "tiny://qwen2.5-omni"]) == 0
