"""Write a synthetic root once, for DataModules' ``prepare_data``: redo a half-written one, never touch real data."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from inspect import signature
from pathlib import Path
from typing import Any

from omni_r1.data.synthetic.refavs import write_refavs
from omni_r1.data.synthetic.revos import write_revos

MARKER = ".omni_r1_synthetic.json"

_WRITERS: dict[str, tuple[Callable[..., Path], tuple[str, ...]]] = {
    "refavs": (write_refavs, ("metadata.csv", "media", "gt_mask")),
    "revos": (
        write_revos,
        (
            "JPEGImages",
            "meta_expressions_train_.json",
            "meta_expressions_valid_.json",
            "mask_dict.json",
            "mask_dict_foreground.json",
        ),
    ),
}


def ensure_synthetic(kind: str, root: str | Path, **kwargs: Any) -> Path:
    """Write a synthetic ``kind`` root unless it is already there; used by DataModules' ``prepare_data``.

    A marker file records the writer's arguments and is flagged complete only after the last file is written, so
    an interrupted write (or one with other arguments) is wiped and redone. A root that holds the layout's files
    but no marker is a real dataset and is never touched; one that holds another kind's synthetic data is an error.

    Args:
        kind: ``"refavs"`` or ``"revos"``.
        root: dataset root to fill.
        **kwargs: keyword arguments of :func:`write_refavs` / :func:`write_revos`.

    Returns:
        ``root`` as a ``Path``.

    Raises:
        ValueError: an unknown ``kind``, or ``root`` holds synthetic data of another kind.
    """
    if kind not in _WRITERS:
        raise ValueError(f"unknown synthetic dataset kind {kind!r}; expected one of {sorted(_WRITERS)}")
    writer, entries = _WRITERS[kind]
    root = Path(root)
    bound = signature(writer).bind(root, **kwargs)
    bound.apply_defaults()
    params = json.loads(json.dumps({k: v for k, v in bound.arguments.items() if k != "root"}))
    marker = root / MARKER
    wanted = {"kind": kind, "params": params, "complete": True}
    if marker.is_file():
        found = json.loads(marker.read_text())
        if found == wanted:
            return root
        if found.get("kind") != kind:
            # Rewriting would leave two layouts mixed in one folder, each DataModule wiping the other's files.
            raise ValueError(
                f"{root} holds a synthetic {found.get('kind')!r} dataset, not {kind!r}: give the {kind} DataModule "
                "its own root"
            )
    elif any((root / entry).exists() for entry in entries):
        return root
    for entry in entries:
        path = root / entry
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**wanted, "complete": False}))
    writer(root, **kwargs)
    marker.write_text(json.dumps(wanted))
    return root
