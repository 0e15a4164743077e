"""``python -m omni_r1.evaluate run``: the command line of :mod:`omni_r1.evaluate.run` (options, help, exit status)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Literal

from jsonargparse import ArgumentParser, Namespace
from jsonargparse.typing import PositiveInt

from omni_r1.command_line import add_flag, command_parser
from omni_r1.config import resolved_config
from omni_r1.data.layout import DatasetFormatError, DatasetLayoutError
from omni_r1.evaluate.errors import exit_status
from omni_r1.evaluate.run import evaluate, evaluation_split
from omni_r1.inference import (
    SYSTEM_EPILOG,
    add_system_arguments,
    build_systems,
    config_arguments,
)
from omni_r1.metrics.functional.revos import ROBUSTNESS_MODES

logger = logging.getLogger(__name__)

SUMMARY = "run S1 + S2 on a benchmark split, write the official layout, score it"
DESCRIPTION = """Run both systems of a training config over a benchmark split, write the official layout, score it.

For every prompt of the split S1 answers greedily, the Detail system grounds the answer's keyframes and tracks
the boxes over all frames of the video. Written under --output: predictions/ (the layout evaluate score reads),
answers.jsonl (per prompt the completion, keyframes, descriptions and boxes, or the error that stopped it),
scores.json, scores.csv and scores.png, and run.json (prompts run, failed by the model, with ground-truth errors,
skipped by the data check, not run).

A prompt the model fails (no usable answer, grounding or segmentation error) scores 0, as in the official scripts:
exit status 1. A prompt whose benchmark files are broken is not scored at all and the exit status is 2: the scores
then cover the other prompts only; fix the files (listed in run.json) and run again. The split's data check (the
DataModule's check_level) runs before any model is built. An SFT config has no Detail system: pass --detail with a
YAML file holding one (the detail: node of a GRPO config, e.g. configs/model/grpo_tiny.yaml).

example:
  python -m omni_r1.evaluate run --config configs/omni_r1_7b.yaml --ckpt runs/omni_r1_7b/checkpoints/last.ckpt \\
      --dataset revos --split valid --output runs/eval/revos_valid --data.init_args.root /data/ReVOS
"""


def build_parser(prog: str) -> ArgumentParser:
    """The ``run`` subcommand's options (the training-config keys are passed on, see :data:`SYSTEM_EPILOG`)."""
    parser = command_parser(prog, DESCRIPTION, SYSTEM_EPILOG)
    add_system_arguments(parser)
    parser.add_argument(
        "--split",
        type=str | None,
        default=None,
        help="benchmark split (default: revos valid, mevis valid_u, refavs test_s)",
    )
    parser.add_argument(
        "--dataset", type=Literal["revos", "mevis", "refavs"] | None, default=None, help="member of a mixture config"
    )
    parser.add_argument("--output", type=str, required=True, help="folder for predictions/, answers.jsonl, scores")
    parser.add_argument(
        "--limit", type=PositiveInt | None, default=None, help="run only the first N prompts (the rest score 0)"
    )
    parser.add_argument("--batch_size", type=PositiveInt, default=1, help="prompts per S1 generate call")
    parser.add_argument(
        "--robustness", type=Literal[ROBUSTNESS_MODES], default="official", help="ReVOS robustness (R) mode"
    )
    add_flag(parser, "--overwrite", "replace the predictions already in --output")
    add_flag(parser, "--fail_fast", "stop at the first failing prompt")
    return parser


def run(args: Namespace, config_flags: Sequence[str] = ()) -> int:
    """Run the ``run`` subcommand with the training-config flags ``config_flags`` (``--model.…`` as fit takes them);
    returns the exit status (2 on any ground-truth error, else 1 when the model failed a prompt, else 0; see the
    module docstring)."""
    config = resolved_config(config_arguments(args.config, args.set, config_flags))
    try:
        split = evaluation_split(config, args.split, args.dataset)
    except (DatasetFormatError, DatasetLayoutError) as error:  # before any model is built
        print(f"evaluate run: the split's ground truth is broken, nothing was run:\n{error}", file=sys.stderr)
        return exit_status({"ground_truth_errors": 1})
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
        f"{record['failed']} failed by the model, {record.get('missing', 'n/a')} scored as missing (0); "
        f"{record['ground_truth_errors']} with ground-truth errors ({record['skipped_by_check']} skipped by the data "
        f"check), not scored; wrote {args.output}"
    )
    if record["ground_truth_errors"] or "scoring_error" in record:
        listed = "\n".join(f"  {f}" for f in record["ground_truth_files"][:20])
        more = len(record["ground_truth_files"]) - 20
        print(
            "the scores are NOT the benchmark's: broken ground-truth files (all in run.json):\n"
            + listed
            + (f"\n  ... and {more} more" if more > 0 else ""),
            file=sys.stderr,
        )
    return exit_status(record)
