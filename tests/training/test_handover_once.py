"""One GRPO step parses each completion once and selects its keyframes once, for the Detail system and the reward.

Every module of the package that holds ``parse_answer`` or ``select_keyframes`` gets a counting wrapper around the
real function, so a second parse anywhere on the path (Detail system, reward, module) is counted.
"""

from __future__ import annotations

import sys
from collections import Counter

import lightning as L
import pytest
import torch

from omni_r1.answer import keyframes as keyframes_module
from omni_r1.answer import parse as parse_module
from omni_r1.answer.handover import HandoverConfig
from omni_r1.detail import BoxSegmenter, DetailSystem, OracleGrounder
from omni_r1.rewards import HierarchicalReward
from omni_r1.training.grpo_module import GRPOModule

G = 4


def _count_calls(monkeypatch: pytest.MonkeyPatch, counts: Counter, module, name: str) -> None:
    original = getattr(module, name)

    def counted(*args, **kwargs):
        counts[name] += 1
        return original(*args, **kwargs)

    for loaded in list(sys.modules.values()):
        if getattr(loaded, "__name__", "").startswith("omni_r1") and getattr(loaded, name, None) is original:
            monkeypatch.setattr(loaded, name, counted)


def test_one_parse_and_one_keyframe_selection_per_completion(
    tiny_policy_factory, revos_batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    module = GRPOModule(
        tiny_policy_factory(),
        HierarchicalReward(),
        DetailSystem(OracleGrounder(), BoxSegmenter()),
        handover=HandoverConfig(max_keyframes=3, keyframe_mode="interval"),
        num_generations=G,
        max_new_tokens=16,
        beta=0.0,
    )
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    module.trainer = trainer
    counts: Counter = Counter()
    _count_calls(monkeypatch, counts, parse_module, "parse_answer")
    _count_calls(monkeypatch, counts, keyframes_module, "select_keyframes")

    exp = module.make_experience(revos_batch)

    completions = len(revos_batch) * G
    assert counts == {"parse_answer": completions, "select_keyframes": completions}
    # the Detail system ran on exactly the keyframes the reward scored
    for handed, details in zip(exp.handovers, exp.details, strict=True):
        assert [h.indices for h in handed] == [d.keyframes for d in details]
        assert all(h.selection.max_keyframes == 3 for h in handed)
    assert "num" in exp.terms and "box" in exp.terms
