"""``scores.png`` beside ``scores.json``: one bar group per subset, one bar per metric."""

from __future__ import annotations

from pathlib import Path

from omni_r1.evaluate.plots import draw_scores, score_groups
from omni_r1.evaluate.score import write_scores

REVOS = {
    "referring": {"J": 50.0, "F": 55.0, "JF": 52.5, "A": 90.0, "R": 10.0},
    "reason": {"J": 40.0, "F": 45.0, "JF": 42.5, "A": 88.0, "R": 12.0},
    "overall": {"J": 45.0, "F": 50.0, "JF": 47.5, "A": 89.0, "R": 11.0},
    "num_expressions": 12,
}


def test_groups_and_bars_follow_the_summary(tmp_path: Path) -> None:
    groups = score_groups(REVOS)
    assert list(groups) == ["referring", "reason", "overall"] and list(groups["reason"]) == ["J", "F", "JF", "A", "R"]
    figure = draw_scores(REVOS)
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["referring", "reason", "overall"]
    assert len(ax.patches) == 15  # 3 subsets x 5 metrics
    assert sorted(p.get_height() for p in ax.patches)[-1] == 90.0
    assert score_groups({"J": 1.0, "F": 2.0, "num_rows": 3}) == {"all": {"J": 1.0, "F": 2.0}}


def test_write_scores_leaves_a_picture(tmp_path: Path) -> None:
    json_path, csv_path = write_scores(REVOS, [{"video": "a", "J": 0.5}], tmp_path / "run" / "scores.json")
    assert json_path.is_file() and csv_path.is_file() and (tmp_path / "run" / "scores.png").stat().st_size > 0
