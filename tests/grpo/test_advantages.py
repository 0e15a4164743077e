"""Group-relative advantages against hand-computed values, degenerate groups and input validation."""

from __future__ import annotations

import math

import pytest
import torch

from omni_r1.grpo.advantages import group_advantages, group_reward_stats

EPS = 1e-4
# Two prompts of three completions: prompt 0 has mean 2 and unbiased std 1; prompt 1 is constant.
REWARDS = torch.tensor([1.0, 2.0, 3.0, 5.0, 5.0, 5.0], dtype=torch.float64)


def test_group_scale_hand_values() -> None:
    expected = torch.tensor([-1 / (1 + EPS), 0.0, 1 / (1 + EPS), 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(group_advantages(REWARDS, 3), expected)


def test_group_scale_uses_bessel_std() -> None:
    # mean 1, deviations (-1, -1, 2, 0), unbiased variance 6 / 3 = 2 (the biased one would be 1.5).
    rewards = torch.tensor([0.0, 0.0, 3.0, 1.0], dtype=torch.float64)
    expected = torch.tensor([-1.0, -1.0, 2.0, 0.0], dtype=torch.float64) / (math.sqrt(2) + EPS)
    torch.testing.assert_close(group_advantages(rewards, 4, scale="group"), expected)


def test_batch_scale_hand_values() -> None:
    # Batch mean 3.5, squared deviations 6.25 + 2.25 + 0.25 + 3 * 2.25 = 15.5, unbiased variance 15.5 / 5 = 3.1.
    denominator = math.sqrt(3.1) + EPS
    expected = torch.tensor([-1 / denominator, 0.0, 1 / denominator, 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(group_advantages(REWARDS, 3, scale="batch"), expected)


def test_none_scale_only_centers() -> None:
    expected = torch.tensor([-1.0, 0.0, 1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(group_advantages(REWARDS, 3, scale="none"), expected)


def test_custom_eps() -> None:
    expected = torch.tensor([-0.5, 0.0, 0.5, 0.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(group_advantages(REWARDS, 3, eps=1.0), expected)


def test_std_floor_bounds_small_spread_groups_only() -> None:
    # Group 0: mean 0.01, std sqrt(2e-4) ~ 0.0141 < floor 0.1. Group 1: mean 2, std sqrt(2) > floor.
    rewards = torch.tensor([0.0, 0.02, 1.0, 3.0], dtype=torch.float64)
    expected = torch.tensor(
        [-0.01 / (0.1 + EPS), 0.01 / (0.1 + EPS), -1 / (math.sqrt(2) + EPS), 1 / (math.sqrt(2) + EPS)],
        dtype=torch.float64,
    )
    torch.testing.assert_close(group_advantages(rewards, 2, std_floor=0.1), expected)
    unfloored = group_advantages(rewards, 2)
    torch.testing.assert_close(unfloored[0], torch.tensor(-0.01 / (math.sqrt(2e-4) + EPS), dtype=torch.float64))


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
@pytest.mark.parametrize("std_floor", [None, 0.5])
def test_all_equal_groups_are_exactly_zero(scale: str, std_floor: float | None) -> None:
    # 0.1 and 0.7 are not exact in binary; the float32 mean of equal values may differ from them by rounding.
    rewards = torch.tensor([0.1] * 7 + [0.7] * 7, dtype=torch.float32)
    advantages = group_advantages(rewards, 7, scale=scale, std_floor=std_floor)
    assert torch.equal(advantages, torch.zeros(14))


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_group_size_one_is_zero_not_nan(scale: str) -> None:
    advantages = group_advantages(torch.tensor([0.3, 0.7, 1.0]), 1, scale=scale)
    assert torch.equal(advantages, torch.zeros(3))


def test_single_reward_batch_scale_is_zero() -> None:
    assert torch.equal(group_advantages(torch.tensor([2.5]), 1, scale="batch"), torch.zeros(1))


def test_integer_rewards_are_promoted() -> None:
    # Group 0: mean 0.5, unbiased std sqrt(0.5); group 1 constant.
    advantages = group_advantages(torch.tensor([0, 1, 1, 1]), 2)
    assert advantages.dtype == torch.get_default_dtype()
    expected = torch.tensor([-0.5, 0.5, 0.0, 0.0]) / (math.sqrt(0.5) + EPS)
    expected[2:] = 0.0
    torch.testing.assert_close(advantages, expected)


def test_advantages_are_detached() -> None:
    rewards = REWARDS.clone().requires_grad_(True)
    assert not group_advantages(rewards, 3).requires_grad


@pytest.mark.parametrize(
    ("rewards", "group_size", "scale", "match"),
    [
        (torch.ones(2, 3), 3, "group", "1-D"),
        (torch.ones(5), 2, "group", "multiple of group_size"),
        (torch.ones(0), 2, "group", "multiple of group_size"),
        (torch.tensor([1.0, float("nan")]), 2, "group", "finite.*\\[1\\]"),
        (torch.tensor([float("inf"), 1.0]), 2, "group", "finite.*\\[0\\]"),
        (torch.ones(4), 2, "global", "scale"),
        (torch.ones(4), 0, "group", "group_size"),
    ],
)
def test_bad_input_raises(rewards: torch.Tensor, group_size: int, scale: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        group_advantages(rewards, group_size, scale=scale)


def test_negative_floor_or_eps_raises() -> None:
    with pytest.raises(ValueError, match="std_floor"):
        group_advantages(REWARDS, 3, std_floor=-1.0)
    with pytest.raises(ValueError, match="eps"):
        group_advantages(REWARDS, 3, eps=-1.0)


def test_reward_stats_hand_values() -> None:
    stats = group_reward_stats(REWARDS, 3)
    assert stats["frac_reward_zero_std"].item() == 0.5
    assert stats["reward_std"].item() == pytest.approx(0.5)  # (1 + 0) / 2
    assert stats["reward_mean"].item() == pytest.approx(3.5)


def test_reward_stats_degenerate_groups() -> None:
    stats = group_reward_stats(torch.tensor([0.1] * 7 + [0.2, 0.3] * 3 + [0.2]), 7)
    assert stats["frac_reward_zero_std"].item() == 0.5
    single = group_reward_stats(torch.tensor([0.3, 0.7]), 1)
    assert single["frac_reward_zero_std"].item() == 1.0
    assert single["reward_std"].item() == 0.0
    with pytest.raises(ValueError, match="multiple of group_size"):
        group_reward_stats(torch.ones(3), 2)


def _trl_style_advantages(rewards: torch.Tensor, num_generations: int, scale: str) -> torch.Tensor:
    """TRL's published GRPO advantage (``GRPOTrainer._generate_and_score_completions``), re-derived with nan-ops."""
    mean = torch.nanmean(rewards.view(-1, num_generations), dim=1).repeat_interleave(num_generations)

    def nanstd(tensor: torch.Tensor, dim: int | None = None) -> torch.Tensor:
        centre = torch.nanmean(tensor, dim=dim, keepdim=True)
        variance = torch.nanmean((tensor - centre) ** 2, dim=dim, keepdim=True)
        count = torch.sum(~torch.isnan(tensor), dim=dim, keepdim=True)
        return torch.sqrt(variance * count / (count - 1))

    if scale == "group":
        std = nanstd(rewards.view(-1, num_generations), dim=1).flatten().repeat_interleave(num_generations)
    else:
        std = nanstd(rewards).expand_as(rewards)
    return (rewards - mean) if scale == "none" else (rewards - mean) / (std + 1e-4)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_matches_trl_formula_on_random_rewards(scale: str) -> None:
    rewards = torch.rand(4 * 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    torch.testing.assert_close(group_advantages(rewards, 8, scale=scale), _trl_style_advantages(rewards, 8, scale))
