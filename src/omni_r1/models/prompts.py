"""Prompt templates of the Global system (S1).

Two styles. ``"authors"`` (the default) is the authors' wording, placeholders aside: the VOS templates of
``load_datasets/revos.py`` (``VIDEO_TIMESTAMP_FORCE_TEMPLATE`` with prompt forcing, which their final
``scripts/run_training.sh`` enables with ``--use_prompt_forcing true``, else ``VIDEO_TIMESTAMP_NO_HINT_TEMPLATE``),
``REFAVS_TEMPLATE`` of ``load_datasets/refavs.py`` (a plain-text description, which goes to the grounder as is) and
Seg-Zero's ``QUESTION_TEMPLATE`` of ``load_datasets/segzero.py`` (box and two points). ``"kit"`` is the kit's former
paraphrase of the paper's prompts (SPEC §2), RefAVS asking for one JSON moment and refCOCOg for the box alone.

Templates are configuration, not code: a run can pass its own strings. Placeholders: ``{query}`` the user's
expression, ``{duration}`` clip length in seconds, ``{examples}`` example answer blocks (prompt forcing).
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Literal, get_args

from omni_r1.answer.timestamps import format_timestamp

PromptStyle = Literal["authors", "kit"]
PROMPT_STYLES: tuple[str, ...] = get_args(PromptStyle)

_AUTHORS_VOS_TASK = (
    "Given a {duration:.1f} seconds video and a reference instruction: [{query}] that may involve temporal behavior, "
    "identify the exact object(s) [{query}] in the video that matches the description. "
    "Select about {moments} most relevant moments that contain the referred object(s) with the best view. "
    "Then, simplify the identified object into a short and clear visual grounding description that can be used for "
    "single-image reference at each moment. "
    "Avoid temporal phrases and comparison phrases like 'walking', 'moving', 'approaching', 'bigger' or 'smaller', "
    "but instead describe visible visual cues like clothing, pose, position, or grouping. "
    "Try to select moments that are **temporally well-distributed across the video**, rather than clustered in the "
    "same part of the timeline. "
    "Avoid selecting multiple timestamps that are adjacent or overlapping; instead, prefer clearly distinct moments "
    "that each offer unique visual information. "
    "It's better to choose the most relevant and highly representative moments **spanning the entire video**, "
    "rather than picking all from the beginning. "
)

# VIDEO_TIMESTAMP_FORCE_TEMPLATE: four example moments ({examples}) inside the answer format.
AUTHORS_VOS_FORCED_TEMPLATE = _AUTHORS_VOS_TASK.replace("{moments}", "4") + (
    "Explain your reasoning in <think>...</think> and output the final result in <answer>...</answer>. "
    "Your final answer should be a JSON object in the following format, which is an answer containing 4 moments:\n"
    "<think> your analysis about the video and reference instruction </think>\n"
    "<answer>\n"
    "{examples}"
    "</answer>\n"
)

# VIDEO_TIMESTAMP_NO_HINT_TEMPLATE (their --use_prompt_forcing false).
AUTHORS_VOS_TEMPLATE = _AUTHORS_VOS_TASK.replace("{moments}", "1-4") + (
    "Explain your reasoning in <think>...</think> and output the final result in <answer>...</answer> in json format "
    "with 'mm:ss.ff' format for time depiction.{examples}"
)

AUTHORS_AVS_TEMPLATE = (
    "Given a 10-second audio and a reference instruction: [{query}], which involves temporal and audio-related "
    "behavior, first analyze the objects in the image that are producing sound — including both human voices and "
    "instrument sounds. Then, based on the audio content, identify the exact object [{query}] in the image that "
    "matches the audio. Next, simplify the identified object into a short and clear visual grounding description, "
    "so that it can be unambiguously recognized in a single image without relying on audio. Avoid using temporal "
    "expressions (such as 'playing', or 'moving'), and instead describe direct visible visual cues such as "
    "clothing, pose, position, or grouping. Write your reasoning in <think>...</think> and the final result in "
    "<answer>...</answer>."
)

# The sentences are joined without spaces, as in the original.
AUTHORS_GROUNDING_TEMPLATE = (
    "Please find '{query}' with bbox and points."
    "Compare the difference between objects and find the most closely matched one."
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "Output the one bbox and points of two largest inscribed circles inside the interested object in JSON format."
    "i.e., <think> thinking process here </think>"
    '<answer>{{"bbox_2d": [x1, y1, x2, y2], "points_1": [x3, y3], "points_2": [x4, y4]}}</answer>'
)

# The authors' four forced moments: start = end, each drawn on its own.
_AUTHORS_EXAMPLE = (
    '{{\n  "start_time": "{time}",\n  "end_time": "{time}",\n'
    '  "description": "direct description of referred object(s) at this moment"\n}}\n'
)

KIT_VOS_TEMPLATE = (
    'This video lasts {duration:.1f} seconds. Instruction: "{query}". The instruction may describe how objects '
    "move or change over time. Find the object(s) it refers to. Select up to 4 moments, spread over the whole "
    "video and not adjacent, where the target is clearly visible. For each moment rewrite the target as a short "
    "description that identifies it in that single image using visible cues (appearance, clothing, pose, "
    "position, grouping), with no temporal or comparative words. First reason inside <think></think>, then give "
    "the moments inside <answer></answer> as JSON objects "
    '{{"start_time": "mm:ss.ff", "end_time": "mm:ss.ff", "description": "..."}}.{examples}'
)

KIT_AVS_TEMPLATE = (
    'You hear the full audio of a 10-second video and see its first frame. Expression: "{query}". Analyse '
    "which objects produce sound (voices, instruments, machines), identify the object the expression refers "
    "to using the audio, and rewrite it as a description that is unambiguous in a single image without audio. "
    "First reason inside <think></think>, then answer inside <answer></answer> with one JSON object "
    '{{"start_time": "00:00.00", "end_time": "00:00.00", "description": "..."}}.'
)

KIT_GROUNDING_TEMPLATE = (
    'Locate "{query}" in the image. First reason inside <think></think>, then give its bounding box in pixel '
    'coordinates of this image inside <answer></answer> as JSON {{"bbox_2d": [x1, y1, x2, y2]}}.'
)

# The defaults, by name: the authors' wording.
VOS_TEMPLATE = AUTHORS_VOS_FORCED_TEMPLATE
AVS_TEMPLATE = AUTHORS_AVS_TEMPLATE
GROUNDING_TEMPLATE = AUTHORS_GROUNDING_TEMPLATE


@dataclass
class PromptBuilder:
    """Builds the S1 user prompt for a sample.

    Args:
        style: ``"authors"`` (their wording: the authors' final script, default) or ``"kit"`` (the kit's former
            paraphrase); see the module docstring.
        prompt_forcing: VOS prompts show four example moments at random half-second timestamps, which pushes the
            model to answer with four moments. ``True`` is the authors' final script (``--use_prompt_forcing
            true``: their forced template, four independent starts ``randint(0, n - 2) / 2`` with end = start);
            with the ``"kit"`` style the examples are four distinct sorted half-seconds appended to its template
            (the kit's former default was ``False``). ``False`` gives the authors' no-hint template (without the
            example answer they add to the first 50 prompts a worker builds).
        vos_template: a template replacing the style's for video tasks (ReVOS, MeViS).
        avs_template: a template replacing the style's for audio-visual tasks (RefAVS).
        grounding_template: a template replacing the style's for the image grounding skill (refCOCOg), which
            trains the policy as the S2 grounder it also serves as.
        seed: seed of the example timestamps. They are drawn from ``(seed, query, duration)``, not from a running
            stream, so a prompt is the same in every process, loader worker and resumed run (the authors draw afresh
            at every call; a resumed run would then see other prompts than the uninterrupted one).

    Raises:
        ValueError: an unknown style.
    """

    style: PromptStyle = "authors"
    prompt_forcing: bool = True
    vos_template: str | None = None
    avs_template: str | None = None
    grounding_template: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.style not in PROMPT_STYLES:
            raise ValueError(f"PromptBuilder style must be one of {PROMPT_STYLES}, got {self.style!r}")

    def template(self, task: str) -> str:
        """The template a ``task`` prompt is built from (an override, else the style's).

        Raises:
            ValueError: an unknown task.
        """
        authors = self.style == "authors"
        if task == "vos":
            forced = AUTHORS_VOS_FORCED_TEMPLATE if self.prompt_forcing else AUTHORS_VOS_TEMPLATE
            return self.vos_template or (forced if authors else KIT_VOS_TEMPLATE)
        if task == "avs":
            return self.avs_template or (AUTHORS_AVS_TEMPLATE if authors else KIT_AVS_TEMPLATE)
        if task == "grounding":
            return self.grounding_template or (AUTHORS_GROUNDING_TEMPLATE if authors else KIT_GROUNDING_TEMPLATE)
        raise ValueError(f"unknown task {task!r}; expected 'avs', 'vos' or 'grounding'")

    def __call__(self, task: str, query: str, duration: float) -> str:
        template = self.template(task)
        if task == "grounding" and self.style == "authors":
            query = query.lower().strip(".")  # Seg-Zero's Question=question.lower().strip(".")
        examples = self._examples(duration, query) if task == "vos" else ""
        return template.format(query=query, duration=duration, examples=examples)

    def _examples(self, duration: float, query: str = "") -> str:
        if not self.prompt_forcing:
            return ""
        rng = random.Random(zlib.crc32(f"{self.seed}\0{query}\0{duration:.3f}".encode()))
        halves = max(1, int(round(duration * 2)))  # frames of the 2-fps clip
        if self.style == "authors":
            starts = [rng.randint(0, max(0, halves - 2)) for _ in range(4)]
            return "".join(_AUTHORS_EXAMPLE.format(time=format_timestamp(k / 2)) for k in starts)
        times = sorted(rng.sample(range(halves), k=min(4, halves)))
        blocks = [
            f'{{"start_time": "{format_timestamp(t / 2)}", "end_time": "{format_timestamp(t / 2)}", '
            f'"description": "..."}}'
            for t in times
        ]
        return " For example: " + " ".join(blocks)
