"""Length bonus of the authors' code (``len_control`` in ``trainer/grpo_trainer.py``), on by default (weight 1).

A completion earns +1 when it is 320–750 tokens long (inclusive, counted as the completion mask: EOS included)
and its accuracy reward exceeds 0.1. The authors' trainer grants it only when more than one completion of the
group passes the accuracy threshold (``len(selected_indices) > 1``; one prompt per device batch, so per group),
so a lone accurate answer cannot win by length alone; the batch helper keeps that rule (``min_qualified=2``).
Range ``{0, bonus}``. Both authors' scripts turn it on (``--len_control true``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

MIN_TOKENS = 320
MAX_TOKENS = 750
ACCURACY_THRESHOLD = 0.1


def length_bonus(
    num_tokens: int,
    accuracy: float,
    min_tokens: int = MIN_TOKENS,
    max_tokens: int = MAX_TOKENS,
    accuracy_threshold: float = ACCURACY_THRESHOLD,
    bonus: float = 1.0,
) -> float:
    """``bonus`` if ``min_tokens <= num_tokens <= max_tokens`` and ``accuracy > accuracy_threshold``, else 0.

    A NaN accuracy never qualifies.
    """
    return bonus if min_tokens <= num_tokens <= max_tokens and accuracy > accuracy_threshold else 0.0


def length_bonus_batch(
    num_tokens: Sequence[int] | Tensor,
    accuracy: Sequence[float] | Tensor,
    min_tokens: int = MIN_TOKENS,
    max_tokens: int = MAX_TOKENS,
    accuracy_threshold: float = ACCURACY_THRESHOLD,
    bonus: float = 1.0,
    min_qualified: int = 2,
) -> Tensor:
    """``(G,)`` float32 length bonuses of one group; all zero unless ``min_qualified`` completions pass accuracy.

    Raises:
        ValueError: ``num_tokens`` and ``accuracy`` differ in length.
    """
    tokens = torch.as_tensor(num_tokens).flatten()
    scores = torch.as_tensor(accuracy, dtype=torch.float64).flatten()
    if tokens.shape != scores.shape:
        raise ValueError(f"length_bonus_batch: {tokens.numel()} token counts for {scores.numel()} accuracies")
    qualified = scores > accuracy_threshold
    if int(qualified.sum()) < min_qualified:
        return torch.zeros(tokens.shape[0], dtype=torch.float32)
    in_range = (tokens >= min_tokens) & (tokens <= max_tokens)
    return (qualified & in_range).float() * bonus
