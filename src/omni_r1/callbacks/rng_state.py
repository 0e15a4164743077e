"""Random-number-generator states in checkpoints, so a resumed run samples what the uninterrupted run sampled.

Lightning checkpoints weights, optimizer, schedulers and loop progress but no RNG state. GRPO draws its rollouts
from the global torch generator (``generate`` samples with ``torch.multinomial``), so a run resumed at step ``k``
would start step ``k + 1`` from whatever state seeding and model construction left, sample other completions and
end with other weights. :class:`RNGStateCallback` is a stateful callback: Lightning stores its ``state_dict`` in
every full checkpoint and hands it back on resume.

The states are captured when the checkpoint is written (after step ``k``) and put back at the start of the first
resumed training batch. Between the two points the uninterrupted run draws nothing from these generators (data
order and clip draws use their own seeded generators, see :mod:`omni_r1.data.loader`), while the resuming run
draws while it builds the model, so restoring any earlier would be undone.
"""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_warn

KEYS = ("python", "numpy", "torch")


def capture_rng_states() -> dict[str, Any]:
    """States of Python's ``random``, NumPy's global generator, torch's CPU generator and (once used) CUDA's.

    Everything is a tensor or plain Python value, so checkpoints load with ``torch.load(weights_only=True)``.
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos)},
        "torch": torch.get_rng_state(),
    }
    states["numpy"].update(has_gauss=int(has_gauss), gauss=float(gauss))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_states`.

    Raises:
        KeyError: ``states`` lacks one of ``python``, ``numpy``, ``torch``.
    """
    missing = [k for k in KEYS if k not in states]
    if missing:
        raise KeyError(f"RNG states are missing {missing}; expected the keys of capture_rng_states(): {list(KEYS)}")
    random.setstate(_as_python_state(states["python"]))
    numpy = states["numpy"]
    keys = numpy["keys"].numpy().astype(np.uint32)
    np.random.set_state((numpy["kind"], keys, numpy["pos"], numpy["has_gauss"], numpy["gauss"]))
    torch.set_rng_state(states["torch"])
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])


def _as_python_state(state: Any) -> tuple:
    # a checkpoint round trip may turn the nested tuples of random.getstate() into lists
    version, internal, gauss = state
    return version, tuple(internal), gauss


class RNGStateCallback(L.Callback):
    """Saves every rank's RNG states in checkpoints and restores them when training resumes.

    Add it to ``trainer.callbacks`` of every run that should resume exactly. Under DDP the states of all ranks
    are gathered into the checkpoint (rank 0 writes it) and each rank gets its own back, so the gather is a
    collective: ``trainer.save_checkpoint`` must run on every rank, as Lightning requires anyway. Resuming with
    another number of processes cannot be exact and only warns.
    """

    def __init__(self) -> None:
        self._trainer: L.Trainer | None = None
        self._pending: list[dict[str, Any]] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        """``{"ranks": [states of rank 0, rank 1, ...]}``, captured as the checkpoint is written."""
        states = capture_rng_states()
        world = self._trainer.world_size if self._trainer is not None else 1
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[Any] = [None] * world
            torch.distributed.all_gather_object(gathered, states)  # every rank dumps the checkpoint together
            return {"ranks": gathered}
        return {"ranks": [states]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the states until the first resumed batch (see the module docstring for why not now).

        Raises:
            KeyError: ``state_dict`` has no non-empty ``ranks`` list.
        """
        if not isinstance(state_dict.get("ranks"), list) or not state_dict["ranks"]:
            raise KeyError(f"{type(self).__name__} state must hold a non-empty 'ranks' list, got {list(state_dict)}")
        self._pending = state_dict["ranks"]

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._pending is None:
            return
        ranks, self._pending = self._pending, None
        if len(ranks) != trainer.world_size:
            rank_zero_warn(
                f"the checkpoint holds RNG states of {len(ranks)} process(es), this run has {trainer.world_size}: "
                "RNG states are not restored, so the resumed run will not reproduce the uninterrupted one exactly"
            )
            return
        restore_rng_states(ranks[trainer.global_rank])
