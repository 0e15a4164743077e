"""``python -m omni_r1.evaluate run``: run both systems over a benchmark split, write the official layout, score it.

    python -m omni_r1.evaluate run --config configs/omni_r1_7b.yaml --ckpt runs/omni_r1_7b/checkpoints/last.ckpt \\
        --dataset revos --split valid --output runs/eval/revos_valid

For every prompt of the split, S1 answers greedily, the Detail system grounds the answer's keyframes, and its
segmenter tracks the boxes over *all* frames of the video (keyframes mapped back from the S1 clip to original
frames). Written under ``--output``:

- ``predictions/<video>/<exp_id>/<frame>.png`` (ReVOS, MeViS) or ``predictions/<video>/<uid>/<i>.png`` (RefAVS):
  0/255 masks at the frames' original size, the layout ``evaluate score`` reads;
- ``answers.jsonl``: per prompt the completion, keyframes (original frame indices and names), descriptions and
  boxes, or the error that stopped it;
- ``scores.json`` and ``scores.csv``: what ``evaluate score`` writes for that prediction folder;
- ``run.json``: prompts run, failed by the model, with ground-truth errors (and the files named), skipped by the
  data check, not run (``--limit``) and missing in the scores.

Failures are told apart by whose they are (:mod:`omni_r1.evaluate.errors`), since only the model's may cost it:

- The model's (``"error_source": "model"`` in ``answers.jsonl``): S1's answer, the hand-over, grounding,
  segmentation or writing the masks failed. The prompt is left without predictions, so it scores 0 as in the
  official scripts; counted in ``failed``; exit status 1.
- The ground truth's (``"error_source": "ground_truth"``, with the ``files``): the benchmark's own files are
  broken (a frame, a mask, an RLE of ``mask_dict.json``: a ``DatasetFormatError`` / ``DatasetLayoutError`` or a
  missing file). Such a prompt is *not* scored: it is left out of ``scores.json`` and ``scores.csv`` (neither 0
  nor in the means), counted in ``ground_truth_errors`` with its files in ``ground_truth_files`` of ``run.json``,
  and the exit status is 2 whatever else happened: the scores then cover the other prompts only and are not the
  benchmark's number, so fix the files and run again.

Where the ground truth is checked: the split's data check (the DataModule's ``check_level``, ``open`` by default,
which reads every frame's header and every RLE's run lengths) runs before any model is built. What it finds stops
the command there with exit status 2, naming the files, unless the DataModule sets ``skip_invalid``: then the
prompts it drops are recorded as ground-truth errors and the rest run. A file that breaks the check misses (a lower
``check_level``) fails its prompts' loading during the run: a ground-truth error as well. A ground-truth file only
the scorer reads (ReVOS's ``mask_dict_foreground.json``) that turns out broken leaves the run without scores:
``run.json`` records the ``scoring_error``, the predictions stay, and ``evaluate score`` scores them once it is
fixed; exit status 2.

The model section of the config is built without a Trainer; an SFT config has no Detail system, so ``--detail``
names a YAML file holding one (the ``detail:`` node of a GRPO config).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser
from torch.utils.data import Dataset

from omni_r1.config import section
from omni_r1.data import mevis, refavs
from omni_r1.data.integrity import Problem, valid_indices
from omni_r1.data.mevis import MeViSDataModule, MeViSDataset
from omni_r1.data.mixture import MixtureDataModule
from omni_r1.data.refavs import RefAVSDataModule, RefAVSDataset
from omni_r1.data.revos import ReVOSDataModule, ReVOSDataset
from omni_r1.data.types import VideoSample
from omni_r1.evaluate.errors import GROUND_TRUTH, GROUND_TRUTH_ERRORS, MODEL, error_files, failure_record
from omni_r1.evaluate.score import DEFAULT_SPLITS, score_predictions, write_scores
from omni_r1.inference import (
    Systems,
    answer,
    collaborate,
    write_masks,
)
from omni_r1.progress import Progress

logger = logging.getLogger(__name__)
_EVALUABLE = (ReVOSDataModule, MeViSDataModule, RefAVSDataModule)


# ---------------------------------------------------------------------------------------------- the split
@dataclass
class EvaluationSplit:
    """The prompts of one benchmark split, and where their ground truth lies for scoring.

    Attributes:
        benchmark: ``"revos"``, ``"mevis"`` or ``"refavs"``.
        root: the dataset root (what ``evaluate score --root`` takes).
        split: the split's name.
        dataset: every prompt of the split with all frames (evaluation sampling), the broken ones included.
        indices: the prompts to run (``None``: all): those the data check passed.
        dropped: the ``answers.jsonl`` rows of the prompts the data check dropped (``skip_invalid``): ground-truth
            errors, never scored.
        problems: every problem the data check found.
    """

    benchmark: str
    root: Path
    split: str
    dataset: Dataset[VideoSample]
    indices: list[int] | None = None
    dropped: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.indices is None:
            self.indices = list(range(len(self.dataset)))  # type: ignore[arg-type]

    @property
    def skipped(self) -> int:
        """How many prompts the data check dropped."""
        return len(self.dropped)


def _instantiate_datamodule(config: dict[str, Any]) -> LightningDataModule:
    parser = LightningArgumentParser()
    parser.add_lightning_class_args(LightningDataModule, "data", subclass_mode=True)
    node = {k: v for k, v in section(config, "data").items() if k in ("class_path", "init_args", "dict_kwargs")}
    return parser.instantiate_classes(parser.parse_object({"data": node})).data


def evaluation_split(config: dict[str, Any], split: str | None = None, name: str | None = None) -> EvaluationSplit:
    """The evaluation prompts of the config's data section: ReVOS, MeViS or RefAVS, or one of them in a mixture.

    Args:
        config: a resolved fit config (its ``data`` section is built).
        split: the benchmark split; ``None`` takes the default one (ReVOS ``valid``, MeViS ``valid_u``, RefAVS
            ``test_s``).
        name: the mixture member to evaluate (``--dataset``); must be given for a mixture.

    Raises:
        ValueError: a mixture without (or with an unknown) ``name``, or a ``name`` that is not the config's dataset.
        TypeError: a dataset without a segmentation benchmark.
        DatasetLayoutError: the split's files are missing (and ``skip_invalid`` is off, or they are its annotations).
        DatasetFormatError: the split's files are unreadable or its annotations invalid (same).
    """
    datamodule = _instantiate_datamodule(config)
    mixture = isinstance(datamodule, MixtureDataModule)
    if mixture:
        members = sorted(n for n, m in datamodule.children.items() if isinstance(m, _EVALUABLE))
        if name not in members:
            raise ValueError(f"the config's data is a mixture: pass --dataset, one of {members} (got {name!r})")
        datamodule = datamodule.children[name]
    if not isinstance(datamodule, _EVALUABLE):
        raise TypeError(f"evaluate run scores ReVOS, MeViS and RefAVS data; the config has {type(datamodule).__name__}")
    benchmark = {ReVOSDataModule: "revos", MeViSDataModule: "mevis", RefAVSDataModule: "refavs"}[type(datamodule)]
    if name is not None and not mixture and name != benchmark:
        raise ValueError(f"--dataset {name!r} names no dataset of this config (its data is {benchmark})")
    datamodule.prepare_data()  # writes a synthetic root on first use, as training does
    split = split or DEFAULT_SPLITS[benchmark]
    checks = dict(datamodule.checks)
    level, skip_invalid = checks.pop("check_level", "open"), checks.pop("skip_invalid", False)
    unchecked = {**checks, "check_level": None}  # checked below, keeping the dropped prompts known by name
    if isinstance(datamodule, MeViSDataModule):
        dataset = MeViSDataset(datamodule.root, split, train=False, **datamodule.options, **unchecked)
    elif isinstance(datamodule, ReVOSDataModule):
        # Every expression of the split: the benchmark scores all of them (type_ids would only leave some missing).
        dataset = ReVOSDataset(datamodule.root, split, False, seed=datamodule.seed, **datamodule.frames, **unchecked)
    else:
        dataset = RefAVSDataset(datamodule.root, split, **unchecked)
    result = EvaluationSplit(benchmark, Path(datamodule.root), split, dataset)
    if level is not None:
        _check(result, level, skip_invalid)
    return result


def _check(split: EvaluationSplit, level: str, skip_invalid: bool) -> None:
    """The DataModule's data check of the split's prompts: stops (up front) or records the prompts it drops."""
    dataset = split.dataset
    report = dataset.check(level)  # type: ignore[attr-defined]
    dataset.report = report  # type: ignore[attr-defined]
    layout = dataset.layout if isinstance(dataset, ReVOSDataset) else refavs.LAYOUT
    split.indices = valid_indices(report, skip_invalid, layout)  # raises without skip_invalid
    split.problems = list(report.problems)
    reason = f"skipped by the data check ({level}): the prompt needs a file listed in run.json's ground_truth_files"
    split.dropped = [
        {**_where(dataset, i), "error_source": GROUND_TRUTH, "error": reason} for i in sorted(report.bad_items)
    ]


# ---------------------------------------------------------------------------------------------- the run
def _where(dataset: Dataset[VideoSample], index: int) -> dict[str, Any]:
    """The video and expression id of prompt ``index`` from the dataset's index (for a prompt that fails to load)."""
    if isinstance(dataset, RefAVSDataset):
        return {"index": index, "video": dataset.folders[index], "exp_id": dataset.rows[index]["uid"]}
    if isinstance(dataset, ReVOSDataset):  # MeViS too; evaluation keeps one expression per index
        item = dataset.items[dataset.groups[index][0]]
        return {"index": index, "video": item.video, "exp_id": item.exp_id}
    return {"index": index}


@dataclass
class SplitRun:
    """What :func:`predict_split` did: prompts in the split, prompts run, the model's failures, and the
    ``answers.jsonl`` rows of every ground-truth error (the prompts the data check dropped first)."""

    prompts: int
    run: int
    failed: int
    ground_truth: list[dict[str, Any]]


def predict_split(
    systems: Systems,
    split: EvaluationSplit,
    output: Path,
    *,
    limit: int | None = None,
    batch_size: int = 1,
    max_new_tokens: int | None = None,
    fail_fast: bool = False,
    respond: Callable[[list[VideoSample]], list[str]] | None = None,
) -> SplitRun:
    """Run both systems over the split's prompts; writes ``predictions/`` and ``answers.jsonl`` under ``output``.

    ``respond`` gives a batch's completions in place of S1's greedy answers: the Detail system then scores other
    answers through the same hand-over (e.g. a task's reference answers, the ceiling a perfect S1 would reach).

    A prompt that cannot be loaded, answered or segmented is recorded in ``answers.jsonl`` with its error and its
    ``error_source`` (and gets no prediction folder) unless ``fail_fast`` re-raises; the prompts the data check
    dropped come first there. ``limit`` runs the first prompts the check passed.
    """
    total = len(split.dataset)  # type: ignore[arg-type]
    runnable = split.indices or []
    indices = runnable if limit is None else runnable[:limit]
    tokens = max_new_tokens or systems.max_new_tokens
    failed = 0
    ground_truth = list(split.dropped)
    bar = Progress(len(indices), "evaluate run", unit="prompts")
    with open(output / "answers.jsonl", "w") as answers, torch.no_grad(), bar:
        answers.writelines(json.dumps(row) + "\n" for row in split.dropped)
        for start in range(0, len(indices), batch_size):
            rows: list[dict[str, Any]] = []
            samples: list[VideoSample] = []
            for index in indices[start : start + batch_size]:
                try:
                    samples.append(split.dataset[index])
                except Exception as error:  # a broken file must not end a long run: record whose error it is
                    if fail_fast:
                        raise
                    rows.append(failure_record(_where(split.dataset, index), error, loading=True))
            try:
                if not samples:
                    completions = []
                else:
                    completions = respond(samples) if respond else answer(systems.policy, samples, tokens)
            except Exception as error:
                if fail_fast:
                    raise
                wheres = [{"video": s.video_id, "exp_id": s.exp_id} for s in samples]
                rows += [failure_record(where, error, loading=False) for where in wheres]
                samples, completions = [], []
            for sample, completion in zip(samples, completions):
                folder = output / "predictions" / sample.video_id / sample.exp_id
                try:
                    prediction = collaborate(systems.detail, sample, completion, systems.handover)
                    write_masks(folder, sample.frame_names, prediction.masks)
                    rows.append(prediction.record(sample))
                except Exception as error:
                    if fail_fast:
                        raise
                    shutil.rmtree(folder, ignore_errors=True)  # a partial folder must not be scored
                    where = {"video": sample.video_id, "exp_id": sample.exp_id}
                    rows.append(failure_record(where, error, loading=False))
            failed += sum(row.get("error_source") == MODEL for row in rows)
            ground_truth += [row for row in rows if row.get("error_source") == GROUND_TRUTH]
            answers.writelines(json.dumps(row) + "\n" for row in rows)
            answers.flush()
            bar.update(len(indices[start : start + batch_size]), failed=failed, ground_truth_errors=len(ground_truth))
    return SplitRun(total, len(indices), failed, ground_truth)


def evaluate(
    systems: Systems,
    split: EvaluationSplit,
    output: str | Path,
    *,
    robustness: str = "official",
    overwrite: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Predict the split (see :func:`predict_split` for ``options``), score it and write ``run.json``.

    Prompts with a ground-truth error are left out of the scores (see the module docstring); a ground-truth error
    the scorer itself meets leaves ``scores`` ``None`` and is recorded as ``scoring_error``.

    Returns:
        The run record: the counts, the ground-truth files, and ``scores`` (``None`` for MeViS ``valid``, whose
        masks are withheld, or when scoring met a ground-truth error).

    Raises:
        FileExistsError: ``output`` already holds predictions and ``overwrite`` is off (stale masks would be scored).
    """
    output = Path(output)
    predictions = output / "predictions"
    if predictions.exists() and any(predictions.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{predictions} already holds predictions: pass --overwrite or another --output")
        shutil.rmtree(predictions)
    predictions.mkdir(parents=True, exist_ok=True)
    done = predict_split(systems, split, output, **options)
    files = {f for row in done.ground_truth for f in row.get("files", [])} | {p.where for p in split.problems}
    problems = [f"{p.where}: {p.kind}" + (f" ({p.detail})" if p.detail else "") for p in split.problems]
    record: dict[str, Any] = {"benchmark": split.benchmark, "split": split.split, "root": str(split.root)}
    record.update(prompts=done.prompts, run=done.run, failed=done.failed, ground_truth_errors=len(done.ground_truth))
    record.update(skipped_by_check=split.skipped, not_run=done.prompts - done.run - split.skipped)
    record.update(ground_truth_files=sorted(files), data_check_problems=problems, scores=None)
    excluded = {(row["video"], row["exp_id"]) for row in done.ground_truth}
    if split.benchmark == "mevis" and split.split in mevis.UNANNOTATED:
        logger.warning("MeViS %s withholds its masks: submit %s to the official server", split.split, predictions)
    else:
        try:
            summary, table = score_predictions(
                split.benchmark, split.root, split.split, predictions, robustness=robustness, exclude=excluded
            )
        except GROUND_TRUTH_ERRORS as error:
            logger.error("scoring stopped on the ground truth: %s: %s", type(error).__name__, error)
            record["scoring_error"] = {"error_source": GROUND_TRUTH, "error": str(error), "files": error_files(error)}
            record["ground_truth_files"] = sorted(files | set(error_files(error)))
            for stale in (output / "scores.json", output / "scores.csv"):  # a previous run's, not this one's
                stale.unlink(missing_ok=True)
        else:
            write_scores(summary, table, output / "scores.json")
            missing = sum(bool(row["missing"]) for row in table)
            record.update(scored=len(table), missing=missing, excluded_from_scores=len(excluded), scores=summary)
    counts_only = {k: v for k, v in record.items() if k != "scores"}  # the scores are in scores.json
    (output / "run.json").write_text(json.dumps(counts_only, indent=2) + "\n")
    return record


# ---------------------------------------------------------------------------------------------- the CLI
