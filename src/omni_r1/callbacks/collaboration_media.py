"""Watching the two systems work: keyframes, S2 boxes and propagated masks as an image strip.

Numbers say whether reward rises; pictures say why (keyframes on empty frames, boxes on the wrong object, masks
that drift). Every N steps the best-rewarded completion of the first prompt is drawn: one panel per keyframe,
the S1 frame at original resolution with the grounder's boxes (red), the segmenter's mask (green) and the ground
truth's outline (blue), enlarged to at least :data:`MIN_PANEL_HEIGHT` pixels, with the rewritten description the
grounder was given as the panel's caption. Strips go to ``<log_dir>/media/`` as PNG (CSV / TensorBoard users) and
to wandb as images.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor
from torchvision.io import write_png
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

from omni_r1.answer.outputs import DetailOutput
from omni_r1.data.types import VideoSample


def draw_panel(frame: Tensor, boxes: Tensor, mask: Tensor | None, gt: Tensor | None) -> Tensor:
    """One ``(3, H, W)`` uint8 panel: frame + predicted mask (green) + GT outline (blue) + boxes (red)."""
    panel = frame.cpu()
    if mask is not None and mask.any():
        panel = draw_segmentation_masks(panel, mask.cpu().bool(), alpha=0.45, colors="green")
    if gt is not None and gt.any():
        gt = gt.cpu().bool()
        inner = torch.nn.functional.max_pool2d((~gt)[None, None].float(), 3, 1, 1)[0, 0].bool()
        panel = draw_segmentation_masks(panel, gt & inner, alpha=1.0, colors="blue")  # 1-pixel outline
    if boxes.numel():
        h, w = panel.shape[-2:]
        boxes = boxes.cpu().float().clone()
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h - 1)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        if ok.any():
            panel = draw_bounding_boxes(panel, boxes[ok], colors="red", width=2)
    return panel


MIN_PANEL_HEIGHT = 240
CAPTION_LINES = 3


def enlarge(panel: Tensor, min_height: int = MIN_PANEL_HEIGHT) -> Tensor:
    """``panel`` scaled by the smallest integer factor that makes it ``min_height`` tall (nearest: pixels stay
    sharp, so a one-pixel outline stays readable)."""
    factor = max(1, -(-min_height // panel.shape[-2]))
    return panel.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1) if factor > 1 else panel


def caption(panel: Tensor, text: str) -> Tensor:
    """``panel`` with a white band below holding ``text`` wrapped to its width (at most :data:`CAPTION_LINES`)."""
    width = panel.shape[-1]
    chars = max(8, width // 7)
    lines = textwrap.wrap(text, chars)[:CAPTION_LINES] or [""]
    band = Image.new("RGB", (width, 14 * CAPTION_LINES + 6), "white")
    ImageDraw.Draw(band).multiline_text((4, 3), "\n".join(lines), fill="black", spacing=2)
    band_tensor = torch.from_numpy(np.asarray(band).copy()).permute(2, 0, 1)
    return torch.cat([panel, band_tensor], dim=-2)


def collaboration_strip(sample: VideoSample, detail: DetailOutput, descriptions: Sequence[str] | None = None) -> Tensor:
    """``(3, H', K·W')`` strip over the keyframes of one rollout (the first clip frame when it chose none): each panel
    enlarged (:func:`enlarge`) and captioned with its clip frame and the description handed to the grounder."""
    clip = sample.frames[sample.s1_indices.long()]  # (n, 3, H, W)
    gt = sample.union_masks[sample.s1_indices.long()]  # (n, H, W)
    keyframes = detail.keyframes or [0]
    panels = []
    for k, index in enumerate(keyframes):
        boxes = detail.boxes[k] if k < len(detail.boxes) else torch.zeros(0, 4)
        mask = detail.masks[index] if detail.masks is not None else None
        panel = enlarge(draw_panel(clip[index], boxes, mask, gt[index]))
        text = descriptions[k] if descriptions is not None and k < len(descriptions) else ""
        label = f"frame {index}: {text}" if detail.keyframes else "no keyframe handed over"
        panels.append(caption(panel, label))
    return torch.cat(panels, dim=-1)


class CollaborationMediaCallback(L.Callback):
    """Logs the collaboration strip of the best completion of the first prompt every ``every_n_steps`` steps.

    Args:
        every_n_steps: optimizer steps between strips.
    """

    def __init__(self, every_n_steps: int = 50) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        exp = getattr(pl_module, "last_experience", None)
        step = trainer.global_step - 1
        if exp is None or exp.details is None or step % self.every_n_steps or not trainer.is_global_zero:
            return
        G = len(exp.details[0])
        best = int(exp.rewards[:G].argmax())
        handed = exp.handovers[0][best] if getattr(exp, "handovers", None) else None
        descriptions = [keyframe.description for keyframe in handed.keyframes] if handed is not None else None
        strip = collaboration_strip(batch[0], exp.details[0][best], descriptions)
        caption = f"step {step} reward {float(exp.rewards[best]):.3f}: {exp.rollouts.texts[best][:200]}"
        if trainer.log_dir is not None:
            folder = Path(trainer.log_dir) / "media"
            folder.mkdir(parents=True, exist_ok=True)
            write_png(strip, str(folder / f"collaboration_step{step:06d}.png"))
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key="collaboration", images=[strip.permute(1, 2, 0).numpy()], caption=[caption])
