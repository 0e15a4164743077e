"""``python -m omni_r1.evaluate run``: both systems over a split, the official layout, and the scorer's numbers.

The end-to-end runs use the tiny random thinker of the demo configs (its greedy answers hand nothing over, so masks
are empty); what the hand-over and tracking do with a real answer is checked on a hand-built prompt with the oracle
grounder and the box segmenter, whose output is known exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from omni_r1.data.synthetic import build_revos, write_refavs, write_revos
from omni_r1.data.types import VideoSample
from omni_r1.detail.collaboration import DetailSystem
from omni_r1.detail.grounders import OracleGrounder
from omni_r1.detail.segmenters import BoxSegmenter
from omni_r1.evaluate.__main__ import main
from omni_r1.evaluate.run import evaluation_split
from omni_r1.plan.config import instantiate_model, resolved_config
from omni_r1.systems import build_systems, collaborate, config_arguments

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = "model.init_args.policy.init_args.model_name_or_path=tiny://qwen2.5-omni"
NUM_FRAMES, HEIGHT, WIDTH = 6, 64, 96


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def revos_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """``evaluate run`` on a ReVOS root whose valid video ``video_003`` has a frame broken after the data check.

    Returns the dataset root, the output folder and the exit status.
    """
    tmp = tmp_path_factory.mktemp("revos_run")
    root = write_revos(tmp / "revos", num_videos=4, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    (root / "JPEGImages" / "video_003" / "00002.jpg").write_bytes(b"not a jpeg")
    overlay = write_yaml(
        tmp / "data.yaml",
        f"data:\n  init_args:\n    root: {root}\n    synthetic: false\n    check_level: exists\n",
    )
    args = ["run", "--config", str(CONFIGS / "demo_grpo.yaml"), "--config", str(overlay), "--set", TINY]
    status = main([*args, "--output", str(tmp / "out"), "--max-new-tokens", "8", "--device", "cpu"])
    return root, tmp / "out", status


def expressions(split: str = "valid") -> dict[str, dict]:
    return build_revos(num_videos=4, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH).meta[split]["videos"]


def test_revos_layout_one_png_per_frame_at_original_size(revos_run: tuple[Path, Path, int]) -> None:
    _, out, _ = revos_run
    info = expressions()["video_001"]
    for exp_id in info["expressions"]:
        folder = out / "predictions" / "video_001" / exp_id
        assert sorted(p.stem for p in folder.iterdir()) == info["frames"]
        for png in folder.iterdir():
            with Image.open(png) as image:
                assert image.mode == "L" and image.size == (WIDTH, HEIGHT)
                assert set(np.unique(np.asarray(image))) <= {0, 255}
    assert not (out / "predictions" / "video_003").exists()  # its prompts failed: no (partial) folders


def test_revos_failures_are_counted_recorded_and_scored_zero(revos_run: tuple[Path, Path, int]) -> None:
    _, out, status = revos_run
    videos = expressions()
    ok, broken = len(videos["video_001"]["expressions"]), len(videos["video_003"]["expressions"])
    assert status == 1
    run = json.loads((out / "run.json").read_text())
    expected = {"prompts": ok + broken, "run": ok + broken, "failed": broken, "not_run": 0, "scored": ok + broken}
    assert {k: run[k] for k in expected} == expected
    assert run["missing"] == broken and run["skipped_by_check"] == 0
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == ok + broken
    assert sum("error" in row for row in rows) == broken
    assert all(("error" in row) == (row["video"] == "video_003") for row in rows)
    good = next(row for row in rows if "error" not in row)
    assert good["s1_frames"] == list(range(NUM_FRAMES))  # 6 frames <= max_frames 6: every frame
    assert set(good) >= {"completion", "keyframes", "keyframe_names", "descriptions", "boxes"}
    table = (out / "scores.csv").read_text().splitlines()
    assert sum(line.startswith("video_003,") and line.endswith(",True") for line in table) == broken


def test_revos_scores_equal_a_separate_score_run(revos_run: tuple[Path, Path, int], tmp_path: Path) -> None:
    root, out, _ = revos_run
    again = tmp_path / "again.json"
    args = ["score", "--benchmark", "revos", "--root", str(root), "--split", "valid"]
    assert main([*args, "--predictions", str(out / "predictions"), "--output", str(again)]) == 0
    assert (out / "scores.json").read_text() == again.read_text()
    assert (out / "scores.csv").read_text() == again.with_suffix(".csv").read_text()
    assert set(json.loads(again.read_text())) == {"referring", "reason", "overall"}


def test_refavs_sft_config_with_detail_yaml_and_limit(tmp_path: Path) -> None:
    root = write_refavs(tmp_path / "refavs", num_videos=1, splits=("test_s",), height=HEIGHT, width=WIDTH)
    data = write_yaml(
        tmp_path / "data.yaml",
        f"data:\n  class_path: omni_r1.data.refavs.RefAVSDataModule\n  init_args:\n    root: {root}\n",
    )
    detail = write_yaml(
        tmp_path / "detail.yaml",
        "detail:\n  class_path: omni_r1.detail.collaboration.DetailSystem\n  init_args:\n"
        "    grounder:\n      class_path: omni_r1.detail.grounders.ReferenceGrounder\n"
        "      init_args:\n        max_new_tokens: 8\n"
        "    segmenter:\n      class_path: omni_r1.detail.segmenters.BoxSegmenter\n",
    )
    out = tmp_path / "out"
    args = ["run", "--config", str(CONFIGS / "demo.yaml"), "--config", str(data), "--set", TINY]
    with pytest.raises(ValueError, match="no `detail`"):
        main([*args, "--output", str(out)])
    args += ["--detail", str(detail), "--limit", "2", "--max-new-tokens", "8", "--device", "cpu"]
    assert main([*args, "--output", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    rows = run["prompts"]
    assert (run["run"], run["not_run"], run["failed"], run["missing"]) == (2, rows - 2, 0, rows - 2)
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert [a["s1_frames"] for a in answers] == [[0], [0]]  # RefAVS: S1 sees the first frame
    for row in answers:
        folder = out / "predictions" / row["video"] / row["exp_id"]
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{t}.png" for t in range(10))
        with Image.open(folder / "0.png") as image:
            assert image.size == (WIDTH, HEIGHT)
    again = tmp_path / "again.json"
    score = ["score", "--benchmark", "refavs", "--root", str(root), "--split", "test_s"]
    assert main([*score, "--predictions", str(out / "predictions"), "--output", str(again)]) == 0
    assert (out / "scores.json").read_text() == again.read_text()
    with pytest.raises(FileExistsError, match="--overwrite"):
        main([*args, "--output", str(out)])


def test_collaborate_maps_keyframes_to_original_frames() -> None:
    """8 frames, S1 clip = frames 0, 2, 4, 6 at 2 fps; one box at rows 5-9, cols 3+2t .. 8+2t in frame t.

    "00:01.00" is clip frame int(2 · 1.0) = 2, i.e. original frame 4, where the box spans cols 11-16: the oracle
    grounds (11, 5, 17, 10), and the box segmenter carries that box to every frame.
    """
    masks = torch.zeros(1, 8, 20, 24, dtype=torch.bool)
    for t in range(8):
        masks[0, t, 5:10, 3 + 2 * t : 9 + 2 * t] = True
    sample = VideoSample(
        dataset="synthetic",
        task="vos",
        video_id="v",
        exp_id="0",
        expression="the moving box",
        expression_type=0,
        frames=torch.zeros(8, 3, 20, 24, dtype=torch.uint8),
        frame_names=[f"{t:05d}" for t in range(8)],
        s1_indices=torch.tensor([0, 2, 4, 6]),
        masks=masks,
        obj_ids=[1],
    )
    completion = '<think>.</think><answer>{"start_time": "00:01.00", "end_time": "00:01.00", "description": "box"}'
    prediction = collaborate(DetailSystem(OracleGrounder(), BoxSegmenter()), sample, completion + "</answer>")
    assert prediction.keyframes == [4] and prediction.descriptions == ["box"]
    assert [b.tolist() for b in prediction.boxes] == [[[11.0, 5.0, 17.0, 10.0]]]
    expected = torch.zeros(8, 20, 24, dtype=torch.bool)
    expected[:, 5:10, 11:17] = True
    assert torch.equal(prediction.masks, expected)
    record = prediction.record(sample)
    assert (record["keyframes"], record["keyframe_names"], record["s1_frames"]) == ([4], ["00004"], [0, 2, 4, 6])


def test_evaluation_split_from_a_mixture_and_bad_choices(tmp_path: Path) -> None:
    root = write_revos(tmp_path / "revos", num_videos=2, num_frames=4)
    revos = {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": {"root": str(root), "max_frames": 3}}
    mixture = {"data": {"class_path": "omni_r1.data.mixture.MixtureDataModule", "init_args": {"datasets": {}}}}
    mixture["data"]["init_args"]["datasets"] = {"revos": revos}
    split = evaluation_split(mixture, None, "revos")
    assert (split.benchmark, split.split, split.root) == ("revos", "valid", root)
    sample = split.dataset[0]
    assert sample.frames.shape[0] == 4 and sample.s1_indices.tolist() == [0, 2, 3]  # all frames; S1 linspace of 3
    with pytest.raises(ValueError, match=r"pass --dataset, one of \['revos'\]"):
        evaluation_split(mixture, None, None)
    with pytest.raises(ValueError, match="'refavs' names no dataset"):
        evaluation_split({"data": revos}, None, "refavs")
    refcocog = {"class_path": "omni_r1.data.refcocog.RefCOCOgDataModule", "init_args": {"root": str(tmp_path)}}
    with pytest.raises(TypeError, match="RefCOCOgDataModule"):
        evaluation_split({"data": refcocog}, None, None)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        config_arguments(["a.yaml"], ["no_equals_sign"])
    assert config_arguments(["a.yaml"], ["data.init_args.root=/x=y"]) == [
        "--config",
        "a.yaml",
        "--data.init_args.root",
        "/x=y",
    ]


def test_build_systems_loads_the_checkpoint_and_keeps_initial_weights_for_the_reference(tmp_path: Path) -> None:
    """The policy answers with the checkpoint's weights; a reference grounder grounds with the config's."""
    config = resolved_config(config_arguments([str(CONFIGS / "demo_grpo.yaml")], [TINY]))
    trained = instantiate_model(config["model"])
    name, parameter = next((n, p) for n, p in trained.policy.model.named_parameters() if p.requires_grad)
    initial = parameter.detach().clone()
    with torch.no_grad():
        parameter.add_(1.0)
    checkpoint = {"state_dict": trained.state_dict()}
    trained.on_save_checkpoint(checkpoint)  # leaves the frozen reference out, as Lightning saves it
    torch.save(checkpoint, tmp_path / "last.ckpt")
    systems = build_systems(config, ckpt=tmp_path / "last.ckpt", grounder_weights="reference", device="cpu")
    assert torch.equal(dict(systems.policy.model.named_parameters())[name], initial + 1.0)
    grounder = systems.detail.grounder
    assert grounder.weights == "reference" and grounder.policy is systems.policy
    assert torch.equal(dict(grounder.frozen.named_parameters())[name], initial)
    assert systems.max_new_tokens == 256  # the GRPO module's own budget
    assert build_systems(config, device="cpu").detail.grounder.frozen is None  # policy weights: no second copy
