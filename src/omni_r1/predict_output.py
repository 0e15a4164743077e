"""The ``--output`` folder of ``python -m omni_r1.predict``: written only where nothing else can be lost.

The rule: predict writes into a folder that does not exist yet, or is empty, and marks it with :data:`MARKER`, a
JSON file listing every file it wrote there. It refuses any other non-empty folder, whatever the flags: a folder
the kit did not mark may hold anything, and the kit never deletes what it did not write. A marked folder (a
previous predict) is refused too unless ``--overwrite`` is given; then exactly the files its marker lists are
removed and replaced, and everything else in the folder (a note in ``masks/``, a user's own file) stays. A new
output whose path is taken by a file the marker does not list is refused as well, since writing it would replace
that file.

Every refusal raises :class:`OutputFolderError`, which names the folder (or the file); ``predict`` turns it into an
error message and exit status 2 before any model is built.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

MARKER = ".omni_r1-predict"
_WRITER = "omni_r1.predict"


class OutputFolderError(ValueError):
    """``--output`` is a folder predict may not write into; the message says why and what to do."""


def output_files(frame_names: Sequence[str]) -> list[str]:
    """The files predict writes for a video with these frames, relative to ``--output``."""
    return [f"masks/{name}.png" for name in frame_names] + ["answer.json", "overlay.mp4"]


def _listed_files(folder: Path) -> set[str]:
    """The files a previous predict wrote in ``folder``, from its marker."""
    marker = folder / MARKER
    try:
        content = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise OutputFolderError(
            f"{marker} cannot be read ({err}): empty {folder} yourself or choose another --output"
        ) from err
    files = content.get("files") if isinstance(content, dict) and content.get("written_by") == _WRITER else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise OutputFolderError(f"{marker} is not a marker written by {_WRITER}: choose another --output")
    root = folder.resolve()
    for name in files:
        if Path(name).is_absolute() or not (root / name).resolve().is_relative_to(root):
            raise OutputFolderError(f"{marker} lists {name!r}, a path outside {folder}: choose another --output")
    return set(files)


def claim_output(folder: Path, overwrite: bool) -> set[str]:
    """Check that predict may write into ``folder``; returns the files of a previous predict there (maybe none).

    Raises:
        OutputFolderError: ``folder`` is a file, a non-empty folder without a marker, or a marked folder without
            ``overwrite``.
    """
    if not folder.exists():
        return set()
    if not folder.is_dir():
        raise OutputFolderError(f"--output {folder} is a file, not a folder")
    if not (folder / MARKER).is_file():
        if any(folder.iterdir()):
            raise OutputFolderError(
                f"--output {folder} is not empty and was not written by {_WRITER} (no {MARKER} marker): predict "
                "never deletes files it did not write; choose a new or empty folder"
            )
        return set()
    if not overwrite:
        raise OutputFolderError(
            f"--output {folder} holds a previous prediction: pass --overwrite to replace the files it wrote "
            "(other files stay), or choose another folder"
        )
    return _listed_files(folder)


def check_targets(folder: Path, outputs: Iterable[str], previous: set[str]) -> None:
    """Refuse to write over a file that is in the way but was not written by a previous predict.

    Raises:
        OutputFolderError: an output path exists and is not a file the marker lists (or is a folder or a link).
    """
    for name in outputs:
        path = folder / name
        if not (path.exists() or path.is_symlink()):
            continue
        if name not in previous or path.is_symlink() or not path.is_file():
            raise OutputFolderError(
                f"{path} is in the way and was not written by {_WRITER}: predict never replaces files it did not "
                "write; move it or choose another --output"
            )


def replace_outputs(folder: Path, previous: set[str], outputs: Sequence[str]) -> None:
    """Remove the files a previous predict wrote and mark ``folder`` as holding ``outputs``.

    The marker is written before the outputs, so a run that stops half-way still leaves a folder whose every kit
    file is listed (and that ``--overwrite`` can clean).
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(previous):
        path = folder / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    marker = folder / MARKER
    partial = marker.with_name(MARKER + ".tmp")
    partial.write_text(json.dumps({"written_by": _WRITER, "files": list(outputs)}, indent=1) + "\n")
    os.replace(partial, marker)
