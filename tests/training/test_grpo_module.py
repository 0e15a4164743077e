"""GRPOModule on the tiny thinker: a real step trains, encoders run once, LoRA/4-bit and the reference policy."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from omni_r1.models.loading import LoraConfig, QuantizationConfig, encoder_modules
from omni_r1.rewards import HierarchicalReward, RewardWeights
from omni_r1.training.grpo_module import GRPOModule

TEXT_ONLY = RewardWeights(box=0.0, mask=0.0, refavs=0.0, refcocog=0.0, length=0.0)


class LengthReward(HierarchicalReward):
    """Completion length as the reward: a random model's groups then never have equal rewards."""

    def __call__(self, completions, sample, details=None, num_tokens=None, image_hw=None, handovers=None):
        from omni_r1.rewards.output import RewardOutput

        value = torch.tensor([float(len(c)) for c in completions]) / 100.0
        return RewardOutput(total=value, terms={"length_chars": value})


def _attach(module: GRPOModule) -> L.Trainer:
    """A Trainer that owns the module (optimizers, strategy) without running a fit loop."""
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return trainer


def _module(policy, **kwargs) -> GRPOModule:
    kwargs.setdefault("num_generations", 4)
    kwargs.setdefault("max_new_tokens", 16)
    kwargs.setdefault("optimizer", lambda p: torch.optim.AdamW(p, lr=1e-2))
    return GRPOModule(policy, LengthReward(), **kwargs)


def test_step_changes_trainable_parameters_only(tiny_policy_factory, revos_batch):
    torch.manual_seed(0)
    module = _module(tiny_policy_factory(), beta=0.04, num_iterations=2, micro_batch_size=3)
    _attach(module)
    before = {n: p.detach().clone() for n, p in module.policy.named_parameters()}
    exp = module.make_experience(revos_batch)
    assert exp.old_logps is not None and exp.ref_logps is not None
    assert torch.equal(exp.old_logps, exp.ref_logps)  # nothing trained yet: policy == reference
    loss, metrics = module.update(exp)
    assert torch.isfinite(loss) and metrics["kl"] >= 0
    moved = {n for n, p in module.policy.named_parameters() if not torch.equal(p, before[n])}
    trainable = {n for n, p in module.policy.named_parameters() if p.requires_grad}
    assert moved and moved <= trainable
    assert not any("visual" in n or "audio_tower" in n for n in moved)
    # the frozen reference kept the initial weights
    for (name, ref), (_, init) in zip(module.reference.frozen.named_parameters(), before.items()):
        assert torch.equal(ref, init), name


def test_encoders_run_once_per_step_with_reference_and_mu(tiny_policy_factory, refavs_batch):
    policy = tiny_policy_factory()
    module = _module(policy, beta=0.04, num_iterations=3, micro_batch_size=2)
    _attach(module)
    calls = []
    hooks = [m.register_forward_hook(lambda *_: calls.append(1)) for m in encoder_modules(policy.model)]
    reference_calls = []
    hooks += [
        m.register_forward_hook(lambda *_: reference_calls.append(1)) for m in encoder_modules(module.reference.frozen)
    ]
    module.update(module.make_experience(refavs_batch))  # image + audio prompts
    assert len(calls) == 2  # one vision + one audio pass for the whole batch
    assert not reference_calls  # the reference reuses the cached features

    calls.clear()
    policy.cache_encoders = False
    module.update(module.make_experience(refavs_batch))
    # uncached: sampling + old + 4 micro-batches × 3 iterations of the policy, each re-running both encoders
    assert len(calls) > 2 * 10
    for h in hooks:
        h.remove()


def test_cached_and_uncached_logps_are_identical(tiny_policy_factory, refavs_batch, revos_batch):
    policy = tiny_policy_factory()
    for batch in (refavs_batch, revos_batch):
        torch.manual_seed(0)
        cached_prompt = policy.encode(batch)
        rollouts = policy.generate(cached_prompt, num_generations=3, max_new_tokens=12)
        policy.cache_encoders = False
        plain_prompt = policy.encode(batch)
        policy.cache_encoders = True
        assert plain_prompt.media is None and cached_prompt.media is not None
        torch.testing.assert_close(
            policy.completion_logps(cached_prompt, rollouts[1:5]),
            policy.completion_logps(plain_prompt, rollouts[1:5]),
            rtol=0,
            atol=0,
        )


def test_degenerate_groups_give_zero_advantage_and_no_update(tiny_policy_factory, revos_batch):
    class Constant(HierarchicalReward):
        def __call__(self, completions, sample, **kwargs):
            from omni_r1.rewards.output import RewardOutput

            return RewardOutput(total=torch.full((len(completions),), 0.3), terms={})

    module = GRPOModule(
        tiny_policy_factory(),
        Constant(),
        num_generations=4,
        max_new_tokens=8,
        beta=0.0,
        max_grad_norm=None,
        optimizer=lambda p: torch.optim.SGD(p, lr=1.0),
    )
    _attach(module)
    before = {n: p.detach().clone() for n, p in module.policy.named_parameters()}
    exp = module.make_experience(revos_batch)
    assert torch.equal(exp.advantages, torch.zeros_like(exp.advantages))
    loss, _ = module.update(exp)
    assert torch.isfinite(loss) and loss == 0
    assert all(torch.equal(p, before[n]) for n, p in module.policy.named_parameters())


def test_hierarchical_reward_scores_text_terms(tiny_policy_factory, revos_batch):
    module = GRPOModule(tiny_policy_factory(), HierarchicalReward(weights=TEXT_ONLY), num_generations=2)
    _attach(module)
    from omni_r1.answer.reference import reference_answer
    from omni_r1.models.rollouts import Rollouts

    good = reference_answer(revos_batch[0])
    texts = [good, "no answer", good, "<think>x</think><answer>oops</answer>"]
    ids = torch.ones(4, 3, dtype=torch.long)
    rollouts = Rollouts(torch.tensor([0, 0, 1, 1]), ids, ids, ids, ids, texts)
    rewards, terms = module.score(revos_batch, rollouts)
    assert terms["format"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert rewards[0] > rewards[1] and rewards[2] > rewards[3]


def test_lora_4bit_policy_trains_adapters_and_reference_is_adapter_free(tiny_policy_factory, revos_batch):
    pytest.importorskip("bitsandbytes")
    torch.manual_seed(0)
    policy = tiny_policy_factory(
        quantization=QuantizationConfig(compute_dtype="float32"),
        lora=LoraConfig(r=4, alpha=8, dropout=0.0),
    )
    linear4 = [m for m in policy.model.modules() if type(m).__name__ == "Linear4bit"]
    assert linear4, "base linear layers should be 4-bit"
    module = _module(policy, beta=0.04)
    assert module.reference.frozen is None  # no second copy: adapters are switched off for the reference
    _attach(module)
    trainable = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    # make the adapters non-trivial so policy and reference differ before the step
    with torch.no_grad():
        for n, p in policy.named_parameters():
            if "lora_B" in n:
                p.normal_(0, 0.5)
    exp = module.make_experience(revos_batch)
    assert not torch.equal(exp.ref_logps, module.policy.completion_logps(exp.prompt, exp.rollouts).detach())
    with policy.adapters_disabled():
        plain = policy.completion_logps(exp.prompt, exp.rollouts)
    torch.testing.assert_close(plain, exp.ref_logps)
    snapshot = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    module.update(exp)
    assert any(not torch.equal(p, snapshot[n]) for n, p in policy.named_parameters() if p.requires_grad)


def test_invalid_settings_are_rejected(tiny_policy_factory):
    policy = tiny_policy_factory()
    with pytest.raises(ValueError, match="loss_type"):
        GRPOModule(policy, loss_type="ppo")
    with pytest.raises(ValueError, match="scale_rewards"):
        GRPOModule(policy, scale_rewards="rank")
    with pytest.raises(ValueError, match="num_generations"):
        GRPOModule(policy, num_generations=1)
