"""ReVOSScore, RefAVSScore, RefAVSNullScore and AVHBenchScore synchronise across two gloo processes."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from omni_r1.distributed import teardown_process_group
from omni_r1.metrics import AVHBenchScore, RefAVSNullScore, RefAVSScore, ReVOSScore


def make_items(count: int) -> list[dict[str, Any]]:
    """Per item: one ReVOS expression, one RefAVS batch and two AVHBench answers."""
    rng = np.random.default_rng(0)
    items = []
    for k in range(count):
        target = torch.from_numpy(rng.random((2, 10, 12)) < 0.4)
        probs = torch.from_numpy(rng.random((3, 16, 16))).float()
        items.append(
            {
                "revos": (target ^ torch.from_numpy(rng.random((2, 10, 12)) < 0.1), target, target, k % 2),
                "refavs": (probs, (probs > 0.3).float() * (k != 2)),
                "avh": (["yes", "no"] if k % 2 else ["no", "no"], ["Yes", "No"]),
            }
        )
    return items


def fresh() -> dict[str, Any]:
    return {
        "revos": ReVOSScore(robustness="corrected"),
        "refavs": RefAVSScore(),
        "null": RefAVSNullScore(),
        "avh": AVHBenchScore(),
    }


def feed(metrics: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    for item in items:
        metrics["revos"].update(*item["revos"])
        metrics["refavs"].update(*item["refavs"])
        metrics["null"].update(item["refavs"][0])
        metrics["avh"].update(*item["avh"])
    return {name: metric.compute() for name, metric in metrics.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        torch.save(feed(fresh(), make_items(5)[rank::world_size]), Path(out_dir) / f"rank{rank}.pt")
    finally:
        teardown_process_group(barrier=True)


def flat(result: dict[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in result.items():
        if isinstance(value, dict):
            out.update({f"{name}/{k}": v.item() for k, v in value.items()})
        else:
            out[name] = value.item()
    return out


def test_two_processes_equal_one(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    want = flat(feed(fresh(), make_items(5)))
    rank0_alone = flat(feed(fresh(), make_items(5)[0::2]))
    assert any(rank0_alone[k] != pytest.approx(v, abs=1e-9) for k, v in want.items())
    for rank in range(2):
        got = flat(torch.load(tmp_path / f"rank{rank}.pt"))
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
