"""Format reward: hand cases, equality with the reference regex, and linear time on adversarial text."""

from __future__ import annotations

import re
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1.rewards import format_reward, format_reward_batch, matches_think_answer
from omni_r1.rewards.format import FORMAT_PATTERN


def reference(text: str) -> bool:
    return re.fullmatch(FORMAT_PATTERN, text, re.DOTALL) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>a</think><answer>b</answer>", 1.0),
        ("<think></think><answer></answer>", 1.0),
        ("<think>a\nb</think> \n\t<answer>c\nd</answer>", 1.0),
        ("<think>a</think>x<answer>b</answer>", 0.0),
        (" <think>a</think><answer>b</answer>", 0.0),  # leading whitespace is not allowed
        ("<think>a</think><answer>b</answer>\n", 0.0),  # nor trailing
        ("<answer>b</answer>", 0.0),
        ("<think>a</think>", 0.0),
        ("<think>a</think><answer>b", 0.0),
        ("<think>a</think><answer>", 0.0),
        ("<think>a</think><answer></answer>tail</answer>", 1.0),  # .*? may span a closing tag
        ("<think>x</think>y</think><answer>b</answer>", 1.0),
        ("<think></think><answer>", 0.0),
        ("<think><answer></answer>", 0.0),
    ],
)
def test_hand_cases(text: str, expected: float) -> None:
    assert format_reward(text) == expected
    assert reference(text) == bool(expected)


FRAGMENTS = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "<", ">", "/"])


@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.lists(FRAGMENTS, max_size=14).map("".join))
def test_equals_reference_regex(text: str) -> None:
    assert matches_think_answer(text) == reference(text)


def test_batch() -> None:
    rewards = format_reward_batch(["<think></think><answer></answer>", "nope"])
    torch.testing.assert_close(rewards, torch.tensor([1.0, 0.0]))


@pytest.mark.parametrize(
    "text",
    [
        "<think>" + "</think><answer>" * 10_000,
        "<think>" + "</think>" + " " * 100_000 + "<answer>",
        "<think>" + "</think> " * 12_000 + "</answer>",
    ],
)
def test_adversarial_input_is_linear(text: str) -> None:
    begin = time.perf_counter()
    assert format_reward(text) == 0.0
    assert time.perf_counter() - begin < 0.5
