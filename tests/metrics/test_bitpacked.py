"""The bit-packed J / F counts against byte-per-pixel counts, on the cases that exercise the packing.

``test_davis.py`` compares the metrics with the numpy + scipy DAVIS reference on many small frames (one packed word
per row) and checks ``boundary_map`` and ``disk_dilation`` against it. Here the packed counts must equal counts from
those dense maps on rows that span several words (widths around multiples of 64), radii of 64 and more (shifts by
whole words), several chunks of frames with a shorter last one, dense noise, and matches on the disk's outer rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omni_r1.metrics.functional import (
    bitpacked,
    boundary_f_measure,
    boundary_map,
    boundary_radius,
    disk_dilation,
    region_and_boundary,
    region_similarity,
)
from omni_r1.metrics.functional.bitpacked import frame_counts


def random_boxes(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Unions of up to four random rectangles per frame, some cut by the image border."""
    masks = np.zeros((t, h, w), dtype=bool)
    for frame in masks:
        for _ in range(rng.integers(0, 5)):
            y, x = rng.integers(-h // 4, h, size=2), rng.integers(-w // 4, w, size=2)
            frame[max(y.min(), 0) : y.max() + 1, max(x.min(), 0) : x.max() + 1] = True
    return masks


def dense_counts(pred: torch.Tensor, target: torch.Tensor, radius: int) -> list[torch.Tensor]:
    """The six counts from byte-per-pixel maps (``boundary_map`` and ``disk_dilation`` are checked against scipy)."""
    pred, target = pred != 0, target != 0
    pred_b, target_b = boundary_map(pred), boundary_map(target)

    def count(mask: torch.Tensor) -> torch.Tensor:
        return mask.flatten(1).sum(1)

    return [
        count(pred & target),
        count(pred | target),
        count(pred_b),
        count(target_b),
        count(pred_b & disk_dilation(target_b, radius)),
        count(target_b & disk_dilation(pred_b, radius)),
    ]


def assert_counts_equal(pred: torch.Tensor, target: torch.Tensor, radius: int) -> None:
    got = frame_counts(pred, target, radius)
    for name, value, want in zip(got._fields, got, dense_counts(pred, target, radius)):
        assert torch.equal(value, want), (name, tuple(pred.shape), radius)


@pytest.mark.parametrize("width", [1, 63, 64, 65, 127, 128, 129, 200])
def test_rows_spanning_several_words(width: int) -> None:
    rng = np.random.default_rng(width)
    target = random_boxes(rng, 3, 37, width)
    pred = np.roll(target, (2, -3), axis=(1, 2)) ^ (rng.random(target.shape) < 0.02)
    for radius in [0, 1, 5, 8, 63]:
        assert_counts_equal(torch.from_numpy(pred), torch.from_numpy(target), radius)


@pytest.mark.parametrize("bound_th", [64, 65, 70, 130])
def test_radii_of_whole_words(bound_th: int) -> None:
    """Radii >= 64 shift by whole words plus bits."""
    rng = np.random.default_rng(bound_th)
    target = np.zeros((2, 60, 300), dtype=bool)
    target[0, 10:20, 20:40] = True
    target[1, 40:42, 250:299] = True
    pred = np.zeros_like(target)
    pred[0, 25:30, 20 + bound_th : 30 + bound_th] = True  # near the edge of the tolerance to the right
    pred[1] = rng.random((60, 300)) < 0.002
    assert_counts_equal(torch.from_numpy(pred), torch.from_numpy(target), bound_th)
    got = boundary_f_measure(torch.from_numpy(pred), torch.from_numpy(target), bound_th)
    assert ((got > 0) & (got < 1)).any()


@pytest.mark.parametrize(("chunk_frames", "pack_frames"), [(2, 2), (7, 3), (3, 2)])
def test_several_chunks_equal_one(monkeypatch: pytest.MonkeyPatch, chunk_frames: int, pack_frames: int) -> None:
    """Seven frames in chunks and packing steps of fewer frames (the last ones shorter) count exactly as in one."""
    rng = np.random.default_rng(7)
    target = torch.from_numpy(random_boxes(rng, 7, 50, 90))
    pred = torch.from_numpy(random_boxes(rng, 7, 50, 90))
    whole = frame_counts(pred, target, 4)
    words_per_frame = 50 * 2  # 50 rows of two words (90 + 4 columns)
    monkeypatch.setattr(bitpacked, "_CHUNK_WORDS", chunk_frames * words_per_frame)
    monkeypatch.setattr(bitpacked, "_PACK_WORDS", pack_frames * words_per_frame)
    chunked = frame_counts(pred, target, 4)
    for name, a, b in zip(whole._fields, whole, chunked):
        assert torch.equal(a, b), name
    assert_counts_equal(pred, target, 4)


def test_dense_noise_frames() -> None:
    """Half the pixels of a 480×854 noise frame are boundary; every word of every row is busy."""
    rng = np.random.default_rng(0)
    pred = torch.from_numpy(rng.random((2, 480, 854)) < 0.5)
    target = torch.from_numpy(rng.random((2, 480, 854)) < 0.02)
    assert_counts_equal(pred, target, boundary_radius(480, 854))
    f = boundary_f_measure(pred, target)
    assert ((f > 0) & (f < 1)).all()


def test_j_only_counts_skip_the_boundaries() -> None:
    rng = np.random.default_rng(3)
    pred, target = random_boxes(rng, 4, 30, 100), random_boxes(rng, 4, 30, 100)
    counts = frame_counts(torch.from_numpy(pred), torch.from_numpy(target), radius=None)
    assert torch.equal(counts.intersection, torch.from_numpy((pred & target).sum((1, 2))))
    assert torch.equal(counts.union, torch.from_numpy((pred | target).sum((1, 2))))
    assert not counts.pred_boundary.any() and not counts.target_matched.any()


def test_region_and_boundary_equal_the_separate_metrics() -> None:
    rng = np.random.default_rng(11)
    pred, target = random_boxes(rng, 5, 64, 150), random_boxes(rng, 5, 64, 150)
    pred_t, target_t = torch.from_numpy(pred).to(torch.uint8) * 255, torch.from_numpy(target)
    j, f = region_and_boundary(pred_t, target_t)
    assert torch.equal(j, region_similarity(pred_t, target_t))
    assert torch.equal(f, boundary_f_measure(pred_t, target_t))
    assert ((f > 0) & (f < 1)).any() and ((j > 0) & (j < 1)).any()


@pytest.mark.parametrize(("offset", "want"), [(1, 1.0), (4, 1.0), (5, 1.0), (8, 1.0), (9, 0.5), (10, 0.0)])
def test_vertical_offsets_around_the_radius(offset: int, want: float) -> None:
    """Dots ``offset`` rows apart in 480×854 frames (r = 8).

    A dot at row y has boundary pixels in rows y - 1 and y, so the closest boundary rows are ``offset - 1`` apart:
    all four pixels on each side match up to 8 rows, half of them at 9 (F = 0.5), none at 10.
    """
    pred = torch.zeros(1, 480, 854, dtype=torch.bool)
    target = torch.zeros_like(pred)
    pred[0, 200, 300] = True
    target[0, 200 + offset, 300] = True
    assert boundary_f_measure(pred, target).item() == want


@pytest.mark.parametrize(("offset", "want"), [(8, 1.0), (9, 0.5), (10, 0.0)])
def test_horizontal_offsets_across_a_word_edge(offset: int, want: float) -> None:
    """Dots either side of the 64-pixel word edge: boundary columns x - 1 and x, so ``offset - 1`` apart."""
    pred = torch.zeros(1, 100, 200, dtype=torch.bool)
    target = torch.zeros_like(pred)
    pred[0, 50, 60] = True
    target[0, 50, 60 + offset] = True
    assert boundary_f_measure(pred, target, bound_th=8).item() == want


@pytest.mark.parametrize("bound_th", [0.0, 1, 2, 5, 0.5, 40])
def test_radii_from_zero_to_beyond_the_frame(bound_th: float) -> None:
    rng = np.random.default_rng(int(bound_th * 10))
    for t, h, w in [(3, 9, 13), (2, 1, 17), (2, 17, 1), (1, 30, 30), (2, 5, 70)]:
        pred = torch.from_numpy(rng.random((t, h, w)) < 0.3)
        target = torch.from_numpy(rng.random((t, h, w)) < 0.3)
        assert_counts_equal(pred, target, boundary_radius(h, w, bound_th))


def test_rows_wider_than_31_words() -> None:
    """Past 31 words a row's byte counts could overflow a lane, so the per-word count is used."""
    rng = np.random.default_rng(5)
    target = torch.from_numpy(random_boxes(rng, 2, 20, 2100))
    target[:, 5:15, 10:2090] = True
    pred = target ^ torch.from_numpy(rng.random((2, 20, 2100)) < 0.01)
    assert_counts_equal(pred, target, 8)


@pytest.mark.parametrize("radius", [1, 8, 63, 64, 70])
def test_content_far_from_the_frame_edges(radius: int) -> None:
    """Only the foreground's box (and its margins) is worked on; the answer must not depend on where it sits."""
    pred = torch.zeros(2, 200, 600, dtype=torch.bool)
    target = torch.zeros_like(pred)
    target[0, 40:50, 300:340] = True
    pred[0, 42:52, 300 + radius // 2 : 341 + radius] = True  # reaches past the box by up to the radius
    pred[1, 44, 250] = True
    target[1, 44 + radius, 250 + radius // 3] = True
    assert_counts_equal(pred, target, radius)
    moved = boundary_f_measure(torch.roll(pred, (20, -200), (1, 2)), torch.roll(target, (20, -200), (1, 2)), radius)
    assert torch.equal(moved, boundary_f_measure(pred, target, radius))


def test_empty_chunks_between_busy_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bitpacked, "_CHUNK_WORDS", 2 * 30 * 2)  # two frames a chunk
    rng = np.random.default_rng(9)
    pred, target = torch.from_numpy(random_boxes(rng, 6, 30, 70)), torch.from_numpy(random_boxes(rng, 6, 30, 70))
    pred[2:4] = target[2:4] = False
    assert_counts_equal(pred, target, 3)
    j, f = region_and_boundary(pred, target)
    assert (j[2:4] == 1).all() and (f[2:4] == 1).all()


@pytest.mark.parametrize("radius", range(0, 21))
def test_content_on_word_edges(radius: int) -> None:
    """Foreground that starts on a word's first column or ends on its last: its boundary (and the dilation of
    it) reaches into the neighbouring words, which the content box must include. One frame per call, so each
    case has its own box."""
    rng = np.random.default_rng(radius)
    target = torch.zeros(1, 40, 300, dtype=torch.bool)
    target[:, 10:20, 64:128] = True
    cases = [torch.zeros_like(target) for _ in range(4)]
    cases[0][:, 12:22, 64 + radius // 2 : 128] = True  # inside the target's words
    cases[1][:, 10:20, 64:80] = True
    cases[2][:, 25:30, 100:128] = True
    cases[3][:, 5:35, 64:128] = torch.from_numpy(rng.random((30, 64)) < 0.05)
    for pred in cases:
        assert_counts_equal(pred, target, radius)
        assert_counts_equal(target, pred, radius)
