"""The mini recipe's SFT (experiments/mini_repro/sft.yaml) trains on answers that describe the target by its looks,
at frames where it is visible: the rewrite a single-image grounder can use, not the query repeated."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from omni_r1.answer.handover import HandoverConfig, make_handover
from omni_r1.config import instantiate_model, resolved_config
from omni_r1.data.refavs import RefAVSDataset
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic.sounding_layouts import write_sounding_task
from omni_r1.detail.colour_grounder import ColourShapeGrounder
from omni_r1.mini_repro.reference import rewrite_answer, target_description
from omni_r1.mini_repro.sft import RewritePreprocessor

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sounding_task(tmp_path_factory.mktemp("mini") / "data", train_clips=2, val_clips=1, test_clips=1)


def test_reference_answers_ground_to_the_target(root: Path) -> None:
    grounder = ColourShapeGrounder()
    revos = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    refavs = RefAVSDataset(root / "refavs", "train")
    samples = [revos[i] for i in range(len(revos))] + [refavs[i] for i in range(len(refavs))]
    for sample in samples:
        answer = rewrite_answer(sample, 2)
        handover = make_handover(answer, sample, HandoverConfig(max_keyframes=2, keyframe_mode="start"))
        name = target_description(sample)
        assert (name == sample.expression) == (sample.task == "vos" and sample.expression_type == 0)  # referring
        assert handover.keyframes and all(k.description == name for k in handover.keyframes)
        for keyframe in handover.keyframes:
            frame = int(sample.s1_indices[keyframe.index])
            assert sample.masks[0, frame].any()  # the target is visible on every reference keyframe
            assert grounder.ground([sample.frames[frame]], [name])[0].shape == (1, 4)
        if sample.task == "avs":
            assert handover.indices == [0]
        moments = json.loads("[" + answer.split("<answer>")[1].split("</answer>")[0].replace("} {", "}, {") + "]")
        assert len(moments) == len(handover.keyframes)


def test_the_recipes_sft_module_trains_on_the_rewrite(root: Path) -> None:
    config = resolved_config(
        [
            "--config",
            str(EXPERIMENT / "sft.yaml"),
            "--model.init_args.policy.init_args.model_name_or_path",
            "tiny://qwen2.5-omni",
        ]
    )
    module = instantiate_model(config["model"])
    assert isinstance(module.preprocessor, RewritePreprocessor)
    pickle.dumps(module.preprocessor)  # the loader workers run it
    dataset = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    batch = module.preprocessor([dataset[0], dataset[1]])
    words, frames = module.description, module.reference_keyframes
    K = module.handover.max_keyframes
    assert batch.responses == [rewrite_answer(s, K, words, keyframes=frames) for s in batch.samples]
    loss = module._loss(batch)
    assert torch.isfinite(loss) and loss.requires_grad


@pytest.fixture(scope="module")
def module():
    config = resolved_config(
        [
            "--config",
            str(EXPERIMENT / "sft.yaml"),
            "--model.init_args.policy.init_args.model_name_or_path",
            "tiny://qwen2.5-omni",
        ]
    )
    return instantiate_model(config["model"])


def test_colour_descriptions_name_the_colour_only_and_still_ground(root: Path) -> None:
    grounder = ColourShapeGrounder()
    dataset = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    for sample in (dataset[i] for i in range(len(dataset))):
        name = target_description(sample, "colour")
        colour, kind = target_description(sample).split()[1:]
        assert name == f"the {colour} shape"
        frame = int(sample.s1_indices[int(sample.masks[0, sample.s1_indices].flatten(1).any(1).nonzero()[0])])
        assert grounder.ground([sample.frames[frame]], [name])[0].shape == (1, 4)  # colours are distinct per clip


def test_description_weights_mark_the_looks_words_and_equal_weights_are_the_plain_loss(module, root: Path) -> None:
    dataset = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    batch = module.preprocessor([dataset[0], dataset[1]])
    plain = module.policy.sft_loss(batch)
    ones = [torch.ones(len(module._weights(text))) for text in batch.responses]
    torch.testing.assert_close(module.policy.sft_loss(batch, weights=ones), plain)
    module.description_weight = 7.0
    try:
        text = batch.responses[0]
        weights = module._weights(text)
        tokenizer = module.policy.tokenizer
        ids = tokenizer(text + "<|im_end|>", add_special_tokens=False)["input_ids"]
        marked = "".join(tokenizer.decode([i]) for i, w in zip(ids, weights) if w == 7.0)
        colour = target_description(batch.samples[0], module.description).split()[1]
        assert marked.replace(" ", "") == colour * (1 + text.count('"description"'))  # <think> + each moment
        assert not torch.allclose(module._loss(batch), plain)
    finally:
        module.description_weight = 1.0


def test_salient_references_give_one_moment_where_the_target_is_largest(root: Path) -> None:
    dataset = ReVOSDataset(root / "revos", "train", True, min_frames=10, max_frames=10)
    for sample in (dataset[i] for i in range(len(dataset))):
        answer = rewrite_answer(sample, 4, "colour", keyframes="salient")
        handover = make_handover(answer, sample, HandoverConfig(max_keyframes=4, keyframe_mode="start"))
        areas = sample.union_masks[sample.s1_indices].flatten(1).sum(dim=1)
        assert handover.indices == [int(areas.argmax())]
        assert areas[handover.indices[0]] == areas.max() > 0
