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
- ``run.json``: prompts run, failed, skipped by the data check, not run (``--limit``) and missing in the scores.

A prompt that fails is recorded with its error and left without predictions, so it scores 0 as in the official
scripts, and the exit status is 1. The model section of the config is built without a Trainer; an SFT config has
no Detail system, so ``--detail`` names a YAML file holding one (the ``detail:`` node of a GRPO config).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningArgumentParser
from torch.utils.data import Dataset

from omni_r1.data import mevis
from omni_r1.data.mevis import MeViSDataModule, MeViSDataset
from omni_r1.data.mixture import MixtureDataModule
from omni_r1.data.refavs import RefAVSDataModule, RefAVSDataset
from omni_r1.data.revos import ReVOSDataModule, ReVOSDataset
from omni_r1.data.types import VideoSample
from omni_r1.evaluate.score import DEFAULT_SPLITS, score_predictions, write_scores
from omni_r1.metrics.functional.revos import ROBUSTNESS_MODES
from omni_r1.plan.config import resolved_config, section
from omni_r1.systems import (
    Systems,
    add_system_arguments,
    answer,
    build_systems,
    collaborate,
    config_arguments,
    write_masks,
)

_EVALUABLE = (ReVOSDataModule, MeViSDataModule, RefAVSDataModule)


# ---------------------------------------------------------------------------------------------- the split
@dataclass
class EvaluationSplit:
    """The prompts of one benchmark split, and where their ground truth lies for scoring.

    Attributes:
        benchmark: ``"revos"``, ``"mevis"`` or ``"refavs"``.
        root: the dataset root (what ``evaluate score --root`` takes).
        split: the split's name.
        dataset: every prompt with all frames (evaluation sampling).
        skipped: prompts the data check dropped (``skip_invalid``); the scorer counts them missing.
    """

    benchmark: str
    root: Path
    split: str
    dataset: Dataset[VideoSample]
    skipped: int = 0


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
    if isinstance(datamodule, MeViSDataModule):
        dataset = MeViSDataset(datamodule.root, split, train=False, **datamodule.options, **datamodule.checks)
    elif isinstance(datamodule, ReVOSDataModule):
        # Every expression of the split: the benchmark scores all of them (type_ids would only leave some missing).
        dataset = ReVOSDataset(
            datamodule.root, split, False, seed=datamodule.seed, **datamodule.frames, **datamodule.checks
        )
    else:
        dataset = RefAVSDataset(datamodule.root, split, **datamodule.checks)
    skipped = len(dataset.report.bad_items) if dataset.report is not None else 0
    return EvaluationSplit(benchmark, Path(datamodule.root), split, dataset, skipped)


# ---------------------------------------------------------------------------------------------- the run
def _where(dataset: Dataset[VideoSample], index: int) -> dict[str, Any]:
    """The video and expression id of prompt ``index`` from the dataset's index (for a prompt that fails to load)."""
    if isinstance(dataset, RefAVSDataset):
        return {"index": index, "video": dataset.folders[index], "exp_id": dataset.rows[index]["uid"]}
    if isinstance(dataset, ReVOSDataset):  # MeViS too; evaluation keeps one expression per index
        item = dataset.items[dataset.groups[index][0]]
        return {"index": index, "video": item.video, "exp_id": item.exp_id}
    return {"index": index}


def _failure(where: dict[str, Any], error: BaseException) -> dict[str, Any]:
    print(f"failed: {where}: {type(error).__name__}: {error}", file=sys.stderr)
    return {**where, "error": f"{type(error).__name__}: {error}"}


def predict_split(
    systems: Systems,
    split: EvaluationSplit,
    output: Path,
    *,
    limit: int | None = None,
    batch_size: int = 1,
    max_new_tokens: int | None = None,
    fail_fast: bool = False,
) -> dict[str, int]:
    """Run both systems over the split's prompts; writes ``predictions/`` and ``answers.jsonl`` under ``output``.

    A prompt that cannot be loaded, answered or segmented is recorded in ``answers.jsonl`` with its error (and gets
    no prediction folder) unless ``fail_fast`` re-raises. Returns the counts ``prompts``, ``run``, ``failed``.
    """
    total = len(split.dataset)  # type: ignore[arg-type]
    indices = list(range(total if limit is None else min(limit, total)))
    tokens = max_new_tokens or systems.max_new_tokens
    failed = 0
    with open(output / "answers.jsonl", "w") as answers, torch.no_grad():
        for start in range(0, len(indices), batch_size):
            rows: list[dict[str, Any]] = []
            samples: list[VideoSample] = []
            for index in indices[start : start + batch_size]:
                try:
                    samples.append(split.dataset[index])
                except Exception as error:  # a broken file must not end a long run: record it, score it 0
                    if fail_fast:
                        raise
                    rows.append(_failure(_where(split.dataset, index), error))
            try:
                completions = answer(systems.policy, samples, tokens) if samples else []
            except Exception as error:
                if fail_fast:
                    raise
                rows += [_failure({"video": s.video_id, "exp_id": s.exp_id}, error) for s in samples]
                samples, completions = [], []
            for sample, completion in zip(samples, completions):
                folder = output / "predictions" / sample.video_id / sample.exp_id
                try:
                    prediction = collaborate(systems.detail, sample, completion)
                    write_masks(folder, sample.frame_names, prediction.masks)
                    rows.append(prediction.record(sample))
                except Exception as error:
                    if fail_fast:
                        raise
                    shutil.rmtree(folder, ignore_errors=True)  # a partial folder must not be scored
                    rows.append(_failure({"video": sample.video_id, "exp_id": sample.exp_id}, error))
            failed += sum("error" in row for row in rows)
            answers.writelines(json.dumps(row) + "\n" for row in rows)
            answers.flush()
            print(f"[{min(start + batch_size, len(indices))}/{len(indices)}] {failed} failed", flush=True)
    return {"prompts": total, "run": len(indices), "failed": failed}


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

    Returns:
        The run record: the counts, and ``scores`` (``None`` for MeViS ``valid``, whose masks are withheld).

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
    counts = predict_split(systems, split, output, **options)
    record: dict[str, Any] = {"benchmark": split.benchmark, "split": split.split, "root": str(split.root)}
    record.update(counts, skipped_by_check=split.skipped, not_run=counts["prompts"] - counts["run"], scores=None)
    if split.benchmark == "mevis" and split.split in mevis.UNANNOTATED:
        print(f"MeViS {split.split} withholds its masks: submit {predictions} to the official server")
    else:
        summary, table = score_predictions(split.benchmark, split.root, split.split, predictions, robustness=robustness)
        write_scores(summary, table, output / "scores.json")
        record.update(scored=len(table), missing=sum(bool(row["missing"]) for row in table), scores=summary)
    counts_only = {k: v for k, v in record.items() if k != "scores"}  # the scores are in scores.json
    (output / "run.json").write_text(json.dumps(counts_only, indent=2) + "\n")
    return record


# ---------------------------------------------------------------------------------------------- the CLI
def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run", help="run S1 + S2 on a benchmark split, write the official layout, score it", description=__doc__
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_system_arguments(parser)
    parser.add_argument("--split", default=None, help="benchmark split (default: revos valid, mevis valid_u, ...)")
    parser.add_argument("--dataset", default=None, help="member of a mixture data config (revos, mevis, refavs)")
    parser.add_argument("--output", required=True, help="folder for predictions/, answers.jsonl and scores.json")
    parser.add_argument("--limit", type=int, default=None, help="run only the first N prompts (the rest score 0)")
    parser.add_argument("--batch-size", type=int, default=1, help="prompts per S1 generate call")
    parser.add_argument("--robustness", default="official", choices=ROBUSTNESS_MODES, help="ReVOS robustness mode")
    parser.add_argument("--overwrite", action="store_true", help="replace the predictions already in --output")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failing prompt")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the ``run`` subcommand; returns the exit status (1 when any prompt failed)."""
    for flag, value in (
        ("--limit", args.limit),
        ("--batch-size", args.batch_size),
        ("--max-new-tokens", args.max_new_tokens),
    ):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    config = resolved_config(config_arguments(args.config, args.set))
    split = evaluation_split(config, args.split, args.dataset)
    systems = build_systems(
        config,
        ckpt=args.ckpt,
        detail_config=args.detail,
        grounder_weights=args.grounder_weights,
        device=args.device,
    )
    record = evaluate(
        systems,
        split,
        args.output,
        robustness=args.robustness,
        overwrite=args.overwrite,
        limit=args.limit,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        fail_fast=args.fail_fast,
    )
    print(json.dumps(record["scores"], indent=2))
    print(
        f"{record['benchmark']} {record['split']}: {record['run']} of {record['prompts']} prompts run, "
        f"{record['failed']} failed, {record['skipped_by_check']} skipped by the data check, "
        f"{record.get('missing', 'n/a')} scored as missing (0); wrote {args.output}"
    )
    return 1 if record["failed"] else 0
