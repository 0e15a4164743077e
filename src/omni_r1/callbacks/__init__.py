"""Lightning callbacks of the kit: exact resume of random-number-generator states, the completions table,
collaboration media."""

from __future__ import annotations

from omni_r1.callbacks.collaboration_media import CollaborationMediaCallback, collaboration_strip
from omni_r1.callbacks.completions import CompletionsTableCallback, completion_rows
from omni_r1.callbacks.rng_state import RNGStateCallback, capture_rng_states, restore_rng_states

__all__ = [
    "CollaborationMediaCallback",
    "CompletionsTableCallback",
    "RNGStateCallback",
    "collaboration_strip",
    "completion_rows",
    "capture_rng_states",
    "restore_rng_states",
]
