"""The sounding-shapes task: its ground truth agrees with what the frames and the audio show, held-out splits hold
unseen colour/kind pairs, and the kit's DataModules read both layouts back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from omni_r1.data.refavs import RefAVSDataset
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic.render import SAMPLE_RATE, TONES_HZ
from omni_r1.data.synthetic.sounding import FRAMES, HELD_OUT_PAIRS, SECONDS, SoundingClip, describe
from omni_r1.data.synthetic.sounding_layouts import (
    MARKER,
    VERSION,
    SoundingTask,
    build_sounding_task,
    write_sounding_task,
)

SIZES = {"train_clips": 4, "val_clips": 2, "test_clips": 3, "seed": 0}


@pytest.fixture(scope="module")
def task() -> SoundingTask:
    return build_sounding_task(**SIZES)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sounding_task(tmp_path_factory.mktemp("sounding") / "task", **SIZES)


def _clips(task: SoundingTask) -> list[SoundingClip]:
    return [clip for clips in (*task.vos.values(), *task.avs.values()) for clip in clips]


def heard_seconds(audio: np.ndarray) -> dict[str, list[int]]:
    """Per colour, the seconds in which its tone is in the audio (read off the waveform's spectrum)."""
    heard: dict[str, list[int]] = {}
    for second in range(SECONDS):
        window = audio[second * SAMPLE_RATE : (second + 1) * SAMPLE_RATE].astype(np.float64)
        spectrum = np.abs(np.fft.rfft(window)) / len(window)  # 1 Hz bins
        for colour, hz in TONES_HZ.items():
            if spectrum[int(hz)] > 50:  # a sounding object's tone is ~1000 here; silence and other tones ~0
                heard.setdefault(colour, []).append(second)
    return heard


def movement_start(masks: np.ndarray) -> int:
    """The first frame at which a shape's mask moved from the frame before (while on screen in both)."""
    centres = [np.argwhere(m).mean(axis=0) if m.any() else None for m in masks]
    for t in range(1, len(masks)):
        if centres[t] is not None and centres[t - 1] is not None and not np.allclose(centres[t], centres[t - 1]):
            return t
    return len(masks)


def test_audio_queries_name_the_object_the_audio_says(task: SoundingTask) -> None:
    checked = 0
    for clip in (c for clips in task.avs.values() for c in clips if c.queries[0].type == "audio"):
        heard = heard_seconds(clip.audio)
        colours = [obj.shape.colour for obj in clip.objects]
        for obj in clip.objects:  # the object sounds exactly in its seconds, and only while on screen
            expected = list(range(*obj.sounding)) if obj.sounding else []
            assert heard.get(obj.shape.colour, []) == expected
            assert all(obj.shape.visible[0] <= s < obj.shape.visible[1] for s in expected)
        onset = {c: seconds[0] for c, seconds in heard.items()}
        answer = {
            "the first object to make a sound": min(onset, key=onset.get),
            "the last object to make a sound": max(onset, key=onset.get),
            "the object making the highest sound": max(onset, key=TONES_HZ.get),
            "the object making the lowest sound": min(onset, key=TONES_HZ.get),
        }
        silent = [c for c in colours if c not in heard]
        if len(silent) == 1:
            answer["the silent object"] = silent[0]
        assert sorted(q.text for q in clip.queries) == sorted(answer)
        for query in clip.queries:
            (target,) = query.targets
            assert colours[target] == answer[query.text]
            assert clip.video.masks[target, 0].any()  # S1 sees frame 0: the target is on it
            checked += 1
    assert checked >= 20


def test_video_queries_name_the_object_the_frames_show(task: SoundingTask) -> None:
    for clip in (c for clips in task.vos.values() for c in clips):
        masks = clip.video.masks  # (3, T, H, W)
        starts = [movement_start(masks[o]) for o in range(len(clip.objects))]
        assert len(set(starts)) == len(starts)
        texts = {q.text: q for q in clip.queries}
        assert texts["the shape that starts moving first"].targets == (int(np.argmin(starts)),)
        assert texts["the shape that starts moving last"].targets == (int(np.argmax(starts)),)
        (late,) = texts["the shape that appears late"].targets
        (early,) = texts["the shape that leaves early"].targets
        assert not masks[late, 0].any() and masks[late, -1].any()
        assert masks[early, 0].any() and not masks[early, -1].any()
        for query in (q for q in clip.queries if q.type == "referring"):
            (target,) = query.targets
            t = int(masks[target].reshape(FRAMES, -1).sum(axis=1).argmax())
            assert describe(clip.video.frames[t], masks[target, t]) == query.text


def test_shapes_never_touch_and_held_out_pairs_stay_out_of_training(task: SoundingTask) -> None:
    for clip in _clips(task):
        assert clip.video.masks.sum(axis=0).max() <= 1  # no pixel is two objects' (so none was occluded)
        assert len({o.shape.colour for o in clip.objects}) == len({o.shape.kind for o in clip.objects}) == 3
    seen = {(o.shape.colour, o.shape.kind) for s in ("train", "valid", "test") for c in task.vos[s] for o in c.objects}
    seen |= {(o.shape.colour, o.shape.kind) for s in ("train", "val", "test_s") for c in task.avs[s] for o in c.objects}
    assert not seen & HELD_OUT_PAIRS
    for clip in [*task.vos["heldout"], *task.avs["test_u"], *task.avs["test_n"]]:
        assert {(o.shape.colour, o.shape.kind) for o in clip.objects} & HELD_OUT_PAIRS
    for clip in task.avs["test_n"]:  # null queries: no object has both the colour and the kind asked for
        names = {o.name for o in clip.objects}
        assert [q.type for q in clip.queries] == ["null", "null"]
        assert all(q.text.removeprefix("the ") not in names and not q.targets for q in clip.queries)


def test_same_seed_same_task() -> None:
    a, b = build_sounding_task(**SIZES), build_sounding_task(**{**SIZES, "train_clips": 2})
    for first, second in zip(a.vos["heldout"], b.vos["heldout"]):  # a split does not depend on the others' sizes
        np.testing.assert_array_equal(first.video.frames, second.video.frames)
        assert first.queries == second.queries


def test_the_kits_datamodules_read_both_layouts(root: Path, task: SoundingTask) -> None:
    train = ReVOSDataset(root / "revos", "train", False, min_frames=10, max_frames=10, check_level="decode")
    assert len(train) == sum(len(c.queries) for c in task.vos["train"])
    clips = {c.video.video_id: c for c in task.vos["train"]}
    for index in range(len(train)):
        sample = train[index]
        clip = clips[sample.video_id]
        query = clip.queries[int(sample.exp_id)]
        assert sample.expression == query.text and sample.expression_type == {"referring": 0, "temporal": 1}[query.type]
        assert torch.equal(sample.masks[0], torch.from_numpy(clip.video.masks[query.targets[0]]))
    for folder, split in (("revos_heldout", "heldout"), ("revos_seen", "test")):
        dataset = ReVOSDataset(root / folder, "valid", False, min_frames=10, max_frames=10)
        assert {dataset[i].video_id for i in range(len(dataset))} == {c.video.video_id for c in task.vos[split]}
    for split in ("train", "val", "test_s", "test_u", "test_n"):
        dataset = RefAVSDataset(root / "refavs", split, check_level="decode")
        clips = {c.video.video_id: c for c in task.avs[split]}
        assert len(dataset) == sum(len(c.queries) for c in clips.values())
        for index in range(len(dataset)):
            sample = dataset[index]
            clip = clips[sample.video_id]
            assert sample.audio is not None and sample.audio.shape == (SECONDS * SAMPLE_RATE,)
            query = next(q for q in clip.queries if q.text == sample.expression)
            expected = clip.video.masks[query.targets[0]] if query.targets else np.zeros_like(clip.video.masks[0])
            assert torch.equal(sample.masks[0], torch.from_numpy(expected))
    assert json.loads((root / MARKER).read_text()) == {**SIZES, "version": VERSION}
    assert write_sounding_task(root, **SIZES) == root  # written once: the marker matches
    (root.parent / "other").mkdir()
    (root.parent / "other" / "data.txt").write_text("not ours")
    with pytest.raises(FileExistsError, match="not a sounding-task root"):
        write_sounding_task(root.parent / "other", **SIZES)
