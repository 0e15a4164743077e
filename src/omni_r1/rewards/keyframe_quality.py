"""Keyframe rewards R_K = λ1·R_div + λ2·R_num + λ3·R_sal (SPEC §3), each from one completion's keyframes.

- R_num pays 0.4 per unique frame up to K0 and then falls: ``0.4·U`` if ``U <= K0`` else ``0.4·(2·K0 − U − 1)``,
  with U counted over all segments before the K0 cap. U never exceeds the clip length n, so R_num lies in
  ``[min(0, 0.4·(2·K0 − 1 − n)), 0.4·K0]``.
- R_div is a penalty (≤ 0), read from the SPEC's "0.2·(1 − len) per multi-frame segment and −0.5 per duplicate
  keyframe" as in the authors' code: each segment covering ``len > 1`` frames adds ``0.2·(1 − len)``, and each
  repeated frame of the raw frame list (``len(raw) − U``) adds −0.5. It pushes single-frame, non-overlapping
  moments. With S segments it is at least ``−S·(0.2·(n − 1) + 0.5·n)``.
- R_sal is the mean, over the handed-over keyframes, of the ground-truth union area at the keyframe divided by the
  largest union area over the clip: it pays for picking frames where the target is large. It lies in ``[0, 1]``;
  no keyframes or an all-empty ground truth give 0. The SPEC's union is used (the reference sums per-object areas,
  which double-counts overlapping objects).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from omni_r1.answer.keyframes import KeyframeSelection

FRAME_REWARD = 0.4
LENGTH_PENALTY = 0.2
DUPLICATE_PENALTY = 0.5


def num_reward(selection: KeyframeSelection, per_frame: float = FRAME_REWARD) -> float:
    """R_num of one completion (bounds in the module docstring); K0 is ``selection.max_keyframes``."""
    unique, cap = selection.num_unique, selection.max_keyframes
    return per_frame * unique if unique <= cap else per_frame * (2 * cap - unique - 1)


def div_reward(
    selection: KeyframeSelection,
    length_penalty: float = LENGTH_PENALTY,
    duplicate_penalty: float = DUPLICATE_PENALTY,
) -> float:
    """R_div of one completion, ``<= 0``: multi-frame segments and repeated frames are penalised."""
    extra_frames = sum(length - 1 for length in selection.segment_lengths if length > 1)
    return 0.0 - length_penalty * extra_frames - duplicate_penalty * selection.num_duplicates  # 0.0, not -0.0


def saliency_reward(keyframes: Sequence[int], union_area: Tensor) -> float:
    """R_sal in ``[0, 1]``: mean of ``union_area[k] / max(union_area)`` over the keyframes ``k``.

    Args:
        keyframes: clip indices of the handed-over keyframes.
        union_area: ``(n,)`` ground-truth union area per clip frame (``ClipTargets.union_area``).

    Raises:
        ValueError: a keyframe outside ``[0, n)`` or ``union_area`` not 1-D.
    """
    if union_area.ndim != 1:
        raise ValueError(f"union_area: expected (n,), got {tuple(union_area.shape)}")
    _check_indices(keyframes, union_area.shape[0])
    peak = float(union_area.max()) if union_area.numel() else 0.0
    if not keyframes or peak <= 0:
        return 0.0
    return float((union_area[list(keyframes)].double() / peak).mean())


def _check_indices(keyframes: Sequence[int], num_frames: int) -> None:
    bad = [index for index in keyframes if not 0 <= index < num_frames]
    if bad:
        raise ValueError(f"keyframe indices {bad} lie outside the S1 clip [0, {num_frames})")


def num_reward_batch(selections: Sequence[KeyframeSelection]) -> Tensor:
    """``(G,)`` float32 R_num of a group."""
    return torch.tensor([num_reward(selection) for selection in selections], dtype=torch.float32)


def div_reward_batch(selections: Sequence[KeyframeSelection]) -> Tensor:
    """``(G,)`` float32 R_div of a group."""
    return torch.tensor([div_reward(selection) for selection in selections], dtype=torch.float32)


def saliency_reward_batch(keyframes: Sequence[Sequence[int]], union_area: Tensor) -> Tensor:
    """``(G,)`` float32 R_sal of a group sharing one ground truth."""
    return torch.tensor([saliency_reward(indices, union_area) for indices in keyframes], dtype=torch.float32)
