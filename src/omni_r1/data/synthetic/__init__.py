"""Tiny datasets written in the official layouts (RefAVS, ReVOS, MeViS, refCOCOg, AVHBench, VideoQA JSONL), for
demos and tests without downloads.

Videos show 2-3 coloured shapes (circle, square, triangle) bouncing over a plain background
(:mod:`~omni_r1.data.synthetic.render`); the files are written by :mod:`~omni_r1.data.synthetic.writers`, one
module per layout. ``build_*`` return the content in memory (what tests compare against); ``write_*`` put it on
disk; :func:`ensure_synthetic` writes a root once and redoes a half-written one. Same arguments and seed, same
content.

:mod:`~omni_r1.data.synthetic.sounding` is a task family of its own (written by
:func:`~omni_r1.data.synthetic.sounding_layouts.write_sounding_task` in the ReVOS and RefAVS layouts): shapes that
start moving, appear, leave and sound at their own times, with referring, temporal, audio and null queries and
held-out colour/kind pairs, the data of ``experiments/mini_repro``.
"""

from __future__ import annotations

from omni_r1.data.synthetic.avhbench import AVHBENCH_TASKS, SyntheticAVHBench, build_avhbench, write_avhbench
from omni_r1.data.synthetic.ensure import MARKER, ensure_synthetic
from omni_r1.data.synthetic.mevis import MEVIS_SPLITS, SyntheticMeViS, build_mevis, write_mevis
from omni_r1.data.synthetic.refavs import (
    REFAVS_COLUMNS,
    REFAVS_FRAMES,
    REFAVS_NULL_SPLIT,
    REFAVS_SPLITS,
    SyntheticRefAVS,
    build_refavs,
    write_refavs,
)
from omni_r1.data.synthetic.refcocog import REFCOCOG_SPLITS, SyntheticRefCOCOg, build_refcocog, write_refcocog
from omni_r1.data.synthetic.render import COLOURS, KINDS, SAMPLE_RATE, TONES_HZ, Shape, SyntheticVideo, render
from omni_r1.data.synthetic.revos import SyntheticReVOS, build_revos, write_revos
from omni_r1.data.synthetic.sounding_layouts import SoundingTask, build_sounding_task, write_sounding_task
from omni_r1.data.synthetic.targets import expression_target
from omni_r1.data.synthetic.videoqa import SyntheticVideoQA, build_videoqa, write_videoqa
from omni_r1.data.synthetic.writers import encode_rle, write_mp4

_write_mp4 = write_mp4  # the name the single-module version had; tests written against it still import it

__all__ = [
    "AVHBENCH_TASKS",
    "COLOURS",
    "KINDS",
    "MARKER",
    "MEVIS_SPLITS",
    "REFAVS_COLUMNS",
    "REFAVS_FRAMES",
    "REFAVS_NULL_SPLIT",
    "REFAVS_SPLITS",
    "REFCOCOG_SPLITS",
    "SAMPLE_RATE",
    "TONES_HZ",
    "Shape",
    "SoundingTask",
    "SyntheticAVHBench",
    "SyntheticMeViS",
    "SyntheticReVOS",
    "SyntheticRefAVS",
    "SyntheticRefCOCOg",
    "SyntheticVideo",
    "SyntheticVideoQA",
    "build_avhbench",
    "build_mevis",
    "build_refavs",
    "build_refcocog",
    "build_revos",
    "build_sounding_task",
    "build_videoqa",
    "encode_rle",
    "ensure_synthetic",
    "expression_target",
    "render",
    "write_avhbench",
    "write_mevis",
    "write_mp4",
    "write_refavs",
    "write_refcocog",
    "write_revos",
    "write_sounding_task",
    "write_videoqa",
]
