"""TextPolicy on the tiny text-only Qwen2: EOS masking, exact log-probs, the cached sampler, and a real GRPO step."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

from omni_r1.callbacks.completions import CompletionsTableCallback
from omni_r1.data.types import VideoSample, collate_samples
from omni_r1.models.decoding import in_nucleus, sample_next_token
from omni_r1.models.loading import LoraConfig
from omni_r1.models.text_policy import TextPolicy, TextSample
from omni_r1.models.tiny import build_tiny_qwen2
from omni_r1.rewards.output import RewardOutput
from omni_r1.training.grpo_module import GRPOModule

PROMPTS = ["Count", "What is the colour of the sky in the middle of the day?"]  # different lengths: left padding


@pytest.fixture(scope="module")
def qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny") / "qwen2", seed=0)


class VowelReward:
    """Fraction of vowels among a completion's letters: varies across a random model's samples."""

    def __call__(self, completions, sample, num_tokens=None) -> RewardOutput:
        def vowels(text: str) -> float:
            letters = [c for c in text.lower() if c.isalpha()]
            return sum(c in "aeiou" for c in letters) / max(len(letters), 1)

        value = torch.tensor([vowels(c) for c in completions])
        return RewardOutput(total=value, terms={"vowels": value})


@pytest.mark.parametrize("hf_generate", [False, True])
def test_generation_masks_everything_after_the_first_eos(qwen2_dir, hf_generate):
    policy = TextPolicy(str(qwen2_dir), hf_generate=hf_generate)
    pad = policy.tokenizer.pad_token_id
    torch.manual_seed(0)
    # 64 rows × 48 tokens with two EOS ids among ~870: about 7 rows stop early, each at its own position.
    rollouts = policy.generate([TextSample(p) for p in PROMPTS], num_generations=32, max_new_tokens=48)
    ids, mask = rollouts.completion_ids, rollouts.completion_mask
    assert ids.shape[0] == 64 and mask.shape == ids.shape
    eos = torch.isin(ids, torch.tensor(policy.eos_token_ids))
    ended = eos.any(dim=1)
    assert 0 < int(ended.sum()) < 64  # guards the test: some rows stop early, others run to the limit
    for row in range(64):
        length = int(eos[row].int().argmax()) + 1 if ended[row] else ids.shape[1]
        assert mask[row].tolist() == [1] * length + [0] * (ids.shape[1] - length)
        assert (ids[row, length:] == pad).all()
        kept = policy.tokenizer.decode(ids[row, :length], skip_special_tokens=True)
        assert rollouts.texts[row] == kept
    assert rollouts.prompt_index.tolist() == [0] * 32 + [1] * 32


def test_completion_logps_equal_a_manual_log_softmax_gather(qwen2_dir):
    policy = TextPolicy(str(qwen2_dir))
    prompt = policy.encode([TextSample(p) for p in PROMPTS])
    assert not prompt.inputs["attention_mask"].all()  # the short prompt is left-padded
    torch.manual_seed(1)
    rollouts = policy.generate(prompt, num_generations=2, max_new_tokens=12, temperature=0.7)
    logps = policy.completion_logps(prompt, rollouts, temperature=0.7)
    assert logps.shape == rollouts.completion_ids.shape
    with torch.no_grad():
        for row in range(len(rollouts)):
            # Each row alone, padding removed: the positions a padded batch must reproduce.
            real = rollouts.prompt_mask[row].bool()
            ids = torch.cat([rollouts.prompt_ids[row, real], rollouts.completion_ids[row]])[None]
            logits = policy.model(input_ids=ids).logits[0].float() / 0.7
            n = rollouts.completion_ids.shape[1]
            expected = torch.log_softmax(logits[-n - 1 : -1], dim=-1).gather(1, ids[0, -n:, None]).squeeze(1)
            valid = rollouts.completion_mask[row].bool()
            torch.testing.assert_close(logps[row, valid], expected[valid], atol=1e-5, rtol=1e-5)


def test_cached_sampler_gives_the_greedy_tokens_of_transformers_generate(qwen2_dir):
    policy = TextPolicy(str(qwen2_dir))
    prompt = policy.encode([TextSample(p) for p in PROMPTS])
    ours = policy.generate(prompt, num_generations=1, max_new_tokens=24, do_sample=False)
    policy.hf_generate = True
    reference = policy.generate(prompt, num_generations=1, max_new_tokens=24, do_sample=False)
    assert torch.equal(ours.completion_ids, reference.completion_ids)
    assert torch.equal(ours.completion_mask, reference.completion_mask)


def test_sampled_tokens_lie_in_the_nucleus_and_avoid_forbidden_ids(qwen2_dir):
    policy = TextPolicy(str(qwen2_dir))
    forbidden = torch.tensor(policy.forbidden_token_ids)
    assert forbidden.numel() and policy.tokenizer.convert_tokens_to_ids("<|im_start|>") in forbidden.tolist()
    prompt = policy.encode([TextSample(p) for p in PROMPTS])
    torch.manual_seed(2)
    rollouts = policy.generate(prompt, num_generations=4, max_new_tokens=16, temperature=1.3, top_p=0.3)
    ids = torch.cat([rollouts.prompt_ids, rollouts.completion_ids], dim=1)
    mask = torch.cat([rollouts.prompt_mask, rollouts.completion_mask], dim=1)
    n = rollouts.completion_ids.shape[1]
    with torch.no_grad():
        logits = policy.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0))
    logits = logits.logits[:, -n - 1 : -1].float().index_fill(-1, forbidden, float("-inf")) / 1.3
    probs = logits.softmax(dim=-1).flatten(0, 1)  # (N*C, V)
    tokens = rollouts.completion_ids.flatten()
    valid = rollouts.completion_mask.flatten().bool()
    assert in_nucleus(probs[valid], tokens[valid], 0.3).all()
    assert not torch.isin(tokens[valid], forbidden).any()
    # guards the test: a nucleus of 30 % of the mass is far smaller than the vocabulary
    assert in_nucleus(probs, torch.zeros_like(tokens), 0.3).float().mean() < 0.5


@pytest.mark.parametrize("rejection_rounds", [8, 0])  # 0: the sort fallback alone
def test_nucleus_sampling_follows_the_renormalised_distribution(rejection_rounds):
    probs = torch.tensor([0.5, 0.3, 0.1, 0.06, 0.04])
    # top_p = 0.85: tokens 0-2 (mass above token 2 is 0.8 < 0.85; above token 3 it is 0.9)
    torch.manual_seed(0)
    tokens = sample_next_token(probs.log().expand(40000, 5), top_p=0.85, rejection_rounds=rejection_rounds)
    freq = torch.bincount(tokens, minlength=5).float() / 40000
    torch.testing.assert_close(freq, torch.tensor([5 / 9, 3 / 9, 1 / 9, 0.0, 0.0]), atol=0.01, rtol=0)
    forbidden = sample_next_token(probs.log().expand(1000, 5), forbidden=torch.tensor([0, 1]))
    assert set(forbidden.tolist()) <= {2, 3, 4}
    assert sample_next_token(probs.log()[None], do_sample=False).tolist() == [0]


def test_nucleus_equals_the_transformers_top_p_set():
    from transformers.generation.logits_process import TopPLogitsWarper

    logits = torch.randn(6, 300, generator=torch.Generator().manual_seed(0)) * 3
    kept = TopPLogitsWarper(top_p=0.7)(None, logits.clone()) > float("-inf")  # (6, 300)
    probs = logits.softmax(dim=-1)
    every = torch.arange(300).expand(6, 300)
    ours = torch.stack([in_nucleus(probs, every[:, i], 0.7) for i in range(300)], dim=1)
    assert torch.equal(ours, kept)


def test_prompts_use_the_chat_template_for_text_and_video_records(qwen2_dir):
    policy = TextPolicy(str(qwen2_dir), system_prompt="Be brief.")
    video = VideoSample(
        dataset="revos",
        task="vos",
        video_id="v",
        exp_id="0",
        expression="the dog on the left",
        expression_type=0,
        frames=torch.zeros(1, 3, 4, 4, dtype=torch.uint8),
        frame_names=["0"],
        s1_indices=torch.tensor([0]),
        masks=torch.zeros(0, 1, 4, 4, dtype=torch.bool),
    )
    text = policy.chat_prompt(video)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nthe dog on the left")
    assert text.endswith("<|im_start|>assistant\n")
    assert policy.chat_prompt(TextSample("the dog on the left")) == text
    with pytest.raises(TypeError, match="TextSample, VideoSample or str"):
        policy.chat_prompt(3)
    with pytest.raises(ValueError, match="empty batch"):
        policy.encode([])
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        policy.generate([TextSample("hi")], max_new_tokens=0)
    with pytest.raises(ValueError, match="top_p must be in"):
        policy.generate([TextSample("hi")], top_p=0.0)


def _fit_one_step(module: GRPOModule, prompts: list[str], root: Path, callbacks: list | None = None) -> None:
    loader = DataLoader([TextSample(p, sample_id=str(i)) for i, p in enumerate(prompts)], collate_fn=collate_samples)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(root),
        callbacks=callbacks,
    )
    trainer.fit(module, train_dataloaders=loader)
    assert trainer.global_step == 1


def test_grpo_step_through_lightning_changes_the_policy_not_the_reference(qwen2_dir, tmp_path):
    torch.manual_seed(0)
    policy = TextPolicy(str(qwen2_dir))
    module = GRPOModule(
        policy,
        reward=VowelReward(),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
        num_generations=4,
        max_new_tokens=16,
        beta=0.04,
    )
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    _fit_one_step(module, PROMPTS, tmp_path, callbacks=[CompletionsTableCallback(every_n_steps=1)])
    moved = [n for n, p in policy.named_parameters() if not torch.equal(p, before[n])]
    assert moved and "model.lm_head.weight" in moved
    for (name, ref), init in zip(module.reference.frozen.named_parameters(), before.values()):
        assert torch.equal(ref, init), name
    # the completions table reads TextSample through the VideoSample field names
    rows = [json.loads(line) for line in (tmp_path / "completions.jsonl").read_text().splitlines()]
    assert [(r["video"], r["prompt"]) for r in rows] == [("0", PROMPTS[0])] * 4


def test_lora_step_trains_adapters_only_and_the_reference_is_the_base(qwen2_dir, tmp_path):
    torch.manual_seed(0)
    policy = TextPolicy(str(qwen2_dir), lora=LoraConfig(r=4, alpha=8, dropout=0.0))
    assert policy.has_adapters
    module = GRPOModule(
        policy,
        reward=VowelReward(),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-2),
        num_generations=4,
        max_new_tokens=16,
        beta=0.04,
    )
    assert module.reference.frozen is None  # no second copy: adapters off is the reference
    prompt = policy.encode([TextSample(PROMPTS[1])])
    rollouts = policy.generate(prompt, num_generations=2, max_new_tokens=8)
    with torch.no_grad():
        initial = policy.completion_logps(prompt, rollouts)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    _fit_one_step(module, PROMPTS[1:], tmp_path)
    moved = {n for n, p in policy.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all("lora_" in n for n in moved)
    with torch.no_grad(), policy.adapters_disabled():
        torch.testing.assert_close(policy.completion_logps(prompt, rollouts), initial)
    with torch.no_grad():
        assert not torch.allclose(policy.completion_logps(prompt, rollouts), initial)


def test_save_pretrained_round_trip(qwen2_dir, tmp_path):
    policy = TextPolicy(str(qwen2_dir))
    with torch.no_grad():
        policy.model.lm_head.weight.mul_(1.5)  # differs from the tiny model on disk
    policy.save_pretrained(str(tmp_path / "saved"))
    loaded = TextPolicy(str(tmp_path / "saved"))
    prompt = policy.encode([TextSample(p) for p in PROMPTS])
    rollouts = policy.generate(prompt, num_generations=2, max_new_tokens=6)
    with torch.no_grad():
        torch.testing.assert_close(loaded.completion_logps(prompt, rollouts), policy.completion_logps(prompt, rollouts))
    assert loaded.eos_token_ids == policy.eos_token_ids
