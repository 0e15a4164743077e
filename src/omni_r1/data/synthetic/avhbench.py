"""A synthetic AVHBench root (published v0 layout): yes/no audio-visual hallucination questions over real mp4s.

Each video comes twice: with the tone of a visible shape, and as ``<id>_swap`` with the tone of an absent colour,
so the AV-matching task has both answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omni_r1.data.synthetic.render import COLOURS, SyntheticVideo, draw_video, tone, video_rng
from omni_r1.data.synthetic.writers import write_json, write_mp4

AVHBENCH_TASKS = (
    "Audio-driven Video Hallucination",
    "Video-driven Audio Hallucination",
    "AV Matching",
    "AV Captioning",
)


@dataclass
class SyntheticAVHBench:
    """In-memory AVHBench content: ``qa`` records per json file stem, the clips, and each mp4's sounding colour."""

    qa: dict[str, list[dict[str, str]]]
    videos: dict[str, SyntheticVideo]
    sounds: dict[str, str]


def build_avhbench(
    *, num_videos: int = 2, seconds: float = 2.0, fps: float = 4.0, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticAVHBench:
    """Generate AVHBench content in the published v0 schema (one json list of ``video_id, task, text, label`` per
    video). Each video ``<id>`` has a real mp4 whose tone belongs to a visible shape and a ``<id>_swap`` mp4 whose
    tone belongs to an absent colour; questions cover the four published tasks with yes and no answers."""
    data = SyntheticAVHBench({}, {}, {})
    num_frames = max(2, round(seconds * fps))
    for i in range(num_videos):
        vid = f"{i + 1:05d}"
        rng = video_rng(seed, f"avh_{vid}")
        count = int(rng.integers(2, 4))
        video = draw_video(vid, rng, num_frames, height, width, speeds=[1.0] * count, absent=False)
        shapes = video.shapes
        sounding = shapes[int(rng.integers(count))]
        silent = next(s for s in shapes if s is not sounding)
        absent = next(c for c in COLOURS if c not in {s.colour for s in shapes})
        data.videos[vid] = data.videos[f"{vid}_swap"] = video
        data.sounds[vid], data.sounds[f"{vid}_swap"] = sounding.colour, absent

        def record(video_id: str, task: str, text: str, label: str) -> dict[str, str]:
            return {"video_id": video_id, "task": task, "text": text, "label": label}

        a2v, v2a, match, caption = AVHBENCH_TASKS
        data.qa[vid] = [
            record(vid, a2v, f"Is the {sounding.name} visible in the video?", "Yes"),
            record(vid, a2v, f"Is the {absent} {sounding.kind} visible in the video?", "No"),
            record(vid, v2a, f"Is the {sounding.name} making sound in the audio?", "Yes"),
            record(vid, v2a, f"Is the {silent.name} making sound in the audio?", "No"),
            record(vid, match, "Are the contexts of audio and visual content matching?", "Yes"),
            record(f"{vid}_swap", match, "Are the contexts of audio and visual content matching?", "No"),
            record(vid, caption, "Describe what you see and hear in a single sentence.", f"A {sounding.name} hums."),
        ]
    return data


def write_avhbench(
    root: str | Path,
    *,
    num_videos: int = 2,
    seconds: float = 2.0,
    fps: float = 4.0,
    height: int = 64,
    width: int = 96,
    seed: int = 0,
) -> Path:
    """Write an AVHBench root in the published v0 layout (``json/<video_id>.json``, ``video/<video_id>.mp4`` and
    ``video/<video_id>_swap.mp4``, audio inside the mp4); see :func:`build_avhbench`. Returns ``root``."""
    root = Path(root)
    data = build_avhbench(num_videos=num_videos, seconds=seconds, fps=fps, height=height, width=width, seed=seed)
    (root / "json").mkdir(parents=True, exist_ok=True)
    (root / "video").mkdir(parents=True, exist_ok=True)
    for stem, records in data.qa.items():
        write_json(root / "json" / f"{stem}.json", records, indent=2)
    for video_id, video in data.videos.items():
        sound = tone(data.sounds[video_id], len(video.frames) / fps)
        write_mp4(root / "video" / f"{video_id}.mp4", video.frames, fps, sound)
    return root
