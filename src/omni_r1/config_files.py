"""Read the ``--config`` files of a command line up front, so a YAML mistake names its file and line.

jsonargparse reports a syntax error in a config as ``in "<unicode string>", line 2``: the file is lost, and for a
group file (``trainer: trainer/cpu_demo.yaml``) even which file was meant. :func:`check_config_files` loads every
``--config`` file and, recursively, every group file it names (a string value ending in ``.yaml`` / ``.yml`` that
exists relative to the config's folder, as jsonargparse resolves it) before the CLI parses anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A config file that is missing or is not valid YAML; ``str()`` is ``file:line:column: problem``."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.path, self.problem, self.line, self.column = str(path), problem, line, column
        where = self.path + (f":{line}" if line is not None else "") + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.line, self.column))


def config_arguments(args: Sequence[str]) -> Iterator[str]:
    """The values of ``--config X`` and ``--config=X`` in ``args``."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args):
            yield args[i + 1]
        elif arg.startswith("--config="):
            yield arg.split("=", 1)[1]


def load_yaml_file(path: str | Path) -> Any:
    """Parse one YAML file.

    Raises:
        ConfigFileError: the file does not exist, or is not valid YAML (with the line and column of the problem).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigFileError(path, "config file not found" if not path.exists() else "not a file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(p for p in (error.context, error.problem) if p) or "invalid YAML"
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        raise ConfigFileError(path, f"YAML syntax error: {problem}", line, column) from None
    except yaml.YAMLError as error:
        raise ConfigFileError(path, f"YAML syntax error: {error}") from None


def _group_files(content: Any, folder: Path) -> Iterator[Path]:
    if isinstance(content, dict):
        for value in content.values():
            yield from _group_files(value, folder)
    elif isinstance(content, list):
        for value in content:
            yield from _group_files(value, folder)
    elif isinstance(content, str) and content.endswith((".yaml", ".yml")) and "\n" not in content:
        candidate = folder / content
        if candidate.is_file():
            yield candidate


def check_config_file(path: str | Path, _seen: set[Path] | None = None) -> None:
    """Parse ``path`` and every group file it refers to (see the module docstring)."""
    seen = set() if _seen is None else _seen
    resolved = Path(path).resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    content = load_yaml_file(path)
    for group in _group_files(content, Path(path).parent):
        check_config_file(group, seen)


def check_config_files(args: Sequence[str]) -> None:
    """Check every ``--config`` file of a command line (see :func:`check_config_file`)."""
    for path in config_arguments(args):
        check_config_file(path)
