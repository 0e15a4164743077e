"""A synthetic refCOCOg root in the REFER layout: static shapes side by side, referred by colour and by position.

Squares and triangles are stored as polygons, circles as compressed RLE, so both segmentation forms of COCO are
exercised; masks are what pycocotools rasterises, and pictures are painted from them, so the decoded ground
truth is exact.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from omni_r1.data.synthetic.render import BACKGROUND, COLOURS, KINDS, video_rng
from omni_r1.data.synthetic.writers import encode_rle, write_jpg, write_json

REFCOCOG_SPLITS = ("train", "val", "test")


@dataclass
class SyntheticRefCOCOg:
    """In-memory refCOCOg content in the REFER layout.

    Attributes:
        instances: content of ``refcocog/instances.json`` (``images``, ``annotations``, ``categories``).
        refs: content of ``refcocog/refs(umd).p``.
        images: ``(H, W, 3)`` uint8 pictures by image id.
        masks: ``(H, W)`` bool mask of each annotation id: what pycocotools rasterises from its segmentation.
    """

    instances: dict[str, Any]
    refs: list[dict[str, Any]]
    images: dict[int, np.ndarray]
    masks: dict[int, np.ndarray]


def _polygon(kind: str, cy: float, cx: float, r: float) -> list[float]:
    """Vertices ``[x1, y1, x2, y2, ...]`` of a shape (a 16-gon stands in for the circle)."""
    if kind == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
        points = [(cx + 0.85 * r * dx, cy + 0.85 * r * dy) for dx, dy in corners]
    elif kind == "triangle":
        points = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:
        points = [(cx + r * math.cos(2 * math.pi * k / 16), cy + r * math.sin(2 * math.pi * k / 16)) for k in range(16)]
    return [round(float(v), 2) for point in points for v in point]


def build_refcocog(*, num_images: int = 6, height: int = 64, width: int = 96, seed: int = 0) -> SyntheticRefCOCOg:
    """Generate refCOCOg content: image ``i`` goes to split ``REFCOCOG_SPLITS[i % 3]``.

    Each image holds 2-3 static shapes side by side (never overlapping), one referred expression per shape with two
    sentences (colour and position).
    """
    if num_images < 3:
        raise ValueError(f"need num_images >= 3 (one per split), got {num_images}")
    kinds = {kind: k + 1 for k, kind in enumerate(KINDS)}
    data = SyntheticRefCOCOg(
        {"info": {"description": "synthetic refCOCOg"}, "images": [], "annotations": [], "categories": []}, [], {}, {}
    )
    data.instances["categories"] = [{"id": i, "name": kind, "supercategory": "shape"} for kind, i in kinds.items()]
    ann_id, sent_id = 100, 1000
    for i in range(num_images):
        image_id = 500 + i
        rng = video_rng(seed, f"refcocog_{image_id}")
        count = int(rng.integers(2, 4))
        cell = width / count
        picture = np.full((height, width, 3), BACKGROUND, dtype=np.uint8)
        positions = ["left", "right"] if count == 2 else ["left", "middle", "right"]
        for o, (kind, colour) in enumerate(zip(rng.permutation(KINDS)[:count], rng.permutation(list(COLOURS))[:count])):
            radius = float(min(cell, height) / 2 - 3) * float(rng.uniform(0.7, 1.0))
            cy = float(rng.uniform(radius + 1, height - 2 - radius))
            polygon = _polygon(str(kind), cy, cell * (o + 0.5), radius)
            rle = mask_utils.merge(mask_utils.frPyObjects([polygon], height, width))
            mask = mask_utils.decode(rle).astype(bool)
            picture[mask] = COLOURS[str(colour)]
            segmentation: Any = encode_rle(mask) if kind == "circle" else [polygon]
            box = [float(v) for v in mask_utils.toBbox(rle)]
            data.masks[ann_id] = mask
            data.instances["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": kinds[str(kind)],
                    "segmentation": segmentation,
                    "area": float(mask.sum()),
                    "bbox": box,
                    "iscrowd": 0,
                }
            )
            sentences = [f"the {colour} {kind}", f"the {kind} on the {positions[o]}"]
            data.refs.append(
                {
                    "ref_id": ann_id - 100,
                    "ann_id": ann_id,
                    "image_id": image_id,
                    "split": REFCOCOG_SPLITS[i % len(REFCOCOG_SPLITS)],
                    "sentences": [
                        {"tokens": s.split(), "raw": s.capitalize() + ".", "sent": s, "sent_id": sent_id + k}
                        for k, s in enumerate(sentences)
                    ],
                    "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg",
                    "category_id": kinds[str(kind)],
                    "sent_ids": [sent_id, sent_id + 1],
                }
            )
            ann_id, sent_id = ann_id + 1, sent_id + 2
        data.images[image_id] = picture
        data.instances["images"].append(
            {"id": image_id, "file_name": f"COCO_train2014_{image_id:012d}.jpg", "height": height, "width": width}
        )
    return data


def write_refcocog(root: str | Path, *, num_images: int = 6, height: int = 64, width: int = 96, seed: int = 0) -> Path:
    """Write a refCOCOg root in the REFER layout (``train2014/``, ``refcocog/instances.json``,
    ``refcocog/refs(umd).p`` written with the stdlib pickle, protocol 2 like the original); see
    :func:`build_refcocog`. Returns ``root``."""
    root = Path(root)
    data = build_refcocog(num_images=num_images, height=height, width=width, seed=seed)
    (root / "train2014").mkdir(parents=True, exist_ok=True)
    (root / "refcocog").mkdir(parents=True, exist_ok=True)
    for info in data.instances["images"]:
        write_jpg(root / "train2014" / info["file_name"], data.images[info["id"]])
    write_json(root / "refcocog" / "instances.json", data.instances)
    with open(root / "refcocog" / "refs(umd).p", "wb") as handle:
        pickle.dump(data.refs, handle, protocol=2)
    return root
