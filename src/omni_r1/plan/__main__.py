"""``python -m omni_r1.plan --config X [--config Y] [--gpu-memory 24GiB] [--key value ...]``: will it fit?

Reads the run config exactly as ``python -m omni_r1.fit`` would (extra ``--key value`` flags are fit-CLI
overrides), builds nothing but a weightless copy of the model, and prints the peak-memory breakdown per GPU.
"""

from __future__ import annotations

import argparse
import sys

from omni_r1.command_line import configure_logging
from omni_r1.config import resolved_config
from omni_r1.plan.estimate import estimate
from omni_r1.plan.report import parse_size, render
from omni_r1.plan.sam2 import SAM2_PARAMS
from omni_r1.plan.settings import run_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m omni_r1.plan",
        description="Estimate the peak GPU memory of a fit config, per GPU, and whether it fits.",
    )
    parser.add_argument("--config", action="append", required=True, help="fit config file (repeat to layer)")
    parser.add_argument("--gpu-memory", default="24GiB", help="memory of one GPU, e.g. 24GiB, 80G (default 24GiB)")
    parser.add_argument("--overhead", default="1GiB", help="CUDA context and allocator slack added to the peak")
    parser.add_argument("--model", help="count this model's architecture instead of model_name_or_path")
    parser.add_argument("--frames", type=int, help="video frames per prompt (default: the data config's maximum)")
    parser.add_argument("--audio-seconds", type=float, help="audio per prompt (default: 10 for RefAVS, else 0)")
    parser.add_argument("--text-tokens", type=int, default=256, help="template + instruction tokens (default 256)")
    parser.add_argument("--completion-tokens", type=int, help="answer tokens (default: max_new_tokens; SFT 256)")
    parser.add_argument("--world-size", type=int, help="devices x nodes (default: from the trainer config)")
    parser.add_argument("--sam2", choices=[*SAM2_PARAMS, "none"], help="SAM2.1 size (default: from the config)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when the run does not fit")
    return parser


def main(args: list[str] | None = None) -> int:
    """Print the plan; returns the exit status (1 with ``--check`` when it does not fit, 2 on bad input)."""
    configure_logging()  # one line per record; the dependencies' benign notices filtered
    options, overrides = build_parser().parse_known_args(args)
    fit_args = [item for path in options.config for item in ("--config", path)] + overrides
    source = " + ".join(options.config)
    config = resolved_config(fit_args)
    try:
        settings = run_settings(
            config,
            source=source,
            frames=options.frames,
            audio_seconds=options.audio_seconds,
            text_tokens=options.text_tokens,
            completion_tokens=options.completion_tokens,
            world_size=options.world_size,
            sam2=options.sam2,
            model_name_or_path=options.model,
        )
        gpu_memory = parse_size(options.gpu_memory)
        plan = estimate(settings, overhead_bytes=parse_size(options.overhead))
    except (FileNotFoundError, KeyError, ValueError) as error:
        hint = " (or pass --model NAME_OR_PATH)" if isinstance(error, FileNotFoundError) else ""
        print(f"error: {error}{hint}", file=sys.stderr)
        return 2
    print(render(plan, gpu_memory, source))
    return 1 if options.check and plan.peak(sharded=True) > gpu_memory else 0


if __name__ == "__main__":
    sys.exit(main())
