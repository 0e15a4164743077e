"""Every distributed rank the kit starts leaves with its process group torn down (barrier, then destroy).

A gloo rank that exits with its group alive can abort in the C++ destructor (exit -6) after all its work is done;
here two ranks run through :func:`~omni_r1.distributed.process_group_teardown` several times and must always exit
0 with no group left.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch.distributed as dist

from omni_r1.distributed import process_group_teardown, teardown_process_group

WORKER = """
import sys, torch, torch.distributed as dist
from omni_r1.distributed import process_group_teardown
rank = int(sys.argv[1])
with process_group_teardown():
    dist.init_process_group("gloo", rank=rank, world_size=2)
    t = torch.tensor([rank + 1.0])
    dist.all_reduce(t)
    assert t.item() == 3.0
assert not dist.is_initialized()
print("done", rank)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ranks_exit_cleanly_with_the_group_destroyed(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    for attempt in range(4):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), OMP_NUM_THREADS="1")
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), str(r)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for r in range(2)
        ]
        outputs = [p.communicate(timeout=120)[0] for p in procs]
        for rank, (proc, out) in enumerate(zip(procs, outputs)):
            assert proc.returncode == 0, f"attempt {attempt}, rank {rank} ended with {proc.returncode}:\n{out}"
            assert f"done {rank}" in out


def test_teardown_without_a_group_is_a_no_op() -> None:
    assert not dist.is_initialized()
    teardown_process_group()
    with process_group_teardown():
        pass
    assert not dist.is_initialized()


def test_teardown_after_an_error_skips_the_barrier(tmp_path: Path) -> None:
    """One rank failing must not hang in a barrier its peer never reaches: the group is destroyed directly."""
    init = tmp_path / "init"
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=0, world_size=1)
    try:
        with process_group_teardown():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert not dist.is_initialized()
