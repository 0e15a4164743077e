"""SFT on the sounding-shapes task's reference answers (:mod:`omni_r1.mini_repro.reference`)."""

from __future__ import annotations

from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.mini_repro.reference import rewrite_answer
from omni_r1.training.sft_module import SFTModule, SFTPreprocessor


class RewritePreprocessor(SFTPreprocessor):
    """Records → :class:`~omni_r1.data.types.ProcessedBatch` with :func:`rewrite_answer` as each prompt's target.

    Weight-free and picklable like its parent, so the DataModule's collate runs it.
    """

    def __call__(self, samples: list[VideoSample]) -> ProcessedBatch:
        samples = list(samples)
        responses = [rewrite_answer(sample, self.max_keyframes) for sample in samples]
        return ProcessedBatch(samples, self.preprocessor.inputs(samples, responses), responses)


class RewriteSFTModule(SFTModule):
    """:class:`~omni_r1.training.sft_module.SFTModule` whose targets describe the target by its looks.

    The paper's SFT baseline imitates reference answers; on this task a reference that repeats the query would
    teach nothing a single-image grounder can use, so the reference rewrite is the target's colour and kind.
    Everything else (optimiser, clipping, export, validation loss) is the parent's.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.preprocessor = RewritePreprocessor(self.policy.preprocessor, self.handover.max_keyframes)
