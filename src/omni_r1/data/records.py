"""The record of a question-answering prompt (AVHBench judge questions, multiple-choice video / audio QA).

Segmentation and grounding prompts are :class:`~omni_r1.data.types.VideoSample` records (refCOCOg is a one-frame
``VideoSample`` with ``task="grounding"``, the form the rewards read); QA prompts have no masks but options and an
answer, so they get their own record. ``task`` is ``"qa"`` for every QA record, so the mixture's batch sampler
never puts them in a batch with segmentation prompts.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from torch import Tensor

LETTERS = string.ascii_uppercase


@dataclass
class QASample:
    """One question over a video, an image and/or an audio track, with a closed set of answers.

    Args:
        dataset: source dataset name (``"avhbench"``, or the name given to a VideoQA root).
        task: task family, always ``"qa"``.
        sample_id: question id, unique within the dataset.
        video_id: name of the media the question is about (file stem).
        question: the question text as published.
        options: the answers to choose from; ``["yes", "no"]`` for judge (yes/no) questions.
        answer_index: index of the correct option.
        category: the benchmark's sub-task (AVHBench ``task``, Video-MME domain, MVBench task...).
        frames: ``(n, 3, H, W)`` uint8 frames shown to the Global system, or ``None`` for audio-only questions.
        s1_indices: ``(n,)`` indices into ``frames`` (all of them: only the clip is kept).
        audio: ``(L,)`` float32 mono waveform at ``sample_rate``, or ``None``.
        sample_rate: audio sample rate in Hz.
        fps: rate at which the ``n`` frames cover the video, so that ``duration = n / fps`` is its length (2.0
            unless the frame cap thinned a long video out).
    """

    dataset: str
    task: str
    sample_id: str
    video_id: str
    question: str
    options: list[str]
    answer_index: int
    category: str
    frames: Tensor | None
    s1_indices: Tensor
    audio: Tensor | None = None
    sample_rate: int = 16000
    fps: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.answer_index < len(self.options):
            raise ValueError(
                f"QASample {self.sample_id}: answer_index {self.answer_index} is outside {len(self.options)} options"
            )

    @property
    def answer(self) -> str:
        """Text of the correct option."""
        return self.options[self.answer_index]

    @property
    def answer_letter(self) -> str:
        """Letter of the correct option (``"A"`` for the first)."""
        return LETTERS[self.answer_index]

    @property
    def is_yes_no(self) -> bool:
        """Whether this is a judge question answered by yes or no."""
        return [o.lower() for o in self.options] == ["yes", "no"]

    @property
    def duration(self) -> float:
        """Length in seconds of the video the frames cover (0 for audio-only or image questions)."""
        return len(self.s1_indices) / self.fps if self.frames is not None and self.frames.shape[0] > 1 else 0.0

    def lettered_options(self) -> list[str]:
        """Options as ``"A. text"``, keeping a letter the benchmark already wrote (``"A. text"`` or ``"(A) text"``)."""
        out = []
        for letter, option in zip(LETTERS, self.options):
            written = option.lstrip().startswith((f"{letter}.", f"({letter})", f"{letter})"))
            out.append(option if written else f"{letter}. {option}")
        return out


def empty_indices() -> Tensor:
    """``s1_indices`` of a question without frames."""
    return torch.zeros(0, dtype=torch.long)
