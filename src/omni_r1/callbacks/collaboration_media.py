"""Watching the two systems work: keyframes, S2 boxes and propagated masks as an image strip.

Numbers say whether reward rises; pictures say why (keyframes on empty frames, boxes on the wrong object, masks
that drift). Every N steps the best-rewarded completion of the first prompt is drawn: one panel per keyframe,
the S1 frame at original resolution with the grounder's boxes (red), the segmenter's mask (green) and the ground
truth's outline (blue). Strips go to ``<log_dir>/media/`` as PNG (CSV / TensorBoard users) and to wandb as images.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
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


def collaboration_strip(sample: VideoSample, detail: DetailOutput) -> Tensor:
    """``(3, H, K·W)`` strip over the keyframes of one rollout (the first clip frame when it chose none)."""
    clip = sample.frames[sample.s1_indices.long()]  # (n, 3, H, W)
    gt = sample.union_masks[sample.s1_indices.long()]  # (n, H, W)
    keyframes = detail.keyframes or [0]
    panels = []
    for k, index in enumerate(keyframes):
        boxes = detail.boxes[k] if k < len(detail.boxes) else torch.zeros(0, 4)
        mask = detail.masks[index] if detail.masks is not None else None
        panels.append(draw_panel(clip[index], boxes, mask, gt[index]))
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
        strip = collaboration_strip(batch[0], exp.details[0][best])
        caption = f"step {step} reward {float(exp.rewards[best]):.3f}: {exp.rollouts.texts[best][:200]}"
        if trainer.log_dir is not None:
            folder = Path(trainer.log_dir) / "media"
            folder.mkdir(parents=True, exist_ok=True)
            write_png(strip, str(folder / f"collaboration_step{step:06d}.png"))
        for logger in trainer.loggers:
            if hasattr(logger, "log_image"):  # WandbLogger
                logger.log_image(key="collaboration", images=[strip.permute(1, 2, 0).numpy()], caption=[caption])
