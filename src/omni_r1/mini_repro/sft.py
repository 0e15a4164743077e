"""SFT on the sounding-shapes task's reference answers (:mod:`omni_r1.mini_repro.reference`)."""

from __future__ import annotations

import re

import torch
from torch import Tensor

from omni_r1.data.synthetic.render import COLOURS, KINDS
from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.mini_repro.reference import (
    DESCRIPTION_WORDS,
    REFERENCE_KEYFRAMES,
    DescriptionWords,
    ReferenceKeyframes,
    rewrite_answer,
)
from omni_r1.training.sft_module import SFTModule, SFTPreprocessor
from omni_r1.validation import require_choice, require_number

_LOOKS = re.compile(r"\b(" + "|".join([*COLOURS, *KINDS]) + r")\b")


class RewritePreprocessor(SFTPreprocessor):
    """Records → :class:`~omni_r1.data.types.ProcessedBatch` with :func:`rewrite_answer` as each prompt's target.

    Weight-free and picklable like its parent, so the DataModule's collate runs it.
    """

    def __init__(
        self,
        preprocessor,
        max_keyframes: int,
        words: DescriptionWords = "colour_kind",
        keyframes: ReferenceKeyframes = "spread",
    ) -> None:
        super().__init__(preprocessor, max_keyframes)
        self.words = words
        self.keyframes = keyframes

    def __call__(self, samples: list[VideoSample]) -> ProcessedBatch:
        samples = list(samples)
        responses = [
            rewrite_answer(sample, self.max_keyframes, self.words, keyframes=self.keyframes) for sample in samples
        ]
        return ProcessedBatch(samples, self.preprocessor.inputs(samples, responses), responses)


class RewriteSFTModule(SFTModule):
    """:class:`~omni_r1.training.sft_module.SFTModule` whose targets describe the target by its looks.

    The paper's SFT baseline imitates reference answers; on this task a reference that repeats the query would
    teach nothing a single-image grounder can use, so the reference rewrite is the target's colour (and kind).
    Everything else (optimiser, clipping, export, validation loss) is the parent's.

    Args:
        description: the words of a reference description: ``"colour_kind"`` ("the red circle") or ``"colour"``
            ("the red shape"), see :mod:`omni_r1.mini_repro.reference`.
        reference_keyframes: the moments of a VOS reference answer: ``"spread"`` (up to K0 over the frames where
            the target is visible) or ``"salient"`` (one, where it is largest: what a mask annotation marks), see
            :func:`~omni_r1.mini_repro.reference.rewrite_answer`.
        description_weight: weight of the tokens of the looks words (colours, kinds) in the SFT loss, the others'
            being 1. A reference answer is ~100 tokens of fixed structure around one decision (which colour), so
            the plain token mean gives that decision 1 % of the gradient; 1 is the plain mean.
    """

    def __init__(
        self,
        *args,
        description: DescriptionWords = "colour_kind",
        reference_keyframes: ReferenceKeyframes = "spread",
        description_weight: float = 1.0,
        **kwargs,
    ) -> None:
        require_choice("description", description, DESCRIPTION_WORDS)
        require_choice("reference_keyframes", reference_keyframes, REFERENCE_KEYFRAMES)
        require_number("description_weight", description_weight, minimum=0, exclusive_minimum=True)
        super().__init__(*args, **kwargs)
        self.description = description
        self.description_weight = description_weight
        self.reference_keyframes = reference_keyframes
        self.preprocessor = RewritePreprocessor(
            self.policy.preprocessor, self.handover.max_keyframes, description, reference_keyframes
        )

    def _loss(self, batch) -> Tensor:
        if not (isinstance(batch, ProcessedBatch) and batch.responses is not None):
            batch = self.preprocessor(list(batch))
        if self.description_weight == 1.0:
            return self.policy.sft_loss(batch)
        return self.policy.sft_loss(batch, weights=[self._weights(text) for text in batch.responses])

    def _weights(self, response: str) -> Tensor:
        """Per token of ``response`` + ``<|im_end|>``: ``description_weight`` on the looks words, else 1."""
        encoded = self.policy.tokenizer(response + "<|im_end|>", add_special_tokens=False, return_offsets_mapping=True)
        spans = [match.span() for match in _LOOKS.finditer(response)]
        weights = [
            self.description_weight if any(a < end and start < b for a, b in spans) else 1.0
            for start, end in encoded["offset_mapping"]
        ]
        return torch.tensor(weights)
