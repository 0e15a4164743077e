"""GRPO policy loss: hand-computed values and gradients for every aggregation, clipping, k3 and validation."""

from __future__ import annotations

import math

import pytest
import torch

from omni_r1.grpo.loss import k3_divergence, policy_loss

# Two sequences of three tokens; the last token of row 0 is padding. 5 trained tokens in all.
MASK = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
LOGPS = [[-1.0, -0.5, -2.0], [-0.3, -1.2, -0.7]]


def _logps(values: list[list[float]] = LOGPS) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


# On-policy, advantages (0.5, -2): every trained token has loss -A and d/dlogp = -A times its aggregation weight.
# Row sums: -1 and 6; row means: -0.5 and 2.
ON_POLICY_ADV = torch.tensor([0.5, -2.0], dtype=torch.float64)
ON_POLICY_CASES = {
    # loss_type: (loss, grad row 0, grad row 1)
    "grpo": (0.75, [-0.125, -0.125, 0.0], [1 / 3, 1 / 3, 1 / 3]),  # weight 1 / (n_tokens * B)
    "bnpo": (1.0, [-0.1, -0.1, 0.0], [0.4, 0.4, 0.4]),  # weight 1 / 5
    "dapo": (1.0, [-0.1, -0.1, 0.0], [0.4, 0.4, 0.4]),
    "dr_grpo": (0.625, [-0.0625, -0.0625, 0.0], [0.25, 0.25, 0.25]),  # weight 1 / (B * 4)
}


@pytest.mark.parametrize("loss_type", list(ON_POLICY_CASES))
def test_on_policy_values_and_gradients(loss_type: str) -> None:
    expected_loss, grad0, grad1 = ON_POLICY_CASES[loss_type]
    logps = _logps()
    loss, metrics = policy_loss(logps, None, None, ON_POLICY_ADV, MASK, loss_type=loss_type, max_completion_length=4)
    assert loss.item() == pytest.approx(expected_loss)
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([grad0, grad1], dtype=torch.float64))
    assert metrics["kl"].item() == 0.0
    assert metrics["clip_ratio/region_mean"].item() == 0.0


# Off-policy: logps = 0, old = -log(ρ). A = (+1, -1). Mask: row 1's last token is padding.
#   row 0 (A=+1), ρ = 1.5: clipped to 1.2 -> loss -1.2, grad 0 (high clip)
#                 ρ = 0.5: min(0.5, 0.8) = 0.5 -> loss -0.5, d/dlogp = -ρA = -0.5
#                 ρ = 1.1: inside the range -> loss -1.1, d/dlogp = -1.1
#   row 1 (A=-1), ρ = 0.5: min(-0.5, -0.8) = -0.8 -> loss 0.8, grad 0 (low clip)
#                 ρ = 1.5: min(-1.5, -1.2) = -1.5 -> loss 1.5, d/dlogp = -ρA = 1.5
# Row sums -2.8 and 2.3, row means -2.8/3 and 1.15, 5 tokens.
CLIP_RATIOS = [[1.5, 0.5, 1.1], [0.5, 1.5, 1.0]]
CLIP_MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
CLIP_ADV = torch.tensor([1.0, -1.0], dtype=torch.float64)
CLIP_CASES = {
    "grpo": ((-2.8 / 3 + 1.15) / 2, [0.0, -0.5 / 6, -1.1 / 6], [0.0, 1.5 / 4, 0.0]),
    "bnpo": (-0.5 / 5, [0.0, -0.1, -0.22], [0.0, 0.3, 0.0]),
    "dapo": (-0.5 / 5, [0.0, -0.1, -0.22], [0.0, 0.3, 0.0]),
    "dr_grpo": (-0.5 / 6, [0.0, -0.5 / 6, -1.1 / 6], [0.0, 0.25, 0.0]),
}


@pytest.mark.parametrize("loss_type", list(CLIP_CASES))
def test_clipped_values_gradients_and_fractions(loss_type: str) -> None:
    expected_loss, grad0, grad1 = CLIP_CASES[loss_type]
    logps = _logps([[0.0] * 3] * 2)
    old = -torch.tensor(CLIP_RATIOS, dtype=torch.float64).log()
    loss, metrics = policy_loss(logps, old, None, CLIP_ADV, CLIP_MASK, loss_type=loss_type, max_completion_length=3)
    assert loss.item() == pytest.approx(expected_loss)
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([grad0, grad1], dtype=torch.float64))
    assert metrics["clip_ratio/low_mean"].item() == pytest.approx(0.2)
    assert metrics["clip_ratio/high_mean"].item() == pytest.approx(0.2)
    assert metrics["clip_ratio/region_mean"].item() == pytest.approx(0.4)


def test_asymmetric_clip_range() -> None:
    # ε_high = 0.6 lets ρ = 1.5 through for A = +1: loss -1.5 with gradient -1.5 (bnpo over 1 token).
    logps = _logps([[0.0]])
    old = torch.tensor([[-math.log(1.5)]], dtype=torch.float64)
    loss, metrics = policy_loss(
        logps, old, None, torch.tensor([1.0]), torch.ones(1, 1), loss_type="bnpo", epsilon_high=0.6
    )
    loss.backward()
    assert loss.item() == pytest.approx(-1.5)
    assert logps.grad.item() == pytest.approx(-1.5)
    assert metrics["clip_ratio/high_mean"].item() == 0.0


def test_k3_hand_values_and_properties() -> None:
    ln2 = math.log(2)
    logps = torch.zeros(1, 3)
    ref = torch.tensor([[ln2, -ln2, 0.0]])
    torch.testing.assert_close(k3_divergence(logps, ref), torch.tensor([[1 - ln2, ln2 - 0.5, 0.0]]))
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 32, generator=generator) * 3, torch.randn(64, 32, generator=generator) * 3
    assert (k3_divergence(a, b) >= 0).all()
    assert torch.equal(k3_divergence(a, a), torch.zeros_like(a))


def test_kl_penalty_value_gradient_and_metric() -> None:
    # d = ref - logp = [[ln2, -ln2, 5 (padding)], [0, ln2, 0]] with logp = 0 and A = 0 (no policy term).
    # k3 = [[1 - ln2, ln2 - 0.5, -], [0, 1 - ln2, 0]], sum 1.5 - ln2 over 5 tokens.
    # d k3 / d logp = 1 - exp(d) = [[-1, 0.5, -], [0, -1, 0]]; bnpo weight beta / 5 = 0.02.
    ln2 = math.log(2)
    logps = _logps([[0.0] * 3] * 2)
    ref = torch.tensor([[ln2, -ln2, 5.0], [0.0, ln2, 0.0]], dtype=torch.float64)
    advantages = torch.zeros(2, dtype=torch.float64)
    loss, metrics = policy_loss(logps, None, ref, advantages, MASK, loss_type="bnpo", beta=0.1)
    assert loss.item() == pytest.approx(0.1 * (1.5 - ln2) / 5)
    assert metrics["kl"].item() == pytest.approx((1.5 - ln2) / 5)
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([[-0.02, 0.01, 0.0], [0.0, -0.02, 0.0]], dtype=torch.float64))


def test_kl_is_reported_but_not_trained_when_beta_is_zero() -> None:
    logps = _logps()
    ref = torch.tensor(LOGPS, dtype=torch.float64) + math.log(2)  # k3 = 1 - ln2 on every token
    loss, metrics = policy_loss(logps, None, ref, ON_POLICY_ADV, MASK, loss_type="bnpo")
    assert loss.item() == pytest.approx(1.0)
    assert metrics["kl"].item() == pytest.approx(1 - math.log(2))
    zero_kl = policy_loss(logps, None, logps.detach(), ON_POLICY_ADV, MASK, loss_type="bnpo", beta=0.5)[1]["kl"]
    assert zero_kl.item() == 0.0


def test_grpo_empty_row_counts_as_a_zero_sequence() -> None:
    mask = torch.tensor([[1, 1, 1], [0, 0, 0]])
    logps = _logps()
    loss, _ = policy_loss(logps, None, None, torch.tensor([1.0, 5.0]), mask, loss_type="grpo")
    assert loss.item() == pytest.approx(-0.5)  # (-1 + 0) / 2
    loss.backward()
    torch.testing.assert_close(logps.grad, torch.tensor([[-1 / 6] * 3, [0.0] * 3], dtype=torch.float64))


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_fully_masked_batch_is_zero_not_nan(loss_type: str) -> None:
    logps = _logps()
    loss, metrics = policy_loss(
        logps, None, None, ON_POLICY_ADV, torch.zeros(2, 3), loss_type=loss_type, max_completion_length=3
    )
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logps.grad, torch.zeros(2, 3, dtype=torch.float64))
    assert all(value.item() == 0.0 for value in metrics.values())


def test_non_finite_padding_does_not_leak() -> None:
    logps = torch.tensor([[-1.0, -math.inf], [-0.5, -0.5]], requires_grad=True)
    ref = torch.tensor([[-1.0, -math.inf], [-0.5, -0.5]])
    old = torch.tensor([[-1.0, math.nan], [-0.5, -0.5]])
    mask = torch.tensor([[1, 0], [1, 1]])
    loss, metrics = policy_loss(logps, old, ref, torch.tensor([1.0, 1.0]), mask, loss_type="bnpo", beta=0.04)
    loss.backward()
    assert loss.item() == pytest.approx(-1.0)
    assert torch.isfinite(logps.grad).all() and logps.grad[0, 1] == 0.0
    assert all(torch.isfinite(value) for value in metrics.values())


def test_bool_and_float_masks_agree() -> None:
    as_bool = policy_loss(_logps(), None, None, ON_POLICY_ADV, MASK, loss_type="grpo")[0]
    as_float = policy_loss(_logps(), None, None, ON_POLICY_ADV, MASK.float(), loss_type="grpo")[0]
    assert as_bool.item() == as_float.item()


def test_num_items_in_batch_hand_values() -> None:
    adv, mask = ON_POLICY_ADV, MASK
    # Token sum 5, sum of row means 1.5.
    assert policy_loss(_logps(), None, None, adv, mask, loss_type="bnpo", num_items_in_batch=10)[0].item() == 0.5
    assert policy_loss(_logps(), None, None, adv, mask, loss_type="dapo", num_items_in_batch=10)[0].item() == 0.5
    grpo = policy_loss(_logps(), None, None, adv, mask, loss_type="grpo", num_items_in_batch=4)[0]
    assert grpo.item() == pytest.approx(0.375)
    dr = policy_loss(
        _logps(), None, None, adv, mask, loss_type="dr_grpo", max_completion_length=4, num_items_in_batch=4
    )
    assert dr[0].item() == pytest.approx(5 / 16)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_micro_batches_with_num_items_sum_to_full_batch(loss_type: str) -> None:
    generator = torch.Generator().manual_seed(1)
    logps_full = (-torch.rand(4, 5, generator=generator, dtype=torch.float64) * 2).requires_grad_(True)
    old = logps_full.detach() + 0.3 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    ref = logps_full.detach() + 0.3 * torch.randn(4, 5, generator=generator, dtype=torch.float64)
    advantages = torch.randn(4, generator=generator, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 0, 0]])  # 5 + 2 + 1 + 3 tokens
    kwargs = {"loss_type": loss_type, "beta": 0.04, "max_completion_length": 6}
    full, _ = policy_loss(logps_full, old, ref, advantages, mask, **kwargs)
    (full_grad,) = torch.autograd.grad(full, logps_full)

    total = float(mask.sum()) if loss_type in ("bnpo", "dapo") else 4.0
    accumulated = sum(
        policy_loss(
            logps_full[rows], old[rows], ref[rows], advantages[rows], mask[rows], num_items_in_batch=total, **kwargs
        )[0]
        for rows in (slice(0, 2), slice(2, 4))
    )
    torch.testing.assert_close(accumulated, full)
    (accumulated_grad,) = torch.autograd.grad(accumulated, logps_full)
    torch.testing.assert_close(accumulated_grad, full_grad)
    if loss_type in ("bnpo", "dapo"):  # local token counts (7 and 4 tokens) do not add up to the full batch
        local = sum(
            policy_loss(logps_full[r], old[r], ref[r], advantages[r], mask[r], **kwargs)[0]
            for r in (slice(0, 2), slice(2, 4))
        )
        assert not torch.allclose(local, full)


def _trl_reference_loss(
    logps: torch.Tensor,
    old: torch.Tensor,
    ref: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    beta: float,
    eps_low: float,
    eps_high: float,
    max_len: int,
) -> torch.Tensor:
    """TRL's published token-level GRPO loss (``GRPOTrainer._compute_loss``, single process, no accumulation)."""
    coef_1 = torch.exp(logps - old)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    per_token = -torch.min(coef_1 * advantages.unsqueeze(1), coef_2 * advantages.unsqueeze(1))
    per_token = per_token + beta * (torch.exp(ref - logps) - (ref - logps) - 1)
    if loss_type == "grpo":
        return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "dr_grpo":
        return (per_token * mask).sum() / (per_token.size(0) * max_len)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dapo", "dr_grpo"])
def test_matches_trl_formulas_on_random_inputs(loss_type: str) -> None:
    generator = torch.Generator().manual_seed(2)
    logps = -torch.rand(6, 7, generator=generator, dtype=torch.float64) * 3
    old = logps + 0.4 * torch.randn(6, 7, generator=generator, dtype=torch.float64)
    ref = logps + 0.4 * torch.randn(6, 7, generator=generator, dtype=torch.float64)
    advantages = torch.randn(6, generator=generator, dtype=torch.float64)
    mask = (torch.rand(6, 7, generator=generator) > 0.3).double()
    mask[0] = 0.0
    ours, _ = policy_loss(
        logps,
        old,
        ref,
        advantages,
        mask,
        loss_type=loss_type,
        epsilon_low=0.2,
        epsilon_high=0.28,
        beta=0.04,
        max_completion_length=9,
    )
    reference = _trl_reference_loss(logps, old, ref, advantages, mask, loss_type, 0.04, 0.2, 0.28, 9)
    torch.testing.assert_close(ours, reference)


def test_metrics_are_detached_scalars() -> None:
    logps = _logps()
    old = logps.detach() - 0.5
    _, metrics = policy_loss(logps, old, logps.detach(), ON_POLICY_ADV, MASK, loss_type="grpo", beta=0.1)
    assert set(metrics) >= {"kl", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"}
    assert all(value.ndim == 0 and not value.requires_grad for value in metrics.values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_type": "ppo"}, "loss_type"),
        ({"loss_type": "dr_grpo"}, "max_completion_length"),
        ({"loss_type": "grpo", "beta": 0.04}, "ref_logps"),
        ({"loss_type": "grpo", "beta": -0.1}, "beta"),
        ({"loss_type": "grpo", "epsilon_low": -0.1}, "epsilon_low"),
        ({"loss_type": "bnpo", "num_items_in_batch": 0}, "num_items_in_batch"),
        ({"loss_type": "dr_grpo", "max_completion_length": 0}, "max_completion_length"),
    ],
)
def test_bad_options_raise(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        policy_loss(_logps(), None, None, ON_POLICY_ADV, MASK, **kwargs)


@pytest.mark.parametrize(
    ("old", "ref", "advantages", "mask", "match"),
    [
        (torch.zeros(2, 4), None, ON_POLICY_ADV, MASK, r"old_logps .*\(2, 3\).*\(2, 4\)"),
        (None, torch.zeros(3, 3), ON_POLICY_ADV, MASK, r"ref_logps .*\(3, 3\)"),
        (None, None, ON_POLICY_ADV.unsqueeze(1), MASK, r"advantages .*\(2,\).*\(2, 1\)"),
        (None, None, ON_POLICY_ADV, MASK[:, :2], r"mask .*\(2, 2\)"),
    ],
)
def test_shape_mismatch_raises(
    old: torch.Tensor | None,
    ref: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    match: str,
) -> None:
    with pytest.raises(ValueError, match=match):
        policy_loss(_logps(), old, ref, advantages, mask, loss_type="grpo")


def test_one_dimensional_logps_raise() -> None:
    with pytest.raises(ValueError, match="logps must be 2-D"):
        policy_loss(torch.zeros(3), None, None, torch.zeros(3), torch.ones(3), loss_type="grpo")


def test_num_items_in_batch_accepts_a_tensor() -> None:
    # A training module typically gets the global count from an all-reduce, i.e. as a 0-dim tensor.
    loss, _ = policy_loss(
        _logps(), None, None, ON_POLICY_ADV, MASK, loss_type="bnpo", num_items_in_batch=torch.tensor(10.0)
    )
    assert loss.item() == 0.5
