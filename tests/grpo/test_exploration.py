"""Exploration keys against their published definitions, each checked with a hand-written reference computation:
the entropy bonus (verl's ``entropy_coeff``), the high-entropy token mask (TRL's ``top_entropy_quantile``), top-k
sampling (``transformers``' order) and the diversity metrics; the defaults leave today's loss bit-identical."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from omni_r1.grpo.exploration import completion_diversity, entropy_threshold, high_entropy_mask, top_entropy_mask
from omni_r1.grpo.loss import k3_divergence, policy_loss
from omni_r1.models.decoding import sample_next_token
from omni_r1.models.rollouts import token_entropy
from omni_r1.models.text_policy import TextPolicy, TextSample
from omni_r1.rewards.output import RewardOutput
from omni_r1.training.grpo_module import GRPOModule
from omni_r1.validation import ConfigError

MASK = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.float64)
ADV = torch.tensor([0.7, -1.3, 0.4], dtype=torch.float64)


def _logits(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.2, 3.0, 12, dtype=torch.float64).reshape(3, 4, 1)  # distinct entropies per token
    return (torch.randn(3, 4, 9, generator=g, dtype=torch.float64) * scale).requires_grad_()


def _reference_entropy(logits: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(logits, dim=-1)
    return -(p * torch.log(p)).sum(-1)


def _reference_aggregate(values: torch.Tensor, mask: torch.Tensor, loss_type: str, max_len: int = 5) -> torch.Tensor:
    if loss_type == "grpo":  # mean over each sequence's tokens, then over sequences
        return torch.stack([values[i][mask[i] > 0].mean() for i in range(mask.shape[0])]).mean()
    if loss_type in ("bnpo", "dapo"):  # one mean over every token
        return values[mask > 0].mean()
    return values[mask > 0].sum() / (mask.shape[0] * max_len)  # dr_grpo


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_entropy_bonus_subtracts_coef_times_aggregated_entropy(loss_type: str) -> None:
    coef = 0.37
    logits = _logits()
    tokens = torch.zeros(3, 4, dtype=torch.long)
    logps = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
    entropy = token_entropy(logits, grad=True)
    torch.testing.assert_close(entropy, _reference_entropy(logits))
    kwargs = dict(loss_type=loss_type, max_completion_length=5)
    base, _ = policy_loss(logps, None, None, ADV, MASK, **kwargs)
    (base_grad,) = torch.autograd.grad(base, logits, retain_graph=True)
    bonus, _ = policy_loss(logps, None, None, ADV, MASK, entropy=entropy, entropy_coef=coef, **kwargs)
    (bonus_grad,) = torch.autograd.grad(bonus, logits, retain_graph=True)
    reference = _reference_aggregate(_reference_entropy(logits), MASK, loss_type)
    (reference_grad,) = torch.autograd.grad(reference, logits)
    torch.testing.assert_close(bonus, base - coef * reference, rtol=0, atol=1e-12)
    torch.testing.assert_close(bonus_grad, base_grad - coef * reference_grad, rtol=0, atol=1e-12)
    assert reference_grad.abs().sum() > 0
    with pytest.raises(ValueError, match="entropy"):
        policy_loss(logps, None, None, ADV, MASK, entropy_coef=coef, **kwargs)


def test_default_keywords_leave_the_loss_bit_identical() -> None:
    logits = _logits(1)
    logps = torch.log_softmax(logits, -1)[..., 0]
    ref = logps.detach() - 0.1
    today, today_metrics = policy_loss(logps, None, ref, ADV, MASK, loss_type="grpo", beta=0.04)
    (today_grad,) = torch.autograd.grad(today, logits, retain_graph=True)
    entropy = token_entropy(logits.detach())
    now, metrics = policy_loss(
        logps, None, ref, ADV, MASK, loss_type="grpo", beta=0.04, pg_mask=None, entropy=entropy, entropy_coef=0.0
    )
    (now_grad,) = torch.autograd.grad(now, logits)
    assert torch.equal(now, today) and torch.equal(now_grad, today_grad)
    assert all(torch.equal(metrics[k], today_metrics[k]) for k in today_metrics)


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.75, 1.0])
def test_quantile_mask_keeps_exactly_the_top_fraction_by_entropy(keep: float) -> None:
    entropy = token_entropy(_logits(2).detach())
    entropy[0, 3] = 100.0  # padding: never kept however high its entropy
    mask = MASK.bool()
    kept = top_entropy_mask(entropy, mask, keep)
    # TRL: threshold = quantile(entropies of the completion tokens, 1 - keep) with linear interpolation, so the
    # kept tokens are the n - ceil((1 - keep)(n - 1)) highest (entropies are distinct here)
    values = entropy[mask]
    n = values.numel()
    count = n - math.ceil((1 - keep) * (n - 1) - 1e-9)
    expected = torch.zeros_like(mask)
    order = torch.argsort(torch.where(mask, entropy, -1.0).flatten(), descending=True)[:count]
    expected.view(-1)[order] = True
    assert torch.equal(kept, expected) and int(kept.sum()) == count
    assert entropy_threshold(values, keep) == torch.quantile(values, 1 - keep)
    assert not high_entropy_mask(entropy, mask, float("inf")).any()


def test_the_mask_zeroes_the_surrogate_but_not_the_kl_nor_the_normaliser() -> None:
    logits = _logits(3)
    logps = torch.log_softmax(logits, -1)[..., 1]
    ref = logps.detach() + 0.2
    entropy = token_entropy(logits.detach())
    kept = top_entropy_mask(entropy, MASK, 0.5)
    beta = 0.1
    loss, _ = policy_loss(logps, None, ref, ADV, MASK, loss_type="dapo", beta=beta, pg_mask=kept)
    surrogate = -ADV[:, None] * torch.ones_like(logps)  # on-policy: ρ = 1
    token = surrogate * kept + beta * k3_divergence(logps, ref)
    torch.testing.assert_close(loss, token[MASK > 0].sum() / MASK.sum(), rtol=0, atol=1e-12)


def test_top_k_never_samples_outside_the_k_most_likely_tokens() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 40).repeat(4000, 1)
    top5 = set(logits[0].topk(5).indices.tolist())
    draws = sample_next_token(logits, temperature=1.7, top_p=1.0, top_k=5)
    assert set(draws.tolist()) <= top5 and len(set(draws.tolist())) == 5
    # frequencies follow the renormalised top-k distribution
    probs = torch.softmax(logits[0] / 1.7, -1)
    for token in top5:
        expected = probs[token] / probs[list(top5)].sum()
        assert abs((draws == token).float().mean() - expected) < 0.03
    # then top-p on the top-k distribution (transformers' order): the nucleus of the renormalised top 5
    sorted_probs = probs[list(top5)].sort(descending=True).values / probs[list(top5)].sum()
    nucleus = int((sorted_probs.cumsum(0) - sorted_probs < 0.6).sum())
    both = sample_next_token(logits, temperature=1.7, top_p=0.6, top_k=5)
    assert set(both.tolist()) == set(logits[0].topk(nucleus).indices.tolist())
    torch.manual_seed(1)
    full = sample_next_token(logits[:50], top_p=0.9)
    torch.manual_seed(1)
    assert torch.equal(sample_next_token(logits[:50], top_p=0.9, top_k=40), full)  # k ≥ V: no top-k


def test_diversity_counts_distinct_completions_per_group() -> None:
    stats = completion_diversity(["a", "a", "a", "b", "c", "b", "x", "x", "x"], 3)
    assert stats == {"distinct_completions": (1 + 2 + 1) / 3, "frac_groups_one_answer": 2 / 3}


# ------------------------------------------------------------------ the module, on the tiny text policy
def spread_reward(completions, sample, **_):
    value = torch.arange(len(completions), dtype=torch.float32)
    return RewardOutput(total=value, terms={})


PROMPTS = [TextSample("count to three"), TextSample("name a colour")]


@pytest.fixture(scope="module")
def policy() -> TextPolicy:
    return TextPolicy("tiny://qwen2")


def _module(policy: TextPolicy, **kwargs) -> GRPOModule:
    kwargs = {"num_generations": 3, "max_new_tokens": 6, "beta": 0.0, "max_grad_norm": None, **kwargs}
    module = GRPOModule(policy, spread_reward, optimizer=lambda p: torch.optim.SGD(p, lr=0.0), **kwargs)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return module


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_module_defaults_equal_todays_policy_loss(policy: TextPolicy, loss_type: str) -> None:
    torch.manual_seed(0)
    module = _module(policy, loss_type=loss_type)
    exp = module.make_experience(PROMPTS)
    loss, metrics = module.update(exp)
    mask = exp.rollouts.completion_mask.float()
    logps, entropy = policy.completion_logps(exp.prompt, exp.rollouts, temperature=1.0, return_entropy=True)
    count = mask.sum() if loss_type == "dapo" else torch.tensor(float(mask.shape[0]))
    today, _ = policy_loss(
        logps, None, None, exp.advantages, mask, loss_type=loss_type, max_completion_length=6, num_items_in_batch=count
    )
    assert torch.equal(loss, today)
    torch.testing.assert_close(metrics["entropy"], (entropy * mask).sum() / mask.sum())
    assert "entropy_mask/kept_ratio" not in metrics


def test_module_entropy_bonus_and_quantile_mask(policy: TextPolicy) -> None:
    torch.manual_seed(0)
    exp = _module(policy).make_experience(PROMPTS)
    mask = exp.rollouts.completion_mask.float()
    logps, entropy = policy.completion_logps(exp.prompt, exp.rollouts, temperature=1.0, return_entropy=True)
    base, _ = _module(policy).update(exp)
    coef = 0.05
    bonus, _ = _module(policy, entropy_coef=coef).update(exp)
    per_sequence = (entropy * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(bonus, base - coef * per_sequence.mean(), rtol=0, atol=1e-6)
    # the mask's threshold is the whole batch's, whatever the micro-batches: TRL's quantile over all its tokens
    keep = 0.3
    threshold = torch.quantile(entropy[mask > 0], 1 - keep)
    kept = (entropy >= threshold) & (mask > 0)
    expected, _ = policy_loss(logps, None, None, exp.advantages, mask, loss_type="grpo", pg_mask=kept)
    for micro in (None, 2):
        loss, metrics = _module(policy, top_entropy_quantile=keep, micro_batch_size=micro).update(exp)
        torch.testing.assert_close(loss, expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(metrics["entropy_mask/kept_ratio"], kept.sum() / mask.sum())


def test_module_top_k_reaches_the_sampler(policy: TextPolicy) -> None:
    prompt = policy.encode(PROMPTS)
    greedy = policy.generate(prompt, num_generations=1, max_new_tokens=6, do_sample=False)
    torch.manual_seed(0)
    module = _module(policy, top_k=1)
    exp = module.make_experience(PROMPTS)  # top-1 sampling is greedy: every group is one completion, G times
    assert torch.equal(exp.rollouts.completion_ids, greedy.completion_ids.repeat_interleave(3, dim=0))
    stats = completion_diversity(exp.rollouts.texts, 3)
    assert stats == {"distinct_completions": 1.0, "frac_groups_one_answer": 1.0}


def test_hf_generate_takes_top_k_too() -> None:
    hf = TextPolicy("tiny://qwen2", hf_generate=True)
    prompt = hf.encode(PROMPTS)
    greedy = hf.generate(prompt, num_generations=1, max_new_tokens=6, do_sample=False)
    torch.manual_seed(0)
    sampled = hf.generate(prompt, num_generations=2, max_new_tokens=6, top_p=1.0, top_k=1)
    assert torch.equal(sampled.completion_ids, greedy.completion_ids.repeat_interleave(2, dim=0))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("top_k", 0),
        ("entropy_coef", -0.1),
        ("top_entropy_quantile", 0.0),
        ("top_entropy_quantile", 1.5),
        ("dynamic_sampling", "yes"),
        ("dynamic_sampling_max_draws", -1),
    ],
)
def test_bad_exploration_keys_are_one_line_config_errors(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"^{key} = ") as error:
        GRPOModule(None, **{key: value})
    assert "\n" not in str(error.value)
