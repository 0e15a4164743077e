"""``python -m omni_r1.sweep``: grids expand as specified, outputs are relocated per run, and a demo sweep runs,
reports a failing point and skips finished runs when started again."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from omni_r1.sweep import load_grid, main, relocate, run_name

REPO = Path(__file__).resolve().parents[1]
DEMO = str(REPO / "configs" / "demo.yaml")
DEMO_GRPO = str(REPO / "configs" / "demo_grpo.yaml")
SWEEPS = REPO / "experiments" / "sweeps"
FAST = ["--trainer.max_steps", "2", "--trainer.val_check_interval", "2", "--trainer.enable_progress_bar", "false"]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_mapping_grid_is_the_cartesian_product_in_key_order(tmp_path: Path) -> None:
    grid = _write(tmp_path / "g.yaml", "a.lr: [1, 2]\nb.beta: [0.0, 0.5, 1.0]\nc.seed: 7\n")
    points = load_grid(grid)
    assert [p.overrides for p in points][:4] == [
        {"a.lr": 1, "b.beta": 0.0, "c.seed": 7},
        {"a.lr": 1, "b.beta": 0.5, "c.seed": 7},
        {"a.lr": 1, "b.beta": 1.0, "c.seed": 7},
        {"a.lr": 2, "b.beta": 0.0, "c.seed": 7},
    ]
    assert len(points) == 6 and points[0].name == "lr=1,beta=0.0,seed=7"


def test_list_grid_keeps_explicit_points_and_names(tmp_path: Path) -> None:
    grid = _write(tmp_path / "g.yaml", "- {_name: first, x.y: 1}\n- {x.y: 2, x.z: true}\n")
    points = load_grid(grid)
    assert [(p.name, p.overrides) for p in points] == [("first", {"x.y": 1}), ("y=2,z=true", {"x.y": 2, "x.z": True})]


def test_an_unreadable_grid_stops_the_sweep_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = _write(tmp_path / "g.yaml", "just text\n")
    assert main(["--config", DEMO, "--grid", str(grid), "--out", str(tmp_path / "o")]) == 2
    assert str(grid) in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_colliding_short_names_fall_back_to_full_keys() -> None:
    assert run_name({"model.a.lr": 1, "data.b.lr": 2}) == "model.a.lr=1,data.b.lr=2"


@pytest.mark.parametrize(
    ("text", "message"),
    [("42\n", "expected a mapping"), ("a.b: []\n", "empty"), ("- {_name: x}\n- {_name: x}\n", "more than once")],
)
def test_bad_grids_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    grid = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(ValueError, match=message) as error:
        load_grid(grid)
    assert str(grid) in str(error.value)


def test_relocate_moves_every_output_under_the_run_dir() -> None:
    config = {
        "trainer": {
            "default_root_dir": "runs/demo",
            "logger": {"class_path": "lightning.pytorch.loggers.WandbLogger", "init_args": {"save_dir": "/wandb"}},
            "callbacks": [
                {"class_path": "x.ModelCheckpoint", "init_args": {"dirpath": "runs/demo/checkpoints"}},
                {"class_path": "x.Other", "init_args": {"dirpath": "/elsewhere"}},
            ],
        },
        "model": {"init_args": {"export_dir": "runs/demo/policy", "other": "runs/demo_grpo/x"}},
        "data": {"init_args": {"root": "runs/demo/data"}},
    }
    out = relocate(config, "sweep/r1")
    trainer = out["trainer"]
    assert trainer["default_root_dir"] == "sweep/r1"
    assert [c["init_args"]["dirpath"] for c in trainer["callbacks"]] == ["sweep/r1/checkpoints"] * 2
    assert trainer["logger"][0]["init_args"]["save_dir"] == "sweep/r1"  # wandb files per run
    assert trainer["logger"][1]["class_path"].endswith("CSVLogger")  # metrics for the summary
    assert out["model"]["init_args"] == {"export_dir": "sweep/r1/policy", "other": "runs/demo_grpo/x"}
    assert out["data"]["init_args"]["root"] == "runs/demo/data"  # data is input, never moved


def test_shipped_grids_parse_against_their_base_configs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    table4 = load_grid(SWEEPS / "table4_reward_ablation.yaml")
    assert [p.name for p in table4] == ["R_K", "R_K+R_A", "R_G", "R_K+R_G", "R_K+R_A+R_G"]
    assert {k.rsplit(".", 1)[-1]: v for k, v in table4[3].overrides.items()} == {
        "num": 1.0,
        "div": 1.0,
        "sal": 1.0,
        "box": 0.0,
        "mask": 1.0,
    }
    # The reward keys exist in the GRPO config (the 7B recipe shares its module); the demo grid fits the demo.
    out = str(tmp_path / "dry")
    assert (
        main(["--config", DEMO_GRPO, "--grid", str(SWEEPS / "table4_reward_ablation.yaml"), "--dry-run", "--out", out])
        == 0
    )
    assert main(["--config", DEMO, "--grid", str(SWEEPS / "demo_lr.yaml"), "--dry_run", "--out", out]) == 0
    assert "to run" in capsys.readouterr().out and not Path(out).exists()  # a dry run writes nothing


def test_dry_run_reports_an_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grid = _write(tmp_path / "g.yaml", "model.init_args.no_such_key: [1]\n")
    assert main(["--config", DEMO, "--grid", str(grid), "--dry-run", "--out", str(tmp_path / "o")]) == 1
    assert "invalid" in capsys.readouterr().out


def _summary(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


@pytest.mark.integration
def test_demo_sweep_runs_reports_failures_and_skips_finished_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo's data/ and the sweep land in tmp_path; the model cache is the session's
    out = tmp_path / "sweep"
    args = ["--config", DEMO, "--grid", str(SWEEPS / "demo_lr.yaml"), "--out", str(out), *FAST]
    assert main(args) == 0
    rows = _summary(out / "summary.csv")
    assert [(r["run"], r["status"]) for r in rows] == [("lr=0.005", "finished"), ("lr=0.001", "finished")]
    assert [float(r["model.init_args.optimizer.init_args.lr"]) for r in rows] == [0.005, 0.001]
    assert all(float(r["train/loss"]) > 0 and r["val/loss"] for r in rows)
    for row in rows:
        run = out / row["run"]
        assert (run / "run.yaml").is_file() and (run / "logs/version_0/config.yaml").is_file()
        assert (run / "checkpoints/last.ckpt").is_file() and (run / "policy/config.json").is_file()
    assert not (tmp_path / "runs").exists()  # nothing written to the base config's own output folder

    bad = _write(tmp_path / "bad.yaml", "model.init_args.optimizer.init_args.lr: [-1.0]\n")
    assert main(["--config", DEMO, "--grid", str(bad), "--out", str(out / "bad"), *FAST]) == 1
    (failed,) = _summary(out / "bad" / "summary.csv")
    assert failed["status"] == "failed" and "exit status" in failed["error"]
    assert not (out / "bad" / failed["run"] / "DONE.json").exists()

    assert main(args) == 0  # started again: both runs are skipped, nothing reruns
    assert [r["status"] for r in _summary(out / "summary.csv")] == ["skipped", "skipped"]
    assert not (out / "lr=0.005" / "logs" / "version_1").exists()
