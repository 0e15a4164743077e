"""The weight-free colour/shape grounder finds every object of the sounding-shapes task from a correct description,
and none from a wrong or vague one; it never reads the ground truth."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from omni_r1.data.boxes import box_iou, masks_to_boxes_or_empty
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic.render import COLOURS, KINDS
from omni_r1.data.synthetic.sounding_layouts import build_sounding_task, write_sounding_task
from omni_r1.detail import ColourShapeGrounder, Grounder
from omni_r1.detail.colour_grounder import referents
from omni_r1.validation import ConfigError


@pytest.fixture(scope="module")
def task():
    return build_sounding_task(train_clips=3, val_clips=1, test_clips=2, seed=1)


def _image(frame) -> torch.Tensor:
    return torch.from_numpy(frame).permute(2, 0, 1).contiguous()


def test_every_object_from_a_correct_description_none_from_a_wrong_one(task) -> None:
    grounder = ColourShapeGrounder()
    assert isinstance(grounder, Grounder) and not grounder.needs_ground_truth
    clips = [c for clips in (*task.vos.values(), *task.avs.values()) for c in clips]
    found = 0
    for clip in clips:
        present = {o.shape.colour for o in clip.objects}
        for t in range(len(clip.video.frames)):
            image = _image(clip.video.frames[t])
            visible = [o for o in range(3) if clip.video.masks[o, t].any()]
            wrong = [f"the {c} {k}" for c in COLOURS if c not in present for k in KINDS]  # a colour not in the clip
            wrong += [f"the {o.shape.colour} {k}" for o in clip.objects for k in KINDS if k != o.shape.kind]
            wrong += [f"the {o.name}" for o in (clip.objects[i] for i in range(3) if i not in visible)]  # off screen
            wrong += ["the shape that starts moving last", "the object making the highest sound", "the shape", ""]
            descriptions = [f"the {clip.objects[o].name}" for o in visible] + wrong
            boxes = grounder.ground([image] * len(descriptions), descriptions)
            for o, got in zip(visible, boxes):
                truth, _ = masks_to_boxes_or_empty(torch.from_numpy(clip.video.masks[o, t]))
                assert got.shape == (1, 4) and box_iou(got[0], truth) == pytest.approx(1.0)
                found += 1
            assert all(b.shape == (0, 4) for b in boxes[len(visible) :]), [
                d for d, b in zip(descriptions[len(visible) :], boxes[len(visible) :]) if b.numel()
            ]
    assert found > 200


def test_on_jpeg_frames_as_the_datamodules_read_them(tmp_path: Path) -> None:
    root = write_sounding_task(tmp_path / "task", train_clips=3, val_clips=1, test_clips=1, seed=2)
    dataset = ReVOSDataset(root / "revos", "train", False, min_frames=10, max_frames=10)
    grounder = ColourShapeGrounder()
    for index in range(0, len(dataset), 2):
        sample = dataset[index]
        if sample.expression_type != 0:  # referring: the expression is the correct description
            continue
        for t in range(sample.frames.shape[0]):
            got = grounder.ground([sample.frames[t]], [sample.expression])[0]
            truth, present = masks_to_boxes_or_empty(sample.masks[0, t])
            if not bool(present):
                assert got.shape == (0, 4)
                continue
            assert got.shape == (1, 4) and box_iou(got[0], truth) > 0.75  # JPEG softens the edges


def test_several_referents_and_the_words_it_reads(task) -> None:
    clip = task.vos["train"][0]
    t = next(t for t in range(10) if clip.video.masks[:, t].reshape(3, -1).any(axis=1).all())
    image = _image(clip.video.frames[t])
    a, b, c = clip.objects
    both = ColourShapeGrounder().ground([image], [f"the {a.name} and the {b.name}"])[0]
    assert both.shape == (2, 4)
    by_colour = ColourShapeGrounder().ground([image], [f"something {c.shape.colour}"])[0]  # colour alone: found
    by_kind = ColourShapeGrounder().ground([image], [f"a {c.shape.kind}"])[0]  # kind alone: found
    assert torch.equal(by_colour, by_kind) and by_colour.shape == (1, 4)
    assert ColourShapeGrounder(max_boxes=1).ground([image], ["red, green, blue, yellow and purple"])[0].shape[0] == 1
    assert referents("The Red circles, and a BLUE square") == [("red", "circle"), ("blue", "square")]
    assert referents("the object making the highest sound") == []


def test_checks_its_inputs() -> None:
    with pytest.raises(ConfigError, match="tolerance"):
        ColourShapeGrounder(tolerance=0)
    with pytest.raises(ValueError, match="2 images for 1 descriptions"):
        ColourShapeGrounder().ground([torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2, ["red"])
    with pytest.raises(ValueError, match="uint8"):
        ColourShapeGrounder().ground([torch.zeros(3, 4, 4)], ["red"])
