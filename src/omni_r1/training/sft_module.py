"""Supervised warm start: teach the policy the answer format on ground-truth answers.

This is the paper's SFT baseline and the starting point of GRPO runs (a random or base policy rarely produces a
parsable answer, and a group with no parsable answer has zero advantage everywhere).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor

from omni_r1.answer.handover import HandoverConfig
from omni_r1.answer.reference import reference_answer
from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.models.global_system import GlobalSystem
from omni_r1.models.preprocess import OmniPreprocessor, model_image_sizes
from omni_r1.training.clipping import clip_grad_norm
from omni_r1.training.optim import policy_optimizers
from omni_r1.training.preprocessing import share_preprocessor
from omni_r1.validation import init_arguments, paths_checked, require, require_number, require_str, validate_nested


class SFTPreprocessor:
    """Records → :class:`~omni_r1.data.types.ProcessedBatch` with each prompt's reference answer appended.

    Weight-free and picklable: the DataModule's loader workers run it. Boxes of grounding (and RefAVS) answers
    are in the pixels of the image as the model sees it, so those prompts are processed once without answers to
    read the resized sizes.

    Args:
        preprocessor: the policy's :class:`~omni_r1.models.preprocess.OmniPreprocessor`.
        max_keyframes: moments per reference answer (K0).
    """

    def __init__(self, preprocessor: OmniPreprocessor, max_keyframes: int) -> None:
        self.preprocessor = preprocessor
        self.max_keyframes = max_keyframes

    def __call__(self, samples: list[VideoSample]) -> ProcessedBatch:
        samples = list(samples)
        sizes: list = [None] * len(samples)
        if any(s.task == "grounding" for s in samples):  # boxes are answered in the resized image's pixels
            resized = iter(model_image_sizes(self.preprocessor.inputs(samples)))
            sizes = [next(resized) if s.task in ("grounding", "avs") else None for s in samples]
        responses = [reference_answer(s, self.max_keyframes, size) for s, size in zip(samples, sizes)]
        return ProcessedBatch(samples, self.preprocessor.inputs(samples, responses), responses)


class SFTModule(L.LightningModule):
    """Cross-entropy on reference answers (``<think>…</think><answer>`` + JSON moments).

    Args:
        policy: the Global system to train.
        optimizer: optimizer factory over the trainable parameters (LoRA adapters, or the language model).
        scheduler: optional learning-rate scheduler factory, stepped every optimizer step.
        handover: the answer hand-over setting; its ``max_keyframes`` (K0 = 4 in the paper) is the number of
            moments per reference answer (``None``: the default :class:`~omni_r1.answer.handover.HandoverConfig`).
        max_grad_norm: gradient-norm clipping; ``None`` disables it. A module setting (not the Trainer's
            ``gradient_clip_val``) so one trainer config serves SFT and GRPO (whose optimisation is manual).
        export_dir: where to write the trained policy in Hugging Face format when training ends (the warm start
            a GRPO config then names as ``model_name_or_path``); ``None`` skips the export.
    """

    def __init__(
        self,
        policy: GlobalSystem,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        scheduler: LRSchedulerCallable | None = None,
        handover: HandoverConfig | None = None,
        max_grad_norm: float | None = None,
        export_dir: str | None = None,
    ) -> None:
        SFTModule.validate_init_args(init_arguments(locals()))
        super().__init__()
        self.save_hyperparameters(ignore=["policy", "handover", "optimizer", "scheduler"])
        self.policy = policy
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.handover = handover if handover is not None else HandoverConfig()
        self.export_dir = export_dir
        self.max_grad_norm = max_grad_norm
        self.preprocessor = SFTPreprocessor(policy.preprocessor, self.handover.max_keyframes)

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a value that would fail at the first step, or at the
        export after the whole run (an ``export_dir`` that is an existing file)."""
        validate_nested("handover", HandoverConfig, args.get("handover"))
        require_number("max_grad_norm", args.get("max_grad_norm"), minimum=0, exclusive_minimum=True, optional=True)
        export_dir = args.get("export_dir")
        require_str("export_dir", export_dir, optional=True)
        if export_dir is not None and paths_checked():
            require(not Path(export_dir).is_file(), "export_dir", export_dir, "is an existing file; expected a folder")

    def setup(self, stage: str) -> None:
        # Reference answers and teacher-forced inputs are made in the loader workers, not under the step's autocast.
        share_preprocessor(self._trainer, self.preprocessor)

    def _loss(self, batch: list[VideoSample] | ProcessedBatch) -> Tensor:
        if not (isinstance(batch, ProcessedBatch) and batch.responses is not None):
            batch = self.preprocessor(list(batch))  # plain records (loaders given to fit directly, tests)
        return self.policy.sft_loss(batch)

    def training_step(self, batch: list[VideoSample] | ProcessedBatch, batch_idx: int) -> Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        if self._trainer is not None and self.trainer.optimizers:
            self.log("train/lr", float(self.trainer.optimizers[0].param_groups[0]["lr"]), batch_size=len(batch))
        return loss

    def validation_step(
        self, batch: list[VideoSample] | ProcessedBatch, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Loss on the reference answers; a mixture validates each dataset on its own loader, so its loss is
        logged per loader (``val/loss/dataloader_idx_<k>``, in the mixture's dataset order)."""
        loss = self._loss(batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Norm clipping through :func:`~omni_r1.training.clipping.clip_grad_norm` (the FSDP root when sharded:
        Lightning's own norm clipping refuses FSDP); the Trainer's ``gradient_clip_algorithm: value`` stays
        Lightning's. Logs the pre-clip total norm as ``train/grad_norm``."""
        clip = gradient_clip_val if gradient_clip_val is not None else self.max_grad_norm
        if clip is None:
            return
        if gradient_clip_algorithm == "value":
            self.clip_gradients(optimizer, gradient_clip_val=clip, gradient_clip_algorithm="value")
            return
        norm = clip_grad_norm(self, float(clip), self.trainer.strategy)
        self.log("train/grad_norm", norm.to(self.device), batch_size=1)

    def on_train_end(self) -> None:
        if self.export_dir is not None and self.trainer.is_global_zero:
            self.policy.save_pretrained(self.export_dir)

    def configure_optimizers(self):
        steps = self.trainer.estimated_stepping_batches if self._trainer is not None else math.inf
        total = int(steps) if math.isfinite(steps) else None  # optimizer steps of the run (a schedule's length)
        return policy_optimizers(self.policy, self.optimizer_factory, self.scheduler_factory, total_steps=total)
