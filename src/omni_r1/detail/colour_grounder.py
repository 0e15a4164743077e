"""A weight-free grounder for the synthetic shape worlds: it reads the colour and shape words of a description.

It is the S2 grounder of experiments where the Detail system must depend on what the Global system writes
without any grounding weights (``experiments/mini_repro``): a description naming a shape's colour and kind
("the red circle") finds that shape on the keyframe, at the frame's full resolution; a wrong one ("the red
square" where the red shape is a circle, a colour the frame lacks) or a vague one ("the object making the
highest sound", "the shape") finds nothing. It never reads the ground truth: only the image and the words.

Several referents are separated by "and" or commas ("the red circle and the blue square"). A referent naming only
a colour takes every shape of that colour; one naming only a kind, every shape of that kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from omni_r1.data.synthetic.render import COLOURS, KINDS
from omni_r1.data.synthetic.sounding import COLOUR_TOLERANCE, MIN_SHAPE_PIXELS, find_shapes
from omni_r1.validation import init_arguments, require_int, require_number

_SPLIT = re.compile(r"\band\b|[,;]")
_WORDS = re.compile(r"[a-z]+")
_KIND_WORDS = {**{kind: kind for kind in KINDS}, **{f"{kind}s": kind for kind in KINDS}}


def referents(description: str) -> list[tuple[str | None, str | None]]:
    """``(colour, kind)`` of each referent the description names (``None``: not named); a part naming neither
    is dropped. The first colour and the first kind word of each part count."""
    out = []
    for part in _SPLIT.split(description.lower()):
        words = _WORDS.findall(part)
        colour = next((w for w in words if w in COLOURS), None)
        kind = next((_KIND_WORDS[w] for w in words if w in _KIND_WORDS), None)
        if colour is not None or kind is not None:
            out.append((colour, kind))
    return out


class ColourShapeGrounder:
    """Boxes of the shapes a description names by colour and kind (see the module docstring).

    Args:
        tolerance: RGB distance within which a pixel counts as a palette colour.
        min_pixels: smallest region taken for a shape (JPEG specks are not shapes).
        max_boxes: boxes kept per description, the first found first.
    """

    needs_ground_truth = False

    def __init__(
        self, tolerance: float = COLOUR_TOLERANCE, min_pixels: int = MIN_SHAPE_PIXELS, max_boxes: int = 8
    ) -> None:
        ColourShapeGrounder.validate_init_args(init_arguments(locals()))
        self.tolerance = tolerance
        self.min_pixels = min_pixels
        self.max_boxes = max_boxes

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a tolerance, region size or box cap out of range."""
        require_number("tolerance", args.get("tolerance"), minimum=0, exclusive_minimum=True)
        require_int("min_pixels", args.get("min_pixels"), minimum=1)
        require_int("max_boxes", args.get("max_boxes"), minimum=1)

    def ground(
        self,
        images: Sequence[Tensor],
        descriptions: Sequence[str],
        *,
        task: str = "vos",
        gt_boxes: Sequence[Tensor] | None = None,
    ) -> list[Tensor]:
        """See :meth:`omni_r1.detail.protocols.Grounder.ground`; ``gt_boxes`` is never read.

        Raises:
            ValueError: as many images as descriptions are needed, each ``(3, H, W)`` uint8.
        """
        if len(images) != len(descriptions):
            raise ValueError(f"ColourShapeGrounder: {len(images)} images for {len(descriptions)} descriptions")
        return [self._boxes(image, text, index) for index, (image, text) in enumerate(zip(images, descriptions))]

    def _boxes(self, image: Tensor, description: str, index: int) -> Tensor:
        if image.ndim != 3 or image.shape[0] != 3 or image.dtype != torch.uint8:
            raise ValueError(f"ColourShapeGrounder: image {index} must be (3, H, W) uint8, got {tuple(image.shape)}")
        picture = image.permute(1, 2, 0).cpu().numpy()
        boxes: list[tuple[float, float, float, float]] = []
        for colour, kind in referents(description):
            for region in find_shapes(picture, colour, kind, tolerance=self.tolerance, min_pixels=self.min_pixels):
                ys, xs = region.nonzero()
                box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
                if box not in boxes:
                    boxes.append(box)
        return torch.tensor(boxes[: self.max_boxes], dtype=torch.float32).reshape(-1, 4)
