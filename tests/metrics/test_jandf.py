"""The JAndF metric class: per-sequence means, accumulation, ``bound_th``, plotting and DDP synchronisation."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from omni_r1.distributed import teardown_process_group
from omni_r1.metrics import JAndF
from omni_r1.metrics.functional import j_and_f


def make_sequences(seed: int, count: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sequences of varied length and size: a box target and a noisy, shifted prediction of it."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(count):
        t, h, w = int(rng.integers(1, 6)), int(rng.integers(8, 48)), int(rng.integers(8, 48))
        target = np.zeros((t, h, w), dtype=bool)
        for i in range(t):
            y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
            target[i, y0 : y0 + rng.integers(1, h // 2 + 1), x0 : x0 + rng.integers(1, w // 2 + 1)] = True
        pred = np.roll(target, shift=(int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(1, 2))
        pred ^= rng.random(pred.shape) < 0.02
        sequences.append((torch.from_numpy(pred).to(torch.uint8) * 255, torch.from_numpy(target)))
    return sequences


def dot(x: int) -> torch.Tensor:
    masks = torch.zeros(1, 10, 10, dtype=torch.bool)
    masks[0, 2, x] = True
    return masks


def test_hand_computed_mean_over_sequences() -> None:
    """Sequence A (1 frame): J = 0, F = 0.5. Sequence B (2 frames): J = (1 + 0) / 2, F = (1 + 1) / 2.

    Sequences weigh equally whatever their length: J = (0 + 0.5) / 2, F = (0.5 + 1) / 2.
    """
    empty, full = torch.zeros(1, 10, 10, dtype=torch.bool), torch.ones(1, 10, 10, dtype=torch.bool)
    metric = JAndF()
    metric.update(dot(2), dot(4))
    metric.update(torch.cat([empty, full]), torch.cat([empty, empty]))
    result = metric.compute()
    assert set(result) == {"J", "F", "JF"}
    assert result["J"].item() == 0.25
    assert result["F"].item() == 0.75
    assert result["JF"].item() == 0.5
    assert all(v.dtype == torch.float64 and v.ndim == 0 for v in result.values())


def test_equals_functional_batch_by_batch_and_accumulated() -> None:
    sequences = make_sequences(seed=0, count=6)
    metric = JAndF()
    j_sum = f_sum = torch.tensor(0.0, dtype=torch.float64)
    for pred, target in sequences:
        batch = metric(pred, target)  # forward: this sequence alone, while accumulating
        j, f, jf = j_and_f(pred, target)
        assert torch.equal(batch["J"], j) and torch.equal(batch["F"], f) and torch.equal(batch["JF"], jf)
        j_sum, f_sum = j_sum + j, f_sum + f
    result = metric.compute()
    assert torch.equal(result["J"], j_sum / len(sequences))
    assert torch.equal(result["F"], f_sum / len(sequences))
    assert torch.equal(result["JF"], (j_sum / len(sequences) + f_sum / len(sequences)) / 2)
    assert 0 < result["F"].item() < 1 and result["J"].item() != result["F"].item()

    metric.reset()
    metric.update(*sequences[0])
    assert torch.equal(metric.compute()["J"], j_and_f(*sequences[0])[0])


def test_bound_th_is_used() -> None:
    """Boundaries three columns apart match only with a radius of at least 3 pixels (10×10 → r = 1 by default)."""
    default, wide = JAndF(), JAndF(bound_th=3)
    default.update(dot(2), dot(5))
    wide.update(dot(2), dot(5))
    assert default.compute()["F"].item() == 0.0
    assert wide.compute()["F"].item() == 1.0
    assert torch.equal(wide.compute()["F"], j_and_f(dot(2), dot(5), bound_th=3)[1])


def test_flags_and_bad_input() -> None:
    metric = JAndF()
    assert metric.higher_is_better is True
    assert metric.full_state_update is False
    assert metric.is_differentiable is False
    with pytest.raises(ValueError, match="does not match"):
        metric.update(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5))


def test_plot() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    metric = JAndF()
    metric.update(dot(2), dot(4))
    fig, ax = metric.plot()
    assert fig is not None and ax is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        metric = JAndF()
        # Rank 0 gets three sequences and rank 1 two, so the synced count matters, not only the sums.
        for pred, target in make_sequences(seed=1, count=5)[rank::world_size]:
            metric.update(pred, target)
        torch.save(metric.compute(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        teardown_process_group(barrier=True)


def test_ddp_sync_equals_single_process(tmp_path: Path) -> None:
    world_size = 2
    mp.spawn(_ddp_worker, args=(world_size, _free_port(), str(tmp_path)), nprocs=world_size, join=True)
    sequences = make_sequences(seed=1, count=5)
    single = JAndF()
    for pred, target in sequences:
        single.update(pred, target)
    want = single.compute()
    rank0_only = JAndF()
    for pred, target in sequences[0::world_size]:
        rank0_only.update(pred, target)
    assert rank0_only.compute()["JF"].item() != pytest.approx(want["JF"].item(), abs=1e-9)
    for rank in range(world_size):
        got = torch.load(tmp_path / f"rank{rank}.pt")
        for key in ("J", "F", "JF"):
            # Only the order of the float64 sums differs from the single process.
            torch.testing.assert_close(got[key], want[key], rtol=1e-13, atol=0)
