"""The reference row of the mini reproduction's table: the Detail system given the reference answers.

    python -m omni_r1.mini_repro.reference_eval --config experiments/mini_repro/sft.yaml \\
        --detail experiments/mini_repro/detail.yaml --dataset revos --split valid --output OUT/reference/eval/video \\
        [--data.init_args.datasets.revos.init_args.root DATA/revos_heldout ...]

A perfect S1 would write the reference answer (:func:`~omni_r1.mini_repro.reference.rewrite_answer`: the target's
colour and shape, on frames where it is visible); this scores exactly that through the same hand-over (the SFT
config's K0 and keyframe mode), the same weight-free Detail system and the same ``evaluate run`` scoring as the
trained policies. It is the ceiling of the table, not a policy: it reads the ground truth (the reference answers
are made from it), so it tells how much of the gap to 100 is S1's and how much the Detail system's and the
metric's (empty frames, box tracking).
"""

from __future__ import annotations

import argparse
import json
import sys

from omni_r1.config import resolved_config
from omni_r1.data.types import VideoSample
from omni_r1.evaluate.run import evaluate, evaluation_split
from omni_r1.inference import build_systems
from omni_r1.metrics.functional.revos import ROBUSTNESS_MODES
from omni_r1.mini_repro.reference import rewrite_answer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m omni_r1.mini_repro.reference_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--config", required=True, help="the SFT stage's config (its data and hand-over are used)")
    parser.add_argument("--detail", required=True, help="YAML holding the DetailSystem node")
    parser.add_argument("--dataset", required=True, choices=("revos", "refavs"), help="member of the mixture")
    parser.add_argument("--split", required=True, help="split of that member")
    parser.add_argument("--output", required=True, help="folder for predictions/, answers.jsonl, scores.json")
    parser.add_argument("--robustness", choices=ROBUSTNESS_MODES, default="official", help="ReVOS R mode")
    parser.add_argument("--batch_size", type=int, default=8, help="prompts handed over per batch")
    parser.add_argument(
        "--keyframes",
        choices=("spread", "salient", "sampled"),
        default=None,
        help="reference moments (default: the config's)",
    )
    parser.add_argument(
        "--constant", default=None, help="score this description for every prompt instead (a constant answer)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Score the reference answers on one split; the unknown flags (``--data.…``) go to the config. Returns the
    ``evaluate run`` exit status convention: 0, or 1 when a prompt failed, 2 on ground-truth errors."""
    args, config_flags = build_parser().parse_known_args(argv)
    config = resolved_config(["--config", args.config, *config_flags])
    split = evaluation_split(config, args.split, args.dataset)
    systems = build_systems(config, detail_config=args.detail, device="cpu")

    init = config["model"]["init_args"]  # the SFT config's reference answers
    words, keyframes = (
        init.get("description", "colour_kind"),
        args.keyframes or init.get("reference_keyframes", "spread"),
    )

    def respond(samples: list[VideoSample]) -> list[str]:
        return [rewrite_answer(s, systems.handover.max_keyframes, words, args.constant, keyframes) for s in samples]

    record = evaluate(
        systems,
        split,
        args.output,
        robustness=args.robustness,
        overwrite=True,
        batch_size=args.batch_size,
        respond=respond,
    )
    print(json.dumps(record["scores"], indent=2))
    if record["ground_truth_errors"] or "scoring_error" in record:
        return 2
    return 1 if record["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
