"""Lightning callbacks of the kit (exact resume of random-number-generator states)."""

from __future__ import annotations

from omni_r1.callbacks.rng_state import RNGStateCallback, capture_rng_states, restore_rng_states

__all__ = ["RNGStateCallback", "capture_rng_states", "restore_rng_states"]
