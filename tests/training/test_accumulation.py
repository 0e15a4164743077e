"""``accumulate_batches``: one optimizer step over several generation batches equals one step on their union.

The experiences are fixed (as in ``test_ddp.py``, whose builders this file loads): one two-prompt batch with long
completions for prompt 0 and short ones for prompt 1, so a per-batch normalisation (a mean of two means) would
differ from the exact one for the token-level losses.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lightning as L
import pytest
import torch

from omni_r1.training.grpo_module import GRPOModule

_spec = importlib.util.spec_from_file_location("ddp_helpers", Path(__file__).with_name("test_ddp.py"))
ddp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ddp)


def _module(**kwargs) -> GRPOModule:
    module = GRPOModule(
        ddp._policy(), optimizer=lambda params: torch.optim.SGD(params, lr=ddp.LR), **{**ddp.MODULE_KWARGS, **kwargs}
    )
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return module


def _trainable(module: GRPOModule) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.policy.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_two_accumulated_batches_equal_one_batch_of_both(revos_batch, loss_type: str) -> None:
    exp = ddp.build_experience(revos_batch[:2])
    torch.manual_seed(0)
    whole = _module(loss_type=loss_type)
    whole.update(exp)
    torch.manual_seed(0)
    split = _module(loss_type=loss_type, accumulate_batches=2)
    split.update([ddp.prompt_share(exp, [0]), ddp.prompt_share(exp, [1])])
    expected, got = _trainable(whole), _trainable(split)
    initial = _trainable(_module())
    assert max(float((expected[k] - initial[k]).abs().max()) for k in expected) > 1e-3  # the step moved the policy
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=ddp.ATOL, msg=name)

    # the naive alternative, one optimizer step per batch at half the rate, is a different update
    naive = _module(loss_type=loss_type)
    for group in naive.optimizers().param_groups:
        group["lr"] = ddp.LR / 2
    naive.update(ddp.prompt_share(exp, [0]))
    naive.update(ddp.prompt_share(exp, [1]))
    assert max(float((_trainable(naive)[k] - expected[k]).abs().max()) for k in expected) > 1e3 * ddp.ATOL


def test_training_step_steps_the_optimizer_once_per_window(revos_batch, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _module(accumulate_batches=2, num_iterations=1)
    exp = ddp.prompt_share(ddp.build_experience(revos_batch[:2]), [0])
    monkeypatch.setattr(module, "make_experience", lambda batch: exp)
    logged: list[bool] = []
    monkeypatch.setattr(module, "_log_step", lambda e, metrics, loss: logged.append(loss is not None))
    steps = []
    original = module.update
    monkeypatch.setattr(module, "update", lambda exps: steps.append(len(exps)) or original(exps))
    assert module.training_step([None], 0) is None and steps == []
    assert module.training_step([None], 1) is not None and steps == [2]
    assert logged == [False, True] and module._pending == []
