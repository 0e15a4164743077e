"""The Global system's preprocessing: records to processor inputs (chat template, pixel budgets, audio features).

It is the part of the policy that needs no weights, so it runs where data is prepared: a DataModule's collate,
in its loader workers (:class:`~omni_r1.data.types.SampleCollator`), off the training process and outside the
trainer's autocast. Under ``precision: bf16-mixed`` autocast would run the processor's torch ops in bfloat16,
which the Whisper feature extractor refuses (``Got unsupported ScalarType BFloat16``); :func:`no_autocast` keeps
the callers that still preprocess on the training process (evaluation, predict, the S2 grounder) in full
precision.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from omni_r1.data.types import ProcessedBatch, VideoSample
from omni_r1.models.prompts import PromptBuilder
from omni_r1.validation import as_arguments, require_int


@dataclass
class PixelBudget:
    """Per-frame pixel bounds handed to the Qwen2-VL image / video processors.

    Args:
        min_pixels: lower bound of ``H·W`` after resizing (paper: 16·28·28).
        max_pixels: upper bound of ``H·W`` after resizing (paper: 128·28·28 for S1, 900·28·28 for S2).
    """

    min_pixels: int = 16 * 28 * 28
    max_pixels: int = 128 * 28 * 28

    def __post_init__(self) -> None:
        self.validate_init_args(as_arguments(self))

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` unless ``1 <= min_pixels <= max_pixels``."""
        require_int("min_pixels", args.get("min_pixels"), minimum=1)
        require_int("max_pixels", args.get("max_pixels"), minimum=args["min_pixels"], note="and >= min_pixels")

    def as_size(self) -> dict[str, int]:
        return {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}


# The authors' image path (RefAVS first frame, Seg-Zero images) allows up to 1600·28·28 pixels, where a video frame
# gets 128·28·28 (paper) / 100·28·28 (code).
AUTHORS_IMAGE_MAX_PIXELS = 1600 * 28 * 28


def image_budget(pixels: PixelBudget, image_pixels: PixelBudget | None) -> PixelBudget:
    """The budget of single images: ``image_pixels`` when given, else the authors' (the frame budget's minimum, at
    most :data:`AUTHORS_IMAGE_MAX_PIXELS`, never below the frame budget's maximum)."""
    if image_pixels is not None:
        return image_pixels
    return PixelBudget(min_pixels=pixels.min_pixels, max_pixels=max(AUTHORS_IMAGE_MAX_PIXELS, pixels.max_pixels))


@contextmanager
def no_autocast() -> Iterator[None]:
    """Switch autocast off (CPU, and CUDA where present) for the body: preprocessing is not model compute."""
    with ExitStack() as stack:
        for device in ("cpu", "cuda"):
            if device == "cuda" and not torch.cuda.is_available():
                continue
            if torch.is_autocast_enabled(device):
                stack.enter_context(torch.autocast(device, enabled=False))
        yield


class OmniPreprocessor:
    """Turns prompts into the thinker's processor inputs; picklable, so loader workers can run it.

    Args:
        processor: the ``Qwen2_5OmniProcessor`` of the policy (its tokenizer pads on the left).
        pixels: per-frame pixel budget of the S1 frames.
        fps: frame rate the S1 clip is presented at.
        prompts: builds the S1 instruction for a sample.
        image_pixels: pixel budget of single images (RefAVS's first frame, refCOCOg); ``None`` uses ``pixels``.
    """

    def __init__(
        self,
        processor: Any,
        pixels: PixelBudget,
        fps: float,
        prompts: PromptBuilder,
        image_pixels: PixelBudget | None = None,
    ) -> None:
        self.processor = processor
        self.pixels = pixels
        self.image_pixels = image_pixels or pixels
        self.fps = fps
        self.prompts = prompts

    def conversation(self, sample: VideoSample) -> tuple[list[dict], Tensor | None, Tensor | None, Tensor | None]:
        """Chat turns and media of one sample: (messages, image, video, audio).

        RefAVS shows S1 the first frame as an image with the full audio; grounding (refCOCOg) shows the image;
        video tasks show the 2-fps clip (and the audio track when the dataset has one).
        """
        text = self.prompts(sample.task, sample.expression, sample.duration)
        content: list[dict] = []
        image = video = None
        if sample.task in ("avs", "grounding"):
            image = sample.frames[int(sample.s1_indices[0])]
            content.append({"type": "image"})
        else:
            video = sample.frames[sample.s1_indices]
            content.append({"type": "video"})
        audio = sample.audio
        if audio is not None:
            content.append({"type": "audio"})
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}], image, video, audio

    def inputs(self, samples: Sequence[VideoSample], responses: Sequence[str] | None = None) -> dict:
        """The processor's tensors for a batch (CPU, left-padded); with ``responses`` each answer is appended
        for teacher forcing. Runs with autocast off."""
        texts, images, videos, audios = [], [], [], []
        for i, sample in enumerate(samples):
            messages, image, video, audio = self.conversation(sample)
            text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            if responses is not None:
                text = text + responses[i] + "<|im_end|>"
            texts.append(text)
            if image is not None:
                images.append(image)
            if video is not None:
                videos.append(video)
            if audio is not None:
                audios.append(audio.float().cpu().numpy())
        kwargs: dict = {"text": texts, "return_tensors": "pt", "padding": True}
        if images:
            kwargs["images"] = images
            kwargs["images_kwargs"] = {"size": self.image_pixels.as_size()}
        if videos:
            kwargs["videos"] = videos
            kwargs["videos_kwargs"] = {
                "size": self.pixels.as_size(),
                "fps": float(self.fps),
                "do_sample_frames": False,
                "cap_pixels_per_frame": True,
            }
        if audios:
            kwargs["audio"] = audios
        with no_autocast():
            return dict(self.processor(**kwargs))

    def __call__(self, samples: Sequence[VideoSample]) -> ProcessedBatch:
        """A loader batch: the records and their prompt inputs (what :meth:`GlobalSystem.encode` takes)."""
        samples = list(samples)
        return ProcessedBatch(samples, self.inputs(samples))


def model_image_sizes(inputs: Mapping[str, Any]) -> list[tuple[int, int]]:
    """``(H, W)`` of each prompt's image as the model saw it (after the processor's resize), from the grids."""
    grid = inputs.get("image_grid_thw")
    if grid is None:
        return []
    return [(int(h) * 14, int(w) * 14) for _, h, w in grid.tolist()]
