"""Weights of the hierarchical reward: one per term, so every term is a config key of its own.

The paper writes R = α_K·(λ1·R_div + λ2·R_num + λ3·R_sal) + α_A·R_A + α_G·R_G (+ format); the authors' code adds the
structure reward and weighs R_sal separately (``alpha_k_ratio``). A flat weight per term expresses both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass
class RewardWeights:
    """One weight per reward term; the defaults are the dataclass defaults of the authors' code (all 1).

    ``length`` is 1 because both authors' scripts train with ``--len_control true`` (``scripts/run_training.sh``,
    ``scripts/run_improved_grpo_new.sh``), which adds the +1 bonus; 0 turns it off (the kit's former default).

    Args:
        format: think/answer format.
        structure: well-formed, well-placed JSON moments (authors' code).
        num: R_num, the paper's λ2·α_K.
        div: R_div, the paper's λ1·α_K.
        sal: R_sal, the paper's λ3·α_K (``alpha_k_ratio`` in the authors' scripts).
        box: R_A, the paper's α_A.
        mask: R_G, the paper's α_G.
        refavs: RefAVS frame-0 box IoU.
        refcocog: refCOCOg grounding-skill reward.
        length: the length bonus (on: 1, as the authors' ``len_control``; 0 turns it off).
    """

    format: float = 1.0
    structure: float = 1.0
    num: float = 1.0
    div: float = 1.0
    sal: float = 1.0
    box: float = 1.0
    mask: float = 1.0
    refavs: float = 1.0
    refcocog: float = 1.0
    length: float = 1.0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not math.isfinite(value):
                raise ValueError(f"reward weight {item.name!r} must be finite, got {value}")

    @classmethod
    def paper_script(cls) -> RewardWeights:
        """Weights of the last training script: α_K = 1 (num, div), α_sal = 0, α_A = 1, α_G = 2, length bonus on."""
        return cls(sal=0.0, mask=2.0)

    @classmethod
    def from_mapping(cls, weights: Mapping[str, float]) -> RewardWeights:
        """Weights from a ``{term: weight}`` mapping; unnamed terms keep their defaults.

        Raises:
            ValueError: a key that is not a term.
        """
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(weights) - known)
        if unknown:
            raise ValueError(f"unknown reward terms {unknown}; expected some of {sorted(known)}")
        return cls(**{name: float(value) for name, value in weights.items()})
