"""Prompt templates of the Detail system's grounder (S2), as configuration.

The wording follows the meaning of the paper's S2 prompts (SPEC §2): on VOS keyframes the grounder is asked to
ground *all* objects a rewritten description refers to, as Qwen2.5-VL style JSON boxes
``[{"bbox_2d": [x1, y1, x2, y2], "label": ...}]`` in the pixel coordinates of the image it is shown; on RefAVS it
is asked for the box of the one object the description names. A run may pass its own strings; ``{description}``
is the only placeholder.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omni_r1.validation import as_arguments, require, require_str

VOS_GROUNDING_TEMPLATE = (
    'Given the expression "{description}", locate all objects in the image that the expression refers to. '
    'Output their bounding boxes as JSON: [{{"bbox_2d": [x1, y1, x2, y2], "label": "..."}}, ...].'
)

AVS_GROUNDING_TEMPLATE = (
    'Find the bounding box of "{description}" in the image. Output it in JSON format: '
    '[{{"bbox_2d": [x1, y1, x2, y2], "label": "..."}}].'
)


@dataclass
class GroundingPrompts:
    """The grounder's instruction per task family.

    Args:
        vos: template for video keyframes (ReVOS, MeViS): every referred object gets a box.
        avs: template for the RefAVS first frame: one box for the described sounding object.
    """

    vos: str = VOS_GROUNDING_TEMPLATE
    avs: str = AVS_GROUNDING_TEMPLATE

    def __post_init__(self) -> None:
        self.validate_init_args(as_arguments(self))

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a template that names another placeholder than
        ``{description}`` or does not parse (it would fail at the first grounding call otherwise)."""
        for key in ("vos", "avs"):
            template = args.get(key)
            require_str(key, template)
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
            except ValueError as err:
                names = {f"<{err}>"}
            allowed = "must be a format string whose only placeholder is {description} (write {{ }} for braces)"
            require(names <= {"description"}, key, template, allowed)

    def __call__(self, description: str, task: str = "vos") -> str:
        """The instruction for one description.

        Raises:
            ValueError: an unknown task family.
        """
        if task == "vos":
            return self.vos.format(description=description)
        if task == "avs":
            return self.avs.format(description=description)
        raise ValueError(f"grounding prompt: unknown task {task!r}; expected 'vos' or 'avs'")
