"""Hand a training module's preprocessor to the DataModule, so prompts are prepared in the loader workers.

Preprocessing (chat template, resizing to the pixel budget, audio features, tokenisation) needs no weights. Run
in ``training_step`` it sits on the accelerator's critical path and under the trainer's autocast, where the
Whisper feature extractor fails in bfloat16. A DataModule with ``set_preprocessor`` (every kit DataModule, the
mixture included) runs it in its collate instead, and the module's step takes the
:class:`~omni_r1.data.types.ProcessedBatch`.
"""

from __future__ import annotations

from typing import Any

from omni_r1.data.types import Preprocessor


def share_preprocessor(trainer: Any, preprocess: Preprocessor | None) -> bool:
    """Give ``preprocess`` to ``trainer.datamodule``; ``False`` when there is none to give or nothing takes it
    (loaders passed to ``fit`` directly, a DataModule without ``set_preprocessor``): the step then preprocesses
    plain records itself, with autocast off."""
    datamodule = getattr(trainer, "datamodule", None)
    if preprocess is None or not hasattr(datamodule, "set_preprocessor"):
        return False
    datamodule.set_preprocessor(preprocess)
    return True
