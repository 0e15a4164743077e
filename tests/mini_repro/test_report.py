"""The mini reproduction's report: intervals, the ordering verdict and the paired per-seed change."""

from __future__ import annotations

import math

import pytest

from omni_r1.mini_repro.report import interval, ordering, paired, summarise


def test_interval_is_the_student_t_half_width() -> None:
    one = interval([3.0])
    assert one.mean == 3.0 and math.isnan(one.half) and str(one) == "3.0"
    three = interval([1.0, 2.0, 3.0])  # sd 1, t(0.975, 2) = 4.303
    assert three.mean == pytest.approx(2.0)
    assert three.half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)


def test_ordering_tells_overlap_from_separation() -> None:
    figures = {
        "a": [{"overall/JF": 1.0}, {"overall/JF": 1.1}, {"overall/JF": 0.9}],
        "b": [{"overall/JF": 5.0}, {"overall/JF": 5.1}, {"overall/JF": 4.9}],
        "c": [{"overall/JF": 5.2}, {"overall/JF": 9.0}, {"overall/JF": 1.0}],
    }
    summary = summarise(figures)
    assert ordering(summary, ["a", "b"], "overall/JF").endswith("holds, intervals apart")
    assert ordering(summary, ["a", "c"], "overall/JF").endswith("holds in the means, intervals overlap")
    assert ordering(summary, ["b", "a"], "overall/JF").endswith("fails")
    assert "not every policy" in ordering(summary, ["a", "z"], "overall/JF")


def test_paired_change_is_per_seed() -> None:
    # Seeds differ a lot, the change within each seed little: the paired change is +1 in every seed.
    before = {0: {"x": 10.0}, 1: {"x": 30.0}, 2: {"x": 50.0}}
    after = {0: {"x": 11.0}, 1: {"x": 31.0}, 2: {"x": 51.0}, 3: {"x": 0.0}}  # seed 3 has no SFT: left out
    assert paired(before, after, ["x"]) == "x +1.0 ± 0.0 (up in 3 of 3)"
    mixed = paired(before, {0: {"x": 12.0}, 1: {"x": 29.0}}, ["x"])
    assert mixed.startswith("x +0.5 ± ") and mixed.endswith("(up in 1 of 2)")
    assert paired(before, {7: {"x": 1.0}}, ["x"]) == "no seed has both"


def test_same_answer_share_counts_the_most_common_description() -> None:
    from omni_r1.mini_repro.results import _same_answer_share

    rows = {
        ("v0", "0"): {"descriptions": ["the red circle"]},
        ("v0", "1"): {"descriptions": ["the red circle"]},
        ("v1", "0"): {"descriptions": ["the blue square"]},
        ("v1", "1"): {},  # no answer handed over: the empty answer, one more kind
    }
    assert _same_answer_share(rows) == 50.0
    assert _same_answer_share({k: {"descriptions": []} for k in rows}) == 100.0  # the untrained policy's case
    assert math.isnan(_same_answer_share({}))
