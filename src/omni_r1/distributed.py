"""Process-group teardown for every process the kit starts as a distributed rank.

A rank that exits with its gloo process group still alive can abort in the C++ destructor
(``terminate called without an active exception``, exit -6) after all its work is done, at random. Lightning
registers its own at-exit teardown only for NCCL. Every entry point therefore leaves through
:func:`process_group_teardown`: a barrier (so no rank tears down while another still talks to it), then
``destroy_process_group()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.distributed as dist


def teardown_process_group(barrier: bool = True) -> None:
    """Destroy the default process group if one is alive; first a barrier when ``barrier``.

    After an error the barrier is skipped: the other ranks may be waiting in a collective this rank will never
    join, and a barrier would only turn the error into a hang.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if barrier:
            dist.barrier()
    finally:
        dist.destroy_process_group()


@contextmanager
def process_group_teardown() -> Iterator[None]:
    """Run the body, then tear the process group down (barrier only when the body finished without error)."""
    finished = False
    try:
        yield
        finished = True
    finally:
        teardown_process_group(barrier=finished)
