"""The expressions of a ReVOS / MeViS meta file as records, and the training filters both datasets share.

The authors' loader (``load_datasets/revos.py``) skips target-less expressions in training and keeps those with more
targets than ``max_objects`` with a random subset; :func:`validate_expression_filters` checks the keys that choose
between that and the kit's former behaviour.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from omni_r1.validation import require_bool, require_choice, require_int

OverMaxObjects = Literal["subset", "drop"]
OVER_MAX_OBJECTS: tuple[str, ...] = get_args(OverMaxObjects)


def validate_expression_filters(args: Mapping[str, Any]) -> None:
    """``max_objects`` (``>= 1`` or ``None``), ``over_max_objects``, ``skip_targetless`` and ``per_video``, the
    training filters ReVOS and MeViS share."""
    require_int("max_objects", args.get("max_objects"), minimum=1, optional=True, note="null keeps every target")
    require_choice("over_max_objects", args.get("over_max_objects"), OVER_MAX_OBJECTS)
    require_bool("skip_targetless", args.get("skip_targetless"))
    require_bool("per_video", args.get("per_video"))


@dataclass(frozen=True)
class ExpressionItem:
    video: str
    exp_id: str
    expression: str
    anno_ids: tuple[int, ...]
    type_id: int
    targetless: bool  # empty ``obj_id`` (the authors' test) or no ``anno_id``: nothing to segment


def expression_item(video: str, exp_id: str, exp: dict[str, Any]) -> ExpressionItem:
    anno_ids = tuple(int(a) for a in exp.get("anno_id", []))
    # The authors' loader treats a missing ``obj_id`` as one object ([0]) and skips an empty one in training.
    targetless = not exp.get("obj_id", [0]) or not anno_ids
    return ExpressionItem(video, exp_id, exp["exp"], anno_ids, int(exp.get("type_id", 0)), targetless)


def expression_key(video: str, exp_id: str) -> int:
    """A stable integer for a (video, expression) pair: the same in every process and run (``hash`` is salted)."""
    return zlib.crc32(f"{video}\0{exp_id}".encode())
