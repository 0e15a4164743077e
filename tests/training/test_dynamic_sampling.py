"""DAPO dynamic sampling: zero-spread groups (the ``frac_reward_zero_std`` test) are dropped, the next batches of the
loader refill the update until it holds a batch's worth of groups or the draw cap is hit, and the update sees only
the kept groups. Tiny text policy; the reward is constant for prompts marked ``flat`` and spread otherwise."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import Logger
from torch.utils.data import DataLoader

from omni_r1.grpo.advantages import group_advantages
from omni_r1.models.text_policy import TextPolicy, TextSample
from omni_r1.rewards.output import RewardOutput
from omni_r1.training.grpo_module import GRPOModule

G = 2


def flat_or_spread(completions, sample, **_):
    if sample.answer == "flat":
        return RewardOutput(total=torch.full((len(completions),), 0.5), terms={})
    return RewardOutput(total=torch.arange(len(completions), dtype=torch.float32), terms={})


def flat(i: int) -> TextSample:
    return TextSample(f"flat prompt {i}", answer="flat", sample_id=f"flat{i}")


def spread(i: int) -> TextSample:
    return TextSample(f"spread prompt {i}", answer="spread", sample_id=f"spread{i}")


@pytest.fixture(scope="module")
def policy() -> TextPolicy:
    return TextPolicy("tiny://qwen2")


def _module(policy: TextPolicy, **kwargs) -> GRPOModule:
    kwargs = {"num_generations": G, "max_new_tokens": 4, "beta": 0.0, "dynamic_sampling": True, **kwargs}
    module = GRPOModule(policy, flat_or_spread, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), **kwargs)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return module


def _run(module: GRPOModule, batches: list[list[TextSample]], monkeypatch: pytest.MonkeyPatch):
    """Feed ``batches`` to ``training_step``; record what each update received and what each step logged."""
    updates, logged, experiences = [], [], []
    original = module.update
    monkeypatch.setattr(module, "update", lambda exps: updates.append(list(exps)) or original(exps))
    monkeypatch.setattr(module, "_log_step", lambda exp, metrics, loss: logged.append((dict(metrics), loss)))
    returns = []
    for i, batch in enumerate(batches):
        returns.append(module.training_step(batch, i))
        experiences.append(module.last_experience)
    return updates, logged, experiences, returns


def _rows(exp, group: int) -> slice:
    return slice(group * G, (group + 1) * G)


def _stats(metrics: dict) -> dict[str, float]:
    return {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith("dynamic_sampling/")}


def test_zero_spread_groups_are_refilled_from_the_next_batch(policy, monkeypatch) -> None:
    torch.manual_seed(0)
    module = _module(policy, dynamic_sampling_max_draws=3)
    updates, logged, exps, returns = _run(module, [[flat(0), spread(0)], [spread(1), flat(1)]], monkeypatch)
    assert returns[0] is None and returns[1] is not None and len(updates) == 1
    (pieces,) = updates
    # exactly the spread groups, in draw order: batch 0's group 1, then batch 1's group 0
    for piece, (exp, group) in zip(pieces, [(exps[0], 1), (exps[1], 0)], strict=True):
        assert torch.equal(piece.rollouts.completion_ids, exp.rollouts.completion_ids[_rows(exp, group)])
        assert torch.equal(piece.rewards, exp.rewards[_rows(exp, group)])
        assert piece.rollouts.texts == exp.rollouts.texts[_rows(exp, group)]
        prompt = piece.prompt.inputs["input_ids"][piece.rollouts.prompt_index[0]]
        assert "spread prompt" in policy.tokenizer.decode(prompt)
        torch.testing.assert_close(piece.advantages, group_advantages(piece.rewards, G))
        assert bool((piece.advantages != 0).all())
    assert logged[0][1] is None and _stats(logged[0][0]) == {}
    assert _stats(logged[1][0]) == {
        "draws": 2.0,
        "kept_groups": 2.0,
        "dropped_groups": 2.0,
        "surplus_groups": 0.0,
        "skipped_update": 0.0,
    }
    assert module.sampler.draws == 0 and module.sampler.kept == []  # the next window starts empty


def test_a_full_batch_updates_at_once_and_surplus_groups_are_discarded(policy, monkeypatch) -> None:
    torch.manual_seed(0)
    module = _module(policy)
    batches = [[spread(0), spread(1)], [flat(0), spread(2)], [spread(3), spread(4)]]
    updates, logged, exps, returns = _run(module, batches, monkeypatch)
    assert [r is not None for r in returns] == [True, False, True]
    assert [sum(len(p.rollouts) for p in u) // G for u in updates] == [2, 2]
    assert _stats(logged[0][0])["draws"] == 1.0
    # second window: batch 1 keeps 1 group, batch 2 brings 2 more: the first of them completes the update
    first, second = updates[1]
    assert torch.equal(first.rollouts.completion_ids, exps[1].rollouts.completion_ids[_rows(exps[1], 1)])
    assert torch.equal(second.rollouts.completion_ids, exps[2].rollouts.completion_ids[_rows(exps[2], 0)])
    assert _stats(logged[2][0]) == {
        "draws": 2.0,
        "kept_groups": 2.0,
        "dropped_groups": 1.0,
        "surplus_groups": 1.0,
        "skipped_update": 0.0,
    }


def test_the_cap_updates_on_what_was_kept_or_skips(policy, monkeypatch) -> None:
    torch.manual_seed(0)
    module = _module(policy, dynamic_sampling_max_draws=1)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    updates, logged, _, returns = _run(module, [[flat(0), flat(1)], [flat(2), flat(3)]], monkeypatch)
    # window 1: 1 + 1 draws, nothing kept: no update, no optimizer step, the weights untouched
    assert returns == [None, None] and updates == []
    assert _stats(logged[1][0]) == {
        "draws": 2.0,
        "kept_groups": 0.0,
        "dropped_groups": 4.0,
        "surplus_groups": 0.0,
        "skipped_update": 1.0,
    }
    assert all(torch.equal(p, before[n]) for n, p in policy.named_parameters())
    # window 2: the cap is hit with one group kept: the update takes it
    updates, logged, _, returns = _run(module, [[flat(4), spread(0)], [flat(5), flat(6)]], monkeypatch)
    assert returns[0] is None and returns[1] is not None
    assert len(updates) == 1 and len(updates[0]) == 1 and len(updates[0][0].rollouts) == G
    assert updates[0][0].rewards.tolist() == [0.0, 1.0]
    assert _stats(logged[1][0])["kept_groups"] == 1.0 and _stats(logged[1][0])["draws"] == 2.0
    assert any(not torch.equal(p, before[n]) for n, p in policy.named_parameters())


def test_accumulated_windows_and_mu_keep_their_rows(policy, monkeypatch) -> None:
    torch.manual_seed(0)
    module = _module(policy, accumulate_batches=2, num_iterations=2)
    batches = [[flat(0), spread(0)], [spread(1), spread(2)], [spread(3), flat(1)]]
    updates, logged, exps, returns = _run(module, batches, monkeypatch)
    # target: the 4 prompts of the first 2 batches; 3 kept after them, the third batch completes the window
    assert [r is not None for r in returns] == [False, False, True]
    (pieces,) = updates
    assert sum(len(p.rollouts) for p in pieces) == 4 * G
    last = pieces[-1]
    assert torch.equal(last.old_logps, exps[2].old_logps[_rows(exps[2], 0)])  # μ > 1: sampling-time log-probs
    assert _stats(logged[2][0])["draws"] == 3.0 and _stats(logged[2][0])["dropped_groups"] == 2.0


class Recorder(Logger):
    """Keeps every logged metric (the fit test reads what Lightning actually logged)."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[dict[str, float]] = []

    name = "recorder"
    version = "0"

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.append(dict(metrics))

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def _fit_module(policy: TextPolicy, **kwargs) -> GRPOModule:
    """A dynamic-sampling module for a real ``trainer.fit``."""
    kwargs = {"num_generations": G, "max_new_tokens": 4, "beta": 0.0, "dynamic_sampling": True, **kwargs}
    return GRPOModule(policy, flat_or_spread, optimizer=lambda p: torch.optim.SGD(p, lr=0.1), **kwargs)


def test_a_fit_logs_the_dynamic_sampling_keys(policy) -> None:
    torch.manual_seed(0)
    module = _fit_module(policy)
    data = [flat(0), spread(0), spread(1), flat(1), spread(2), spread(3)]
    logger = Recorder()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2,
        logger=logger,
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader(data, batch_size=2, collate_fn=list))
    assert trainer.global_step == 2
    keys = set().union(*logger.metrics)
    expected = {"draws", "kept_groups", "dropped_groups", "surplus_groups", "skipped_update"}
    assert {f"train/dynamic_sampling/{k}" for k in expected} <= keys
    assert {"train/entropy", "train/distinct_completions", "train/frac_groups_one_answer"} <= keys


def test_a_run_whose_groups_never_spread_still_ends_at_max_steps_untouched(policy) -> None:
    torch.manual_seed(0)
    module = _fit_module(policy, dynamic_sampling_max_draws=1)
    before = {n: p.detach().clone() for n, p in policy.named_parameters()}
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=2,
        max_epochs=None,  # as the recipes: only max_steps ends the run
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, DataLoader([flat(i) for i in range(8)], batch_size=2, collate_fn=list))
    assert trainer.global_step == 2  # each window of 2 batches closed on nothing, and counted as a step
    assert trainer.fit_loop.total_batch_idx + 1 == 4
    assert all(torch.equal(p, before[n]) for n, p in policy.named_parameters())
