"""``python -m omni_r1.predict`` refuses an empty query before decoding the video or loading a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from omni_r1.predict import main


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_blank_query_is_a_one_line_usage_error(query: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--video", str(tmp_path / "missing.mp4"), "--query", query, "--output", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert errors == ["error: argument --query: must not be empty (the referring or reasoning query)"]
    assert not (tmp_path / "out").exists()
