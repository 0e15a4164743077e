"""Per-task sampling temperatures (``task_temperatures``, the authors' RefAVS ``AVS_TEMPERATURE``): every completion
is sampled and scored (old, reference and update log-probs) at its own prompt's temperature, in a mixed batch too."""

from __future__ import annotations

import lightning as L
import pytest
import torch

from omni_r1.models.decoding import divide_by_temperature, sample_next_token
from omni_r1.models.text_policy import TextPolicy
from omni_r1.rewards import HierarchicalReward, RewardWeights
from omni_r1.training.grpo_module import GRPOModule
from omni_r1.validation import ConfigError

G = 2
TEXT_ONLY = RewardWeights(box=0.0, mask=0.0, refavs=0.0, refcocog=0.0)


def _attach(module: GRPOModule) -> L.Trainer:
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return trainer


def test_each_row_samples_at_its_own_temperature() -> None:
    torch.manual_seed(0)
    logits = torch.randn(1, 50).repeat(2, 1)  # two identical rows
    temperature = torch.tensor([1e-4, 1e3])  # near-greedy and near-uniform
    draws = torch.stack([sample_next_token(logits, temperature=temperature) for _ in range(200)])
    assert bool((draws[:, 0] == logits[0].argmax()).all())
    assert draws[:, 1].unique().numel() > 20
    scaled = divide_by_temperature(torch.ones(2, 3, 4), torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(scaled[:, 0, 0], torch.tensor([0.5, 0.25]))


def test_a_mixed_batch_is_scored_at_the_sampling_temperatures(revos_batch, refavs_batch) -> None:
    # The text policy reads a VideoSample's expression, so one batch can hold a vos and an avs prompt (the Omni
    # Global system encodes one task family per batch: a ReVOS clip and a RefAVS image + audio do not mix).
    torch.manual_seed(0)
    policy = TextPolicy("tiny://qwen2")
    module = GRPOModule(
        policy,
        HierarchicalReward(TEXT_ONLY),
        task_temperatures={"avs": 0.45},
        num_generations=G,
        max_new_tokens=8,
        beta=0.04,
        num_iterations=2,
        micro_batch_size=3,  # a micro-batch that straddles the vos and avs rows
        optimizer=lambda p: torch.optim.AdamW(p, lr=1e-2),
    )
    _attach(module)
    batch = [revos_batch[0], refavs_batch[0]]  # vos then avs
    exp = module.make_experience(batch)
    torch.testing.assert_close(exp.temperature, torch.tensor([1.0, 1.0, 0.45, 0.45]))
    for rows, temperature in ((slice(0, 2), 1.0), (slice(2, 4), 0.45)):
        expected = policy.completion_logps(exp.prompt, exp.rollouts[rows], temperature=temperature)
        torch.testing.assert_close(exp.old_logps[rows], expected)
        torch.testing.assert_close(exp.ref_logps[rows], expected)  # nothing trained yet: reference == policy
    at_one = policy.completion_logps(exp.prompt, exp.rollouts[2:4], temperature=1.0)
    assert not torch.allclose(exp.old_logps[2:4], at_one)  # the avs rows are not scored at 1
    # The update scores each micro-batch row at its own temperature too: with the policy's log-probs recorded
    # per call, the first micro-batch (rows 0-2: vos, vos, avs) matches the old log-probs exactly.
    seen = []
    original = policy.completion_logps

    def recording(prompt, rollouts, **kwargs):
        seen.append(kwargs["temperature"])
        return original(prompt, rollouts, **kwargs)

    policy.completion_logps = recording
    loss, _ = module.update(exp)
    assert torch.isfinite(loss)
    torch.testing.assert_close(seen[0], torch.tensor([1.0, 1.0, 0.45]))
    torch.testing.assert_close(seen[1], torch.tensor([0.45]))


def test_one_task_batches_keep_a_plain_temperature(tiny_policy_factory, refavs_batch) -> None:
    module = GRPOModule(tiny_policy_factory(), task_temperatures={"avs": 0.45}, num_generations=G, beta=0.0)
    assert module.row_temperatures(refavs_batch) == 0.45
    assert GRPOModule(tiny_policy_factory(), num_generations=G, beta=0.0).row_temperatures(refavs_batch) == 1.0


@pytest.mark.parametrize(("value", "message"), [({"audio": 0.5}, "task_temperatures"), ({"avs": 0.0}, "avs")])
def test_bad_task_temperatures(tiny_policy_factory, value, message) -> None:
    with pytest.raises(ConfigError, match=message):
        GRPOModule.validate_init_args({**_defaults(), "task_temperatures": value})


def _defaults() -> dict:
    import inspect

    return {
        name: p.default
        for name, p in inspect.signature(GRPOModule.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
