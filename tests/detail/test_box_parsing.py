"""``bbox_2d`` parsing and the rescaling from the grounder's resized image to original pixels."""

from __future__ import annotations

import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from omni_r1.detail.box_parsing import MAX_BOXES, parse_bbox_2d, rescale_boxes


def boxes(values: list[list[float]]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"bbox_2d": [10, 20, 30, 40], "label": "dog"}]', [[10, 20, 30, 40]]),
        (
            '```json\n[\n  {"bbox_2d": [1.5, 2, 3.25, 4]},\n  {"bbox_2d": [5,6,7,8]}\n]\n```',
            [[1.5, 2, 3.25, 4], [5, 6, 7, 8]],
        ),
        ('{"bbox_2d": [30, 40, 10, 20]}', [[10, 20, 30, 40]]),  # corners written right-to-left
        ('[{"bbox_2d": [10, 20, 30, 40], "label": "a"}, {"bbox_2d": [1, 2', [[10, 20, 30, 40]]),  # truncated
        ("bbox_2d: [0, 0, 5, 5] and 'bbox_2d' = [-3, 1e1, 2, 4]", [[0, 0, 5, 5], [-3, 4, 2, 10]]),
        ('[{"bbox_2d": [1e400, 0, 5, 5]}, {"bbox_2d": [1, 1, 2, 2]}]', [[1, 1, 2, 2]]),  # overflow → inf: skipped
    ],
)
def test_parse_finds_every_box(text: str, expected: list[list[float]]) -> None:
    assert torch.equal(parse_bbox_2d(text), boxes(expected))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no boxes here",
        '{"bbox": [1, 2, 3, 4]}',
        '{"bbox_2d": [1, 2, 3]}',
        '{"bbox_2d": [NaN, 2, 3, 4]}',
        '{"bbox_2d": "1, 2, 3, 4"}',
        '{"bbox_2d": [[1, 2, 3, 4]]}',
    ],
)
def test_parse_without_a_box_gives_none(text: str) -> None:
    assert parse_bbox_2d(text).shape == (0, 4)


def test_parse_caps_box_count_and_work() -> None:
    many = ", ".join(['{"bbox_2d": [1, 2, 3, 4]}'] * (MAX_BOXES + 5))
    assert parse_bbox_2d(many).shape == (MAX_BOXES, 4)
    assert parse_bbox_2d(many, max_boxes=3).shape == (3, 4)
    start = time.perf_counter()
    parse_bbox_2d('{"bbox_2d": [' + "9" * 100_000)
    parse_bbox_2d("bbox_2d: [1, " * 20_000)
    assert time.perf_counter() - start < 1.0


def test_parse_rejects_nothing_but_strings_gracefully() -> None:
    assert parse_bbox_2d(None).shape == (0, 4)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list('bbox_2d":[],.0123456789-eE '))))
def test_parse_never_raises(text: str) -> None:
    found = parse_bbox_2d(text)
    assert found.ndim == 2 and found.shape[1] == 4
    assert torch.isfinite(found).all()
    assert (found[:, 0] <= found[:, 2]).all() and (found[:, 1] <= found[:, 3]).all()


def test_rescale_by_hand() -> None:
    # A 60×90 frame was shown to the grounder as 56×84: both axes scale by 15/14.
    out = rescale_boxes(boxes([[28, 14, 56, 42], [-14, -7, 112, 70], [84, 0, 98, 14]]), (56, 84), (60, 90))
    expected = torch.tensor([[30, 15, 60, 45], [0, 0, 90, 60]], dtype=torch.float32)  # clipped; the last is outside
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected)


def test_rescale_axes_independently() -> None:
    out = rescale_boxes(boxes([[10, 10, 20, 20]]), (100, 50), (200, 200))
    torch.testing.assert_close(out, torch.tensor([[40.0, 20.0, 80.0, 40.0]]))


def test_rescale_errors() -> None:
    with pytest.raises(ValueError, match="positive"):
        rescale_boxes(boxes([[0, 0, 1, 1]]), (0, 10), (10, 10))
    with pytest.raises(ValueError, match=r"\(m, 4\)"):
        rescale_boxes(torch.zeros(3), (10, 10), (10, 10))
