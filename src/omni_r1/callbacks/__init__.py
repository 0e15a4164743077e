"""Lightning callbacks of the kit: exact resume of random-number-generator states, collaboration media."""

from __future__ import annotations

from omni_r1.callbacks.collaboration_media import CollaborationMediaCallback, collaboration_strip
from omni_r1.callbacks.rng_state import RNGStateCallback, capture_rng_states, restore_rng_states

__all__ = [
    "CollaborationMediaCallback",
    "RNGStateCallback",
    "collaboration_strip",
    "capture_rng_states",
    "restore_rng_states",
]
