"""The rewards of one group, term by term."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class RewardOutput:
    """Rewards of one group.

    Args:
        total: ``(G,)`` float32 ``Σ_i w_i·term_i``.
        terms: ``{term: (G,) float32}`` unweighted values of every computed term.
    """

    total: Tensor
    terms: dict[str, Tensor]
