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

from omni_r1.config import instantiate_model, resolved_config
from omni_r1.data.synthetic import build_revos, encode_rle, write_refavs, write_revos
from omni_r1.data.types import VideoSample
from omni_r1.detail.box_segmenter import BoxSegmenter
from omni_r1.detail.grounders import OracleGrounder
from omni_r1.detail.system import DetailSystem
from omni_r1.evaluate.__main__ import main
from omni_r1.evaluate.errors import exit_status
from omni_r1.evaluate.run import evaluate, evaluation_split
from omni_r1.evaluate.score import score_predictions, write_scores
from omni_r1.inference import build_systems, collaborate, config_arguments

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY_KEY, TINY_MODEL = "model.init_args.policy.init_args.model_name_or_path", "tiny://qwen2.5-omni"
TINY = f"{TINY_KEY}={TINY_MODEL}"  # the deprecated --set form, still read (the RefAVS run below uses it)
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
    args = ["run", "--config", str(CONFIGS / "demo_grpo.yaml"), "--config", str(overlay), f"--{TINY_KEY}", TINY_MODEL]
    status = main([*args, "--output", str(tmp / "out"), "--max_new_tokens", "8", "--device", "cpu"])
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


def test_revos_ground_truth_errors_are_recorded_apart_and_left_out_of_the_scores(
    revos_run: tuple[Path, Path, int],
) -> None:
    """video_003's broken frame is the benchmark's fault: its prompts are neither the model's failures nor zeros."""
    root, out, status = revos_run
    videos = expressions()
    ok, broken = len(videos["video_001"]["expressions"]), len(videos["video_003"]["expressions"])
    assert status == 2
    run = json.loads((out / "run.json").read_text())
    expected = {"prompts": ok + broken, "run": ok + broken, "failed": 0, "ground_truth_errors": broken, "not_run": 0}
    expected |= {"scored": ok, "missing": 0, "excluded_from_scores": broken, "skipped_by_check": 0}
    assert {k: run[k] for k in expected} == expected
    frame = str(root / "JPEGImages" / "video_003" / "00002.jpg")
    assert run["ground_truth_files"] == [frame]
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert len(rows) == ok + broken
    assert all(("error" in row) == (row["video"] == "video_003") for row in rows)
    assert all(row["error_source"] == "ground_truth" and row["files"] == [frame] for row in rows if "error" in row)
    good = next(row for row in rows if "error" not in row)
    assert good["s1_frames"] == list(range(NUM_FRAMES))  # 6 frames <= max_frames 6: every frame
    assert set(good) >= {"completion", "keyframes", "keyframe_names", "descriptions", "boxes"}
    table = (out / "scores.csv").read_text().splitlines()
    assert len(table) == 1 + ok and not any(line.startswith("video_003,") for line in table)


def test_revos_scores_equal_a_separate_score_run_without_the_ground_truth_errors(
    revos_run: tuple[Path, Path, int], tmp_path: Path
) -> None:
    root, out, _ = revos_run
    again = tmp_path / "again.json"
    args = ["score", "--benchmark", "revos", "--root", str(root), "--split", "valid"]
    assert main([*args, "--predictions", str(out / "predictions"), "--output", str(again)]) == 0
    assert set(json.loads(again.read_text())) == {"referring", "reason", "overall"}
    # The scorer alone cannot know that video_003's frame is broken: it scores those expressions missing (0).
    separate = again.with_suffix(".csv").read_text().splitlines()
    assert any(line.startswith("video_003,") for line in separate)
    assert (out / "scores.csv").read_text().splitlines() == [r for r in separate if not r.startswith("video_003,")]
    excluded = {("video_003", exp_id) for exp_id in expressions()["video_003"]["expressions"]}
    write_scores(*score_predictions("revos", root, "valid", out / "predictions", exclude=excluded), tmp_path / "x.json")
    assert (out / "scores.json").read_text() == (tmp_path / "x.json").read_text()


def test_refavs_sft_config_with_detail_yaml_and_limit(tmp_path: Path) -> None:
    root = write_refavs(tmp_path / "refavs", num_videos=1, splits=("test_s",), height=HEIGHT, width=WIDTH)
    data = write_yaml(
        tmp_path / "data.yaml",
        f"data:\n  class_path: omni_r1.data.refavs.RefAVSDataModule\n  init_args:\n    root: {root}\n",
    )
    detail = write_yaml(
        tmp_path / "detail.yaml",
        "detail:\n  class_path: omni_r1.detail.system.DetailSystem\n  init_args:\n"
        "    grounder:\n      class_path: omni_r1.detail.grounders.ReferenceGrounder\n"
        "      init_args:\n        max_new_tokens: 8\n"
        "    segmenter:\n      class_path: omni_r1.detail.box_segmenter.BoxSegmenter\n",
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
    frames = {"min_frames": 2, "max_frames": 3}
    revos = {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": {"root": str(root), **frames}}
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


# ---------------------------------------------------------------------------------- ground truth vs the model
def corrupt_valid_rle(root: Path) -> tuple[str, list[str]]:
    """Give the first object of valid video_001 an RLE covering half its frame; returns its locator and the
    expressions that need it."""
    info = expressions()["video_001"]
    anno = str(min(a for exp in info["expressions"].values() for a in exp["anno_id"]))
    masks = json.loads((root / "mask_dict.json").read_text())
    t = next(i for i, m in enumerate(masks[anno]) if m is not None)
    half = encode_rle(np.ones((HEIGHT // 2, WIDTH), dtype=bool))["counts"]
    masks[anno][t] = {"size": [HEIGHT, WIDTH], "counts": half}
    (root / "mask_dict.json").write_text(json.dumps(masks))
    needing = [e for e, exp in info["expressions"].items() if int(anno) in exp["anno_id"]]
    return f"{root / 'mask_dict.json'}[{anno}][{t}]", needing


def test_a_corrupt_rle_stops_the_run_before_any_model_is_built(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = write_revos(tmp_path / "revos", num_videos=4, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    locator, _ = corrupt_valid_rle(root)
    data = write_yaml(tmp_path / "data.yaml", f"data:\n  init_args:\n    root: {root}\n    synthetic: false\n")
    args = ["run", "--config", str(CONFIGS / "demo_grpo.yaml"), "--config", str(data), "--set", TINY]
    # a checkpoint that does not exist: building the systems would fail differently
    args += ["--ckpt", str(tmp_path / "none.ckpt"), "--output", str(tmp_path / "out"), "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the split's ground truth is broken, nothing was run" in err and locator in err
    assert not (tmp_path / "out" / "answers.jsonl").exists()


def test_skip_invalid_records_the_dropped_prompts_as_ground_truth_errors(tmp_path: Path) -> None:
    root = write_revos(tmp_path / "revos", num_videos=4, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    locator, needing = corrupt_valid_rle(root)
    data = write_yaml(
        tmp_path / "data.yaml", f"data:\n  init_args:\n    root: {root}\n    synthetic: false\n    skip_invalid: true\n"
    )
    out = tmp_path / "out"
    args = ["run", "--config", str(CONFIGS / "demo_grpo.yaml"), "--config", str(data), "--set", TINY]
    assert main([*args, "--output", str(out), "--max-new-tokens", "8", "--device", "cpu"]) == 2
    run = json.loads((out / "run.json").read_text())
    total = sum(len(info["expressions"]) for info in expressions().values())
    expected = {"prompts": total, "run": total - len(needing), "failed": 0, "not_run": 0, "missing": 0}
    expected |= {"skipped_by_check": len(needing), "ground_truth_errors": len(needing), "scored": total - len(needing)}
    assert {k: run[k] for k in expected} == expected
    assert run["ground_truth_files"] == [locator] and run["data_check_problems"][0].startswith(f"{locator}: invalid")
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    dropped = [row for row in rows if row.get("error_source") == "ground_truth"]
    assert sorted(row["exp_id"] for row in dropped) == sorted(needing) and rows[: len(needing)] == dropped
    table = (out / "scores.csv").read_text().splitlines()[1:]
    assert len(table) == total - len(needing)
    assert not any(line.startswith(f"video_001,{exp_id},") for line in table for exp_id in needing)


class CrashingSegmenter:
    """A segmenter that fails on every video, as a model that runs out of memory would."""

    def segment(self, frames: torch.Tensor, prompts: object) -> list[torch.Tensor]:
        raise RuntimeError("the segmenter ran out of memory")


def test_model_failures_score_zero_and_a_broken_ground_truth_still_decides_the_exit(tmp_path: Path) -> None:
    root = write_revos(tmp_path / "revos", num_videos=4, num_frames=NUM_FRAMES, height=HEIGHT, width=WIDTH)
    frame = root / "JPEGImages" / "video_003" / "00002.jpg"
    frame.write_bytes(b"not a jpeg")
    revos = {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": {"root": str(root)}}
    revos["init_args"] |= {"synthetic": False, "check_level": "exists"}
    split = evaluation_split({"data": revos})
    systems = build_systems(resolved_config(config_arguments([str(CONFIGS / "demo_grpo.yaml")], [TINY])), device="cpu")
    systems.detail.segmenter = CrashingSegmenter()
    out = tmp_path / "out"
    record = evaluate(systems, split, out, max_new_tokens=4)
    videos = expressions()
    ok, broken = len(videos["video_001"]["expressions"]), len(videos["video_003"]["expressions"])
    counts = (record["failed"], record["ground_truth_errors"], record["scored"], record["missing"])
    assert counts == (ok, broken, ok, ok)
    assert exit_status(record) == 2 and exit_status({**record, "ground_truth_errors": 0}) == 1
    rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    sources = {(row["video"], row["error_source"]) for row in rows}
    assert sources == {("video_001", "model"), ("video_003", "ground_truth")}
    table = (out / "scores.csv").read_text().splitlines()[1:]
    assert len(table) == ok and all(line.startswith("video_001,") and line.endswith(",True") for line in table)
    assert all(record["scores"]["overall"][k] == 0 for k in ("J", "F"))  # the model's failures count as zeros

    foreground = root / "mask_dict_foreground.json"
    foreground.write_text("{not json")  # only the scorer reads it
    record = evaluate(systems, split, out, overwrite=True, limit=1, max_new_tokens=4)
    assert record["scores"] is None and record["scoring_error"]["files"] == [str(foreground)]
    assert exit_status(record) == 2 and not (out / "scores.json").exists()
    assert json.loads((out / "run.json").read_text())["scoring_error"]["error_source"] == "ground_truth"
