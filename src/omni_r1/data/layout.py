"""Errors and checks shared by the dataset loaders.

A training run that dies on the 3,000th sample because one frame is missing wastes hours, so every loader checks
its whole layout up front and reports *all* problems at once: the first few offending paths, how many there are,
and a tree of what it expected to find.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

MAX_LISTED = 5


def _listing(items: Sequence[object], limit: int = MAX_LISTED) -> str:
    lines = [f"  - {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


class DatasetLayoutError(FileNotFoundError):
    """Files or folders a dataset layout requires are missing.

    Subclasses ``FileNotFoundError`` so callers that already handle missing files keep working, while the message
    carries what a user needs to fix the root: the missing paths (first few + count) and the expected tree.

    Args:
        dataset: dataset name used in the message (``"RefAVS"``, ``"ReVOS"``).
        root: dataset root that was checked.
        missing: every missing path, in discovery order.
        layout: short tree diagram of the expected layout.
    """

    def __init__(self, dataset: str, root: str | Path, missing: Sequence[str | Path], layout: str) -> None:
        self.dataset = dataset
        self.root = Path(root)
        self.missing = [Path(p) for p in missing]
        self.layout = layout
        message = (
            f"{dataset} root '{self.root}' does not match the expected layout: "
            f"{len(self.missing)} missing path(s):\n{_listing(self.missing)}\n"
            f"Expected layout:\n{layout.rstrip()}"
        )
        super().__init__(message)
        self.filename = str(self.missing[0]) if self.missing else str(self.root)

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple:
        # Rebuilt from its own arguments when it crosses a process boundary (scoring workers, dataloader workers).
        return type(self), (self.dataset, self.root, self.missing, self.layout)


class DatasetFormatError(ValueError):
    """A dataset file exists but its content is not what the layout specifies (bad columns, keys, sizes, bytes).

    Args:
        path: the offending file (or a ``file[key]`` locator).
        problem: what is wrong and what was expected.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.problem)


def missing_paths(paths: Iterable[Path]) -> list[Path]:
    """Return the paths in ``paths`` that do not exist, once each, keeping their order."""
    return [p for p in dict.fromkeys(paths) if not p.exists()]


def require_paths(dataset: str, root: str | Path, paths: Iterable[Path], layout: str) -> None:
    """Raise one :class:`DatasetLayoutError` listing every path of ``paths`` that does not exist.

    Args:
        dataset: dataset name for the message.
        root: dataset root (checked first: a wrong root would otherwise list thousands of paths).
        paths: paths the layout needs.
        layout: expected tree diagram for the message.

    Raises:
        DatasetLayoutError: when the root or any path is missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(dataset, root, [root], layout)
    missing = missing_paths(paths)
    if missing:
        raise DatasetLayoutError(dataset, root, missing, layout)
