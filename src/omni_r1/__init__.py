"""omni_r1: a Lightning experiment kit for Omni-R1 (RL for omnimodal reasoning via two-system collaboration)."""

__version__ = "0.1.0"
