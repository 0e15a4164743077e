"""Prompt templates of the Global system (S1).

The wording follows the meaning of the paper's prompts (SPEC §2); it is configuration, not code: a run can
pass its own template strings. Placeholders: ``{query}`` the user's expression, ``{duration}`` clip length in
seconds, ``{examples}`` example answer blocks (prompt forcing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from omni_r1.answer.timestamps import format_timestamp

VOS_TEMPLATE = (
    'This video lasts {duration:.1f} seconds. Instruction: "{query}". The instruction may describe how objects '
    "move or change over time. Find the object(s) it refers to. Select up to 4 moments, spread over the whole "
    "video and not adjacent, where the target is clearly visible. For each moment rewrite the target as a short "
    "description that identifies it in that single image using visible cues (appearance, clothing, pose, "
    "position, grouping), with no temporal or comparative words. First reason inside <think></think>, then give "
    "the moments inside <answer></answer> as JSON objects "
    '{{"start_time": "mm:ss.ff", "end_time": "mm:ss.ff", "description": "..."}}.{examples}'
)

AVS_TEMPLATE = (
    'You hear the full audio of a 10-second video and see its first frame. Expression: "{query}". Analyse '
    "which objects produce sound (voices, instruments, machines), identify the object the expression refers "
    "to using the audio, and rewrite it as a description that is unambiguous in a single image without audio. "
    "First reason inside <think></think>, then answer inside <answer></answer> with one JSON object "
    '{{"start_time": "00:00.00", "end_time": "00:00.00", "description": "..."}}.'
)

GROUNDING_TEMPLATE = (
    'Locate "{query}" in the image. First reason inside <think></think>, then give its bounding box in pixel '
    'coordinates of this image inside <answer></answer> as JSON {{"bbox_2d": [x1, y1, x2, y2]}}.'
)


@dataclass
class PromptBuilder:
    """Builds the S1 user prompt for a sample.

    Args:
        vos_template: template for video tasks (ReVOS, MeViS).
        avs_template: template for audio-visual tasks (RefAVS).
        grounding_template: template for the image grounding skill (refCOCOg), which trains the policy as the S2
            grounder it also serves as.
        prompt_forcing: append four example JSON blocks with random half-second timestamps (the authors'
            "prompt forcing" variant, which pushes the model to answer with exactly four moments).
        seed: seed of the example timestamps, so a run's prompts are reproducible.
    """

    vos_template: str = VOS_TEMPLATE
    avs_template: str = AVS_TEMPLATE
    grounding_template: str = GROUNDING_TEMPLATE
    prompt_forcing: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def __call__(self, task: str, query: str, duration: float) -> str:
        if task == "avs":
            return self.avs_template.format(query=query, duration=duration, examples="")
        if task == "vos":
            return self.vos_template.format(query=query, duration=duration, examples=self._examples(duration))
        if task == "grounding":
            return self.grounding_template.format(query=query, duration=duration, examples="")
        raise ValueError(f"unknown task {task!r}; expected 'avs', 'vos' or 'grounding'")

    def _examples(self, duration: float) -> str:
        if not self.prompt_forcing:
            return ""
        halves = max(1, int(duration * 2))
        times = sorted(self._rng.sample(range(halves), k=min(4, halves)))
        blocks = [
            f'{{"start_time": "{format_timestamp(t / 2)}", "end_time": "{format_timestamp(t / 2)}", '
            f'"description": "..."}}'
            for t in times
        ]
        return " For example: " + " ".join(blocks)
