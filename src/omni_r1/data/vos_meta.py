"""Reading the annotation files that ReVOS and MeViS share: meta-expression files and ``mask_dict.json``.

MeViS uses ReVOS's schema (minus ``height`` / ``width`` / ``type_id``), so both readers, the scorers and the
checker parse these files through one place and report a malformed file the same way: a
:class:`~omni_r1.data.layout.DatasetFormatError` naming the file (and the video / expression) and what was expected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omni_r1.data.layout import DatasetFormatError, require_paths


def read_json(path: Path) -> Any:
    """The parsed content of an annotation file.

    Raises:
        DatasetFormatError: the file is not valid UTF-8 JSON.
    """
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetFormatError(path, f"not valid JSON ({err})") from err


def check_meta_videos(path: Path, content: Any, *, require_annos: bool = True) -> dict[str, dict[str, Any]]:
    """The ``videos`` mapping of a meta-expressions file, with its schema checked.

    Args:
        path: the file (for messages).
        content: its parsed JSON.
        require_annos: every expression must carry ``anno_id`` (MeViS ``valid`` withholds it).

    Raises:
        DatasetFormatError: a required key is missing or has the wrong type.
    """
    videos = content.get("videos") if isinstance(content, dict) else None
    if not isinstance(videos, dict):
        raise DatasetFormatError(path, 'expected a top-level object {"videos": {<video>: {...}}}')
    for vid, info in videos.items():
        if not isinstance(info, dict) or not isinstance(info.get("frames"), list) or not info["frames"]:
            raise DatasetFormatError(f"{path}[{vid}]", "expected a non-empty 'frames' list of frame names")
        if not isinstance(info.get("expressions"), dict):
            raise DatasetFormatError(f"{path}[{vid}]", "expected an 'expressions' object")
        for exp_id, exp in info["expressions"].items():
            annos = exp.get("anno_id", None if require_annos else []) if isinstance(exp, dict) else None
            if (
                not isinstance(exp, dict)
                or not isinstance(exp.get("exp"), str)
                or not isinstance(annos, list)
                or not all(isinstance(a, int) for a in annos)
            ):
                raise DatasetFormatError(
                    f"{path}[{vid}][{exp_id}]", "expected keys 'exp' (str) and 'anno_id' (list of int)"
                )
    return videos


def read_mask_dict(root: str | Path, *, dataset: str, layout: str) -> dict[str, list[dict[str, Any] | None]]:
    """``<root>/mask_dict.json``: per annotation id, one COCO RLE (or null) per frame.

    Args:
        root: the folder holding ``mask_dict.json`` (a MeViS split folder, the ReVOS root).
        dataset: dataset name for the missing-file message.
        layout: the expected layout tree, shown when the file is missing.

    Raises:
        DatasetLayoutError: the file is missing.
        DatasetFormatError: it is not JSON, or not an object.
    """
    path = Path(root) / "mask_dict.json"
    require_paths(dataset, root, [path], layout)
    masks = read_json(path)
    if not isinstance(masks, dict):
        raise DatasetFormatError(path, 'expected an object {"<anno_id>": [RLE or null per frame]}')
    return masks
