"""parse_answer: both answer layouts, every timestamp form, malformed input and bounded work."""

from __future__ import annotations

import json
import time

import pytest

from omni_r1.rewards import Segment, first_answer_block, parse_answer, parse_timestamp


def moment(start: object, end: object, description: object = "the dog") -> str:
    return json.dumps({"start_time": start, "end_time": end, "description": description})


def wrap(body: str) -> str:
    return f"<think>reasoning</think>\n<answer>\n{body}\n</answer>"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("00:01.50", 1.5),
        ("01:01.50", 61.5),
        ("1:02:03.25", 3723.25),
        ("00:07", 7.0),
        ("3.25", 3.25),
        (" 4 ", 4.0),
        (".5", 0.5),
        ("-1.0", -1.0),
        (4, 4.0),
        (2.75, 2.75),
    ],
)
def test_timestamp_forms(value: object, seconds: float) -> None:
    assert parse_timestamp(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [True, None, [1], "nan", "inf", "1e3", "1_000", "12:ab", "00:01.5.0", "", float("nan"), float("inf"), 10**400],
)
def test_timestamp_rejects_non_times(value: object) -> None:
    assert parse_timestamp(value) is None


def test_objects_separated_by_text_commas_and_newlines() -> None:
    body = f"{moment('00:00.50', '00:00.50')},\n{moment('00:02.00', '00:02.50', 'a cat')} and then {moment(1, 2)}"
    parsed = parse_answer(wrap(body))
    assert parsed is not None
    assert parsed.segments == [
        Segment(0.5, 0.5, "the dog"),
        Segment(2.0, 2.5, "a cat"),
        Segment(1.0, 2.0, "the dog"),
    ]
    assert (parsed.num_objects, parsed.num_complete) == (3, 3)


def test_json_list_layout() -> None:
    body = f"[{moment('00:01.00', '00:01.00')}, {moment('00:02.00', '00:03.00')}, 7]"
    parsed = parse_answer(wrap(body))
    assert parsed is not None
    assert [segment.start for segment in parsed.segments] == [1.0, 2.0]
    assert parsed.num_objects == 2  # the stray 7 is not an object


def test_incomplete_objects_are_counted_but_not_segments() -> None:
    body = " ".join(
        [
            moment("00:01.00", "00:01.00"),
            json.dumps({"start_time": "00:01.00", "end_time": "00:01.00"}),  # no description
            moment("soon", "00:01.00"),
            moment("00:01.00", "00:01.00", description=3),
            '{"start_time": NaN, "end_time": Infinity, "description": "x"}',
            '{"start_time": 1e999, "end_time": 1, "description": "x"}',
            moment(True, 1),
        ]
    )
    parsed = parse_answer(wrap(body))
    assert parsed is not None
    assert (parsed.num_objects, parsed.num_complete) == (7, 1)


def test_broken_json_is_skipped_and_scanning_resumes() -> None:
    body = '{"start_time": "00:01.00", "end_time": ' + moment("00:02.00", "00:02.00") + " {]} [{ " + moment(3, 3)
    parsed = parse_answer(wrap(body))
    assert parsed is not None
    assert [segment.start for segment in parsed.segments] == [2.0, 3.0]


def test_nested_objects_count_once() -> None:
    parsed = parse_answer(wrap('{"outer": ' + moment(1, 1) + "}"))
    assert parsed is not None
    assert (parsed.num_objects, parsed.num_complete) == (1, 0)


@pytest.mark.parametrize(
    "text",
    [
        "no tags at all " + moment(1, 1),
        "<think>x</think><answer>the dog at one second</answer>",
        "<think>x</think><answer>[1, 2, 3] []</answer>",
        "<think>x</think><answer>" + moment(1, 1),  # never closed
        "<answer></answer>",
        "",
    ],
)
def test_none_without_an_answer_block_holding_json(text: str) -> None:
    assert parse_answer(text) is None


def test_first_block_holding_json_is_used() -> None:
    text = "<think>I will put it in <answer></answer></think><answer>" + moment(2, 2) + "</answer>"
    parsed = parse_answer(text)
    assert parsed is not None and parsed.segments[0].start == 2.0
    assert first_answer_block(text) == ""


def test_nested_answer_tags() -> None:
    parsed = parse_answer("<answer><answer>" + moment(1, 1) + "</answer></answer>")
    assert parsed is not None and parsed.num_complete == 1


def test_lone_surrogates_and_unicode_survive() -> None:
    text = "<answer>\ud800" + moment("00:01.00", "00:01.00", "chien \udfff 🐕") + "</answer>"
    parsed = parse_answer(text)
    assert parsed is not None and parsed.segments[0].description == "chien \udfff 🐕"


def test_rejects_non_str() -> None:
    with pytest.raises(TypeError, match="str"):
        parse_answer(b"<answer>{}</answer>")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "<answer>" * 12_500,
        "<answer>" + "{" * 100_000 + "</answer>",
        "<answer>" + "[" * 100_000 + "</answer>",
        "<answer>" + '{"a": "' * 15_000 + "</answer>",
        "<answer>" + '["' + "x" * 100_000 + "</answer>",
        "<answer>" + "9" * 100_000 + "</answer>",
        "<answer>" + '{"start_time": ' + "9" * 100_000 + "}</answer>",
        ("<answer>[" + moment(1, 1) + "," + "{} " * 30_000 + "]</answer>"),
    ],
)
def test_adversarial_100kb_inputs_are_fast(text: str) -> None:
    begin = time.perf_counter()
    parse_answer(text)
    assert time.perf_counter() - begin < 1.0
