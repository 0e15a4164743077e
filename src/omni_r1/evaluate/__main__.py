"""``python -m omni_r1.evaluate <subcommand>``: evaluation entry point.

Subcommands register themselves through an ``add_parser(subparsers)`` function that sets ``handler``; adding one
(e.g. ``run``: predict on a split, then score) is one more entry in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from omni_r1.evaluate import run, score

_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (score.add_parser, run.add_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m omni_r1.evaluate", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="{score,run}")
    for add_parser in _SUBCOMMANDS:
        add_parser(subparsers)
    return parser


def main(args: list[str] | None = None) -> int:
    """Parse ``args`` (``sys.argv[1:]`` when ``None``) and run the chosen subcommand; returns the exit status."""
    namespace = build_parser().parse_args(args)
    return namespace.handler(namespace)


if __name__ == "__main__":
    raise SystemExit(main())
