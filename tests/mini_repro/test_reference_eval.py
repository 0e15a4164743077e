"""The table's ceiling row: the reference answers, scored through the same hand-over, Detail system and
``evaluate run`` scoring as the policies, beat answers that hand nothing over (empty masks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omni_r1.config import resolved_config
from omni_r1.data.synthetic.sounding_layouts import write_sounding_task
from omni_r1.evaluate.run import evaluate, evaluation_split
from omni_r1.inference import build_systems
from omni_r1.mini_repro.reference_eval import main

EXPERIMENT = Path(__file__).resolve().parents[2] / "experiments" / "mini_repro"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sounding_task(tmp_path_factory.mktemp("ref") / "data", train_clips=1, val_clips=1, test_clips=2)


def _flags(root: Path) -> list[str]:
    return [
        "--data.init_args.datasets.revos.init_args.root",
        str(root / "revos_heldout"),
        "--data.init_args.datasets.refavs.init_args.root",
        str(root / "refavs"),
    ]


def test_reference_answers_beat_empty_answers(root: Path, tmp_path: Path) -> None:
    common = ["--config", str(EXPERIMENT / "sft.yaml"), "--detail", str(EXPERIMENT / "detail.yaml")]
    common += ["--dataset", "revos", "--split", "valid", "--robustness", "corrected", *_flags(root)]
    assert main([*common, "--output", str(tmp_path / "reference")]) == 0  # the SFT config's (one salient moment)
    assert main([*common, "--keyframes", "spread", "--output", str(tmp_path / "spread")]) == 0
    salient = json.loads((tmp_path / "reference" / "scores.json").read_text())
    reference = json.loads((tmp_path / "spread" / "scores.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "reference" / "answers.jsonl").read_text().splitlines()]
    assert rows and all(row["boxes"] and any(row["boxes"]) for row in rows)  # every answer grounded something

    # The same run with answers that hand nothing over: the score empty masks get.
    config = resolved_config(["--config", str(EXPERIMENT / "sft.yaml"), *_flags(root)])
    systems = build_systems(config, detail_config=EXPERIMENT / "detail.yaml", device="cpu")
    split = evaluation_split(config, "valid", "revos")
    empty = evaluate(systems, split, tmp_path / "empty", robustness="corrected", respond=lambda s: [""] * len(s))
    for subset in ("referring", "reason"):
        assert reference[subset]["JF"] > empty["scores"][subset]["JF"] + 10
        assert reference[subset]["JF"] > salient[subset]["JF"] > empty["scores"][subset]["JF"]
