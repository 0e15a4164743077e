"""Whose failure a failed prompt of ``evaluate run`` is: the benchmark's ground truth, or the model's.

The official protocol scores a prompt without predictions 0, which is right when the model failed it and wrong when
the benchmark's own files are broken: a truncated frame or a corrupt RLE in ``mask_dict.json`` is not the model's
doing, and folding it into the score as 0 would quietly lower the number. So every failure is recorded with an
``error_source``: :data:`GROUND_TRUTH` for the dataset errors of :mod:`omni_r1.data.layout` (and a missing file)
raised while the prompt's frames, audio or masks are read, :data:`MODEL` for anything the systems do with a loaded
prompt (answering, the hand-over, grounding, segmentation, writing the masks).
"""

from __future__ import annotations

import logging
from typing import Any

from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError

GROUND_TRUTH = "ground_truth"
MODEL = "model"
GROUND_TRUTH_ERRORS: tuple[type[BaseException], ...] = (DatasetFormatError, DatasetLayoutError, FileNotFoundError)
EXIT_MODEL_FAILURES = 1
EXIT_GROUND_TRUTH = 2
logger = logging.getLogger(__name__)


def error_files(error: BaseException) -> list[str]:
    """The files (or ``file[key]`` locators) a dataset error names; empty for any other error."""
    if isinstance(error, DatasetLayoutError):
        return [str(path) for path in error.missing]
    if isinstance(error, DatasetFormatError):
        return [error.path]
    if isinstance(error, FileNotFoundError) and error.filename:
        return [str(error.filename)]
    return []


def failure_record(where: dict[str, Any], error: BaseException, *, loading: bool) -> dict[str, Any]:
    """The ``answers.jsonl`` row of a failed prompt (also logged as a warning).

    Args:
        where: the prompt's ``video`` and ``exp_id`` (and ``index`` when known).
        error: what stopped it.
        loading: the error was raised while the prompt's files were read (only then can it be the ground truth's).
    """
    source = GROUND_TRUTH if loading and isinstance(error, GROUND_TRUTH_ERRORS) else MODEL
    label = "ground-truth error" if source == GROUND_TRUTH else "failed"
    logger.warning("%s: %s: %s: %s", label, where, type(error).__name__, error)
    row = {**where, "error_source": source, "error": f"{type(error).__name__}: {error}"}
    if source == GROUND_TRUTH:
        row["files"] = error_files(error)
    return row


def exit_status(record: dict[str, Any]) -> int:
    """``evaluate run``'s exit status: 2 with any ground-truth error (the scores are not the benchmark's), else 1
    when the model failed a prompt, else 0."""
    if record.get("ground_truth_errors") or record.get("scoring_error"):
        return EXIT_GROUND_TRUTH
    return EXIT_MODEL_FAILURES if record.get("failed") else 0
