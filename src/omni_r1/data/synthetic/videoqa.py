"""A synthetic VideoQA root: multiple-choice questions in each of the format's three media forms.

An mp4 with its own audio track (Video-MME style), an image plus a wav (OmniBench style) and a JPEG frame folder
(MVBench style); see :mod:`omni_r1.data.videoqa` for the format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omni_r1.data.synthetic.render import COLOURS, SyntheticVideo, draw_video, tone, video_rng
from omni_r1.data.synthetic.writers import write_frames, write_jpg, write_mp4, write_wav


@dataclass
class SyntheticVideoQA:
    """In-memory VideoQA content: the JSONL entries, and the pictures behind each media path."""

    entries: list[dict[str, Any]]
    videos: dict[str, SyntheticVideo]


def build_videoqa(
    *, num_videos: int = 2, seconds: float = 2.0, fps: float = 4.0, height: int = 64, width: int = 96, seed: int = 0
) -> SyntheticVideoQA:
    """Generate VideoQA entries of the three media forms of the format: an mp4 with its own audio track
    (Video-MME style), an image plus a wav (OmniBench style) and a JPEG frame folder (MVBench style)."""
    data = SyntheticVideoQA([], {})
    num_frames = max(2, round(seconds * fps))
    colours = list(COLOURS)
    for i in range(num_videos):
        vid = f"qa_{i:03d}"
        rng = video_rng(seed, vid)
        count = int(rng.integers(2, 4))
        video = draw_video(vid, rng, num_frames, height, width, speeds=[1.0] * count, absent=False)
        data.videos[vid] = video
        sounding = video.shapes[int(rng.integers(count))]
        absent = next(c for c in colours if c not in {s.colour for s in video.shapes})
        options = [f"the {s.name}" for s in video.shapes] + [f"the {absent} circle"]
        data.entries.append(
            {
                "id": f"{vid}_sound",
                "video": f"videos/{vid}.mp4",
                "audio": "video",
                "question": "Which shape makes the sound you hear?",
                "options": options,
                "answer": "ABCD"[options.index(f"the {sounding.name}")],
                "category": "audio-visual",
            }
        )
        data.entries.append(
            {
                "id": f"{vid}_image",
                "image": f"images/{vid}.jpg",
                "audio": f"audio/{vid}.wav",
                "question": f"What colour is the {video.shapes[0].kind} in the picture?",
                "options": ["red", "green", "blue", "yellow", "purple"],
                "answer": video.shapes[0].colour,
                "category": "image-audio",
            }
        )
        data.entries.append(
            {
                "id": f"{vid}_count",
                "video": f"frames/{vid}",
                "video_fps": fps,
                "question": "How many shapes move in the video?",
                "options": ["(A) 1", "(B) 2", "(C) 3", "(D) 4"],
                "answer": count - 1,
                "category": "counting",
            }
        )
    return data


def write_videoqa(
    root: str | Path,
    *,
    num_videos: int = 2,
    seconds: float = 2.0,
    fps: float = 4.0,
    height: int = 64,
    width: int = 96,
    seed: int = 0,
    split: str = "test",
) -> Path:
    """Write a VideoQA root (``<split>.jsonl`` + ``videos/``, ``images/``, ``audio/``, ``frames/``); see
    :func:`build_videoqa` and :mod:`omni_r1.data.videoqa` for the format. Returns ``root``."""
    root = Path(root)
    data = build_videoqa(num_videos=num_videos, seconds=seconds, fps=fps, height=height, width=width, seed=seed)
    for folder in ("videos", "images", "audio", "frames"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for vid, video in data.videos.items():
        sounding = next(e for e in data.entries if e["id"] == f"{vid}_sound")["answer"]
        colour = video.shapes["ABCD".index(sounding)].colour
        write_mp4(root / "videos" / f"{vid}.mp4", video.frames, fps, tone(colour, len(video.frames) / fps))
        write_jpg(root / "images" / f"{vid}.jpg", video.frames[0])
        write_wav(root / "audio" / f"{vid}.wav", tone(video.shapes[0].colour, 1.0))
        write_frames(root / "frames" / vid, video.frames)
    with open(root / f"{split}.jsonl", "w") as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in data.entries)
    return root
