"""SAM2.1 video predictor memory: exact weights per size, a rough estimate for one tracking call.

Parameter counts are those of ``sam2.build_sam.build_sam2_video_predictor`` for the four SAM2.1 configs (float32
weights, 1 KiB of buffers; a test rebuilds them). Tracking memory is an estimate for ``image_size`` input frames:

- every clip frame resized to ``s × s`` float32 RGB (``12 s²`` bytes) plus, with per-frame feature caching, its
  image features and positional encodings at strides 4 / 8 / 16 (32 / 64 / 256 channels, float32, twice);
- per tracked object and frame: a ``(s/4)²`` float32 low-resolution mask and a 64-channel ``(s/16)²`` bfloat16
  memory feature;
- the image encoder's widest stage on one frame (``(s/4)²`` tokens × embed width × 5 float32, with its MLP) and
  memory attention for all objects at once (``(s/16)²`` tokens × (256 + 7 memories × 64) × 4 bytes each).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SAM2_PARAMS = {"t": 38_962_498, "s": 46_060_354, "b+": 80_850_178, "l": 224_446_642}
SAM2_BUFFER_BYTES = 1024
_EMBED_WIDTH = {"t": 96, "s": 96, "b+": 112, "l": 144}
_CONFIG = re.compile(r"hiera_(t|s|b\+|l)\.yaml$")
_NAMES = {"tiny": "t", "small": "s", "base_plus": "b+", "large": "l"}


def sam2_size(config_name: str) -> str:
    """``"t"``, ``"s"``, ``"b+"`` or ``"l"`` from a config or checkpoint name (``sam2.1_hiera_l.yaml``...).

    Raises:
        ValueError: the name names no SAM2.1 hiera size.
    """
    match = _CONFIG.search(config_name)
    if match:
        return match.group(1)
    for name, size in _NAMES.items():
        if f"hiera_{name}" in config_name:
            return size
    raise ValueError(f"SAM2 config {config_name!r}: expected a hiera size t, s, b+ or l (e.g. sam2.1_hiera_l.yaml)")


@dataclass(frozen=True)
class Sam2Settings:
    """One segmenter call of a training step.

    Attributes:
        size: hiera size (``t``, ``s``, ``b+``, ``l``).
        image_size: square input resolution.
        frames: frames of the clip tracked.
        objects: objects tracked at once (all rollouts of a group in one call).
        cache_features: every frame's features are kept for the whole call.
    """

    size: str
    image_size: int = 1024
    frames: int = 24
    objects: int = 96
    cache_features: bool = True

    def weight_bytes(self) -> int:
        return SAM2_PARAMS[self.size] * 4 + SAM2_BUFFER_BYTES

    def tracking_bytes(self) -> int:
        s = self.image_size
        frame = 12 * s * s
        if self.cache_features:
            frame += 2 * 4 * ((s // 4) ** 2 * 32 + (s // 8) ** 2 * 64 + (s // 16) ** 2 * 256)
        per_object_frame = (s // 4) ** 2 * 4 + (s // 16) ** 2 * 64 * 2
        encoder = (s // 4) ** 2 * _EMBED_WIDTH[self.size] * 5 * 4
        attention = self.objects * (s // 16) ** 2 * (256 + 7 * 64) * 4
        return self.frames * frame + self.objects * self.frames * per_object_frame + encoder + attention
