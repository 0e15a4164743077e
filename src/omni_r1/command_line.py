"""What every ``python -m omni_r1.<command>`` shares: its parser, the training-config flags it passes on, logging.

Flags are written as ``python -m omni_r1.fit`` writes them: ``--key value`` with underscores (``--batch_size 4``;
the dashed ``--batch-size`` of earlier versions is still read). Commands that read a training config
(``evaluate run``, ``predict``, ``sweep``) pass every ``--model.*``, ``--data.*``, ``--trainer.*`` and
``--seed_everything`` flag on to it unchanged, exactly as ``fit`` would read them.

Logging goes to stderr at INFO, one line per record (warnings and errors prefixed with their level and logger).
The dependencies' known-benign notices are filtered here, narrowly (by message, and category for warnings),
because each says nothing a user of the kit can act on:

- torch's ``isinstance(treespec, LeafSpec)`` FutureWarning, raised by Lightning's own pytree helper;
- transformers' ``is_gradient_checkpointing`` FutureWarning, raised when peft wraps a model in LoRA;
- Lightning's litlogger advertisement and its ``Seed set to N`` line (the seed is in the saved config);
- bitsandbytes' ``Failed to load CPU gemm_4bit_forward from kernels-community`` at import on AVX512-BF16 CPUs:
  an optional CPU kernel from a hub repository, refused before any download; the built-in kernel is used.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
import warnings
from collections.abc import Sequence

from jsonargparse import ArgumentParser, DefaultHelpFormatter

CONFIG_ROOTS = ("model", "data", "trainer", "seed_everything")
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"

_DEPENDENCY_WARNINGS = (
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning),
)
_DEPENDENCY_LOG_LINES = {
    "lightning.pytorch.utilities.rank_zero": "Tip: For seamless cloud logging",
    "lightning.fabric.utilities.seed": "Seed set to",
    "bitsandbytes.backends.cpu.ops": "Failed to load CPU gemm_4bit_forward from kernels-community",
}
logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- parsers
class HelpFormatter(DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """jsonargparse's help (types and defaults shown) with the description kept as written; a type given as a
    checking function is shown by its name, not its address."""

    def _get_type_str(self, action: argparse.Action) -> str | None:
        if inspect.isfunction(action.type):
            return action.type.__name__
        return super()._get_type_str(action)


def command_parser(prog: str, description: str | None, epilog: str | None = None) -> ArgumentParser:
    """A parser for one command or subcommand, its ``--help`` showing ``description`` as written."""
    return ArgumentParser(prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter)


def add_flag(parser: ArgumentParser, name: str, help: str) -> None:
    """A boolean flag read both ways: ``--overwrite`` alone, or ``--overwrite true|false`` as ``fit`` reads it."""
    parser.add_argument(name, type=bool, nargs="?", const=True, default=False, help=help)


# ---------------------------------------------------------------------------------------------- argv
def _is_config_flag(token: str, roots: Sequence[str]) -> bool:
    name = token[2:].split("=", 1)[0] if token.startswith("--") else ""
    return name.split(".", 1)[0] in roots


def split_config_flags(args: Sequence[str], roots: Sequence[str] = CONFIG_ROOTS) -> tuple[list[str], list[str]]:
    """Separate the training-config flags (``--model.init_args.lr 1e-4``, ``--trainer.max_steps=5``: those whose
    key starts with one of ``roots``) from the command's own; returns ``(own, config)``. A config flag without
    ``=`` takes the next token as its value."""
    own: list[str] = []
    config: list[str] = []
    tokens = list(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if _is_config_flag(token, roots):
            takes_value = "=" not in token and i + 1 < len(tokens)
            config += tokens[i : i + 1 + takes_value]
            i += 1 + takes_value
            continue
        own.append(token)
        i += 1
    return own, config


def underscored(args: Sequence[str]) -> list[str]:
    """``--batch-size 4`` as ``--batch_size 4``: the dashed spelling of earlier versions, read as ``fit``'s."""
    out = []
    for token in args:
        if token.startswith("--") and "-" in token[2:].split("=", 1)[0]:
            name, sep, value = token[2:].partition("=")
            token = "--" + name.replace("-", "_") + sep + value
        out.append(token)
    return out


def command_arguments(args: Sequence[str] | None, roots: Sequence[str] = CONFIG_ROOTS) -> tuple[list[str], list[str]]:
    """A command's ``args`` (``sys.argv[1:]`` when ``None``) as ``(own, config)`` flags, see
    :func:`split_config_flags`, the dashed spellings read as underscores."""
    return split_config_flags(underscored(sys.argv[1:] if args is None else args), roots)


def set_overrides(overrides: Sequence[str]) -> list[str]:
    """Deprecated ``--set KEY=VALUE`` pairs as the ``--KEY VALUE`` flags that replace them.

    Raises:
        ValueError: an override without ``=``.
    """
    flags: list[str] = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE (e.g. data.init_args.root=/data/ReVOS), got {override!r}")
        flags += [f"--{key.removeprefix('--')}", value]
    if overrides:
        shown = " ".join(f"{flags[i]} {flags[i + 1]}" for i in range(0, len(flags), 2))
        logger.warning("--set KEY=VALUE is deprecated; pass the key as fit does: %s", shown)
    return flags


# ---------------------------------------------------------------------------------------------- logging
class _Drop(logging.Filter):
    """Drops the records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


class _Formatter(logging.Formatter):
    """``message`` for INFO (progress, what a command did), ``LEVEL name: message`` for warnings and errors."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage() if record.levelno <= logging.INFO else super().format(record)


class _StderrHandler(logging.StreamHandler):
    """Writes to the ``sys.stderr`` of the moment (a redirected or captured stderr included)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Log the kit's records to stderr (INFO as the bare message, warnings as ``LEVEL name: message``) and filter
    the dependencies' known-benign notices (see the module docstring). Idempotent: entry points call it first."""
    kit = logging.getLogger("omni_r1")
    kit.setLevel(level)
    if not any(isinstance(h, _StderrHandler) for h in kit.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        kit.addHandler(handler)
    quiet_dependencies()


def quiet_dependencies() -> None:
    """Filter the dependencies' known-benign warnings and log lines listed in the module docstring."""
    for message, category in _DEPENDENCY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name, text in _DEPENDENCY_LOG_LINES.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, _Drop) and f.text == text for f in target.filters):
            target.addFilter(_Drop(text))
