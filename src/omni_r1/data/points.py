"""Ground-truth points of a mask: the centres of its two largest inscribed circles (Seg-Zero's points).

Seg-Zero, and the authors' data loaders after it (``top2_inscribed_circle_centers`` in
``load_datasets/{revos,refavs,segact}.py``), describe an object by a box and two points: the pixel farthest from
the background (the centre of the largest inscribed circle), and the farthest one once a disc of radius
``min_distance`` around the first is cut out of the mask. The grounding reward compares a predicted pair of points
with this pair, so the SFT reference answer and the reward both read it from here.

One departure: where the cut-out leaves nothing of the mask (an object within ``min_distance`` of its centre), the
authors draw a random mask pixel as the second point; here the first centre is repeated, so the ground truth is
deterministic. The point term saturates for such small objects anyway (every point inside them is close).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt
from torch import Tensor

Point = tuple[float, float]
MIN_DISTANCE = 10


def inscribed_circle_points(mask: Tensor | np.ndarray, min_distance: int = MIN_DISTANCE) -> tuple[Point, Point] | None:
    """The two points ``((x1, y1), (x2, y2))`` in pixel indices (column, row) of ``mask``, or ``None`` if empty.

    Args:
        mask: ``(H, W)`` mask; any non-zero pixel is foreground.
        min_distance: radius in pixels of the disc around the first centre left out for the second.

    Raises:
        ValueError: ``mask`` is not 2-D.
    """
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if array.ndim != 2:
        raise ValueError(f"inscribed_circle_points expects an (H, W) mask, got shape {array.shape}")
    foreground = array != 0
    if not foreground.any():
        return None
    first = np.unravel_index(np.argmax(distance_transform_edt(foreground)), foreground.shape)
    rows, cols = np.ogrid[: foreground.shape[0], : foreground.shape[1]]
    rest = foreground & (((rows - first[0]) ** 2 + (cols - first[1]) ** 2) > min_distance**2)
    second = np.unravel_index(np.argmax(distance_transform_edt(rest)), rest.shape) if rest.any() else first
    return (float(first[1]), float(first[0])), (float(second[1]), float(second[0]))
