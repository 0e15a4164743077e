"""Learning-rate schedules whose length is the run's: no hand-computed ``T_max`` to get wrong.

The authors train with the Hugging Face Trainer's ``lr_scheduler_type: cosine`` and no warm-up
(``scripts/run_training.sh``): the rate follows a half cosine from its initial value to 0 over the run's optimizer
steps. :class:`CosineSchedule` is that schedule; the training modules pass it ``total_steps`` from the trainer
(``max_steps``, or the epochs' batches, divided by the generation batches per optimizer step), so a config names
only the shape.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from omni_r1.validation import require_int, require_number


class CosineSchedule(LambdaLR):
    """Linear warm-up over ``warmup_steps``, then a half cosine to ``min_lr_ratio`` × the initial rate at
    ``total_steps`` (as ``transformers.get_cosine_schedule_with_warmup`` with ``min_lr_ratio`` 0).

    Args:
        optimizer: the optimizer whose groups' rates are scaled.
        total_steps: optimizer steps of the run; ``None`` until the training module fills it in from the trainer.
        warmup_steps: steps of linear warm-up from 0 (0 in the authors' script).
        min_lr_ratio: the rate at the end relative to the initial one.
    """

    def __init__(
        self, optimizer: Optimizer, total_steps: int | None = None, warmup_steps: int = 0, min_lr_ratio: float = 0.0
    ) -> None:
        require_int("total_steps", total_steps, minimum=1, optional=False, note="set by the training module")
        require_int("warmup_steps", warmup_steps, minimum=0)
        require_number("min_lr_ratio", min_lr_ratio, minimum=0, maximum=1)
        self.total_steps, self.warmup_steps, self.min_lr_ratio = total_steps, warmup_steps, min_lr_ratio
        super().__init__(optimizer, self.factor)

    def factor(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
