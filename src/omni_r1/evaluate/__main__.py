"""Evaluate on the paper's benchmarks (ReVOS, MeViS, RefAVS), scored exactly as their official scripts score.

  score  score a prediction folder in a benchmark's official layout
  run    run both systems of a training config (and checkpoint) over a benchmark split, write the official
         layout, then score it

python -m omni_r1.evaluate score --help (or run --help) lists each one's options.
"""

from __future__ import annotations

from omni_r1.command_line import command_arguments, command_parser, configure_logging
from omni_r1.evaluate import run_command as run
from omni_r1.evaluate import score

PROG = "python -m omni_r1.evaluate"


def main(args: list[str] | None = None) -> int:
    """Parse ``args`` (``sys.argv[1:]`` when ``None``) and run the chosen subcommand; returns the exit status."""
    configure_logging()
    own, config_flags = command_arguments(args)
    parser = command_parser(PROG, __doc__)
    subcommands = parser.add_subcommands(required=True, dest="command")
    subcommands.add_subcommand("score", score.build_parser(f"{PROG} score"), help=score.SUMMARY)
    subcommands.add_subcommand("run", run.build_parser(f"{PROG} run"), help=run.SUMMARY)
    options = parser.parse_args(own)
    if options.command == "score":
        if config_flags:
            flags = " ".join(flag for flag in config_flags if flag.startswith("--"))
            parser.error(f"score reads no training config: remove {flags}")
        return score.run(options.score)
    return run.run(options.run, config_flags)


if __name__ == "__main__":
    raise SystemExit(main())
