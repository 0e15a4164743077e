"""Encoder work and step time of one GRPO step with the omni encoders cached once per prompt vs run every pass.

A GRPO step on an omni prompt feeds the same frames and audio to the model many times: G sampled completions, the
old log-probs (μ > 1), the reference log-probs (β > 0) and μ updates. ``GlobalSystem(cache_encoders=True)`` runs
the frozen vision and audio encoders once per prompt per step and reuses their features; with caching off every
pass re-encodes, and the scoring passes and updates repeat each prompt's media for its G completions, so the
encoders see G times the input rows on each of them (``generate`` too, for whatever inputs it expands: the per-call
rows printed show which).

The policy is the tiny Qwen2.5-Omni thinker (``tiny://qwen2.5-omni``). The prompt is a synthetic ReVOS clip with an
audio track added (video + audio; default) or a synthetic RefAVS prompt (first frame as an image + 10 s of
audio, as the Global system sees RefAVS). One step is ``make_experience`` + ``update`` of a ``GRPOModule`` attached
to a ``lightning.Trainer`` (optimizers and strategy set up, no fit loop) with G = 8, β = 0.04 (frozen reference
copy), μ = 2. Forward hooks on the encoders (``omni_r1.models.loading.encoder_modules``) of the policy and of the
reference count calls and input rows: vision patches (``pixel_values`` rows) and audio mel frames.

Run::

    python benchmarks/encoder_cache.py --steps 3 --rounds 2

It prints the encoder calls (input rows per call) of one step per mode, the per-round median step times, and
``ratio=<cached step seconds / uncached step seconds>`` last: the geometric mean of the per-round ratios (each
round runs both modes back to back; each mode's first step is a warm-up, also the one counted).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

NUM_GENERATIONS = 8
BETA = 0.04
NUM_ITERATIONS = 2
MODES = ("cached", "uncached")
ENCODER_INPUTS = ("pixel_values", "pixel_values_videos", "input_features")


class LengthReward:
    """Completion length in characters / 100: a random policy's groups then never have equal rewards."""

    def __call__(self, completions: Sequence[str], sample: object, num_tokens: Tensor | None = None) -> object:
        from omni_r1.rewards.output import RewardOutput

        value = torch.tensor([len(c) / 100.0 for c in completions])
        return RewardOutput(total=value, terms={"length_chars": value})


class EncoderMeter:
    """Records every forward call of the vision and audio encoders with its input rows (patches / mel frames)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        from omni_r1.models.loading import encoder_modules

        self.events: list[tuple[str, int]] = []
        self.handles = []
        for model in models:
            encoders = encoder_modules(model)
            for name, module in model.named_modules():
                if any(module is encoder for encoder in encoders):
                    kind = "audio" if name.endswith("audio_tower") else "vision"
                    self.handles.append(module.register_forward_pre_hook(self._hook(kind), with_kwargs=True))
        if not self.handles:
            raise RuntimeError("no vision / audio encoder found to count: is this an omni thinker?")

    def _hook(self, kind: str):
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            features = args[0] if args else next(iter(kwargs.values()))
            # vision: (patches, C·T·P·P); audio: (mel bins, frames) with the padding already removed
            self.events.append((kind, features.shape[0] if kind == "vision" else features.shape[-1]))

        return hook


def with_audio(sample: object, sample_rate: int = 16000) -> object:
    """The clip with a deterministic two-tone audio track as long as the clip the Global system sees."""
    n = int(sample.duration * sample_rate)
    t = torch.arange(n, dtype=torch.float32) / sample_rate
    audio = 0.3 * torch.sin(2 * math.pi * 440 * t) + 0.2 * torch.sin(2 * math.pi * 660 * t)
    return dataclasses.replace(sample, audio=audio, sample_rate=sample_rate)


def load_batch(data: str, root: Path, frames: int, height: int, width: int) -> list:
    """One training prompt: a ReVOS clip of ``frames`` frames + audio, or a RefAVS prompt."""
    from omni_r1.data.synthetic import write_refavs, write_revos

    if data == "revos":
        from omni_r1.data.revos import ReVOSDataModule

        write_revos(root, num_videos=2, num_frames=frames, height=height, width=width, seed=0)
        dm = ReVOSDataModule(root=str(root), batch_size=1, min_frames=frames, max_frames=frames)
        dm.setup("fit")
        return [with_audio(s) for s in next(iter(dm.train_dataloader()))]
    from omni_r1.data.refavs import RefAVSDataModule

    write_refavs(root, num_videos=1, height=height, width=width, splits=("train", "val"), seed=0)
    dm = RefAVSDataModule(root=str(root), batch_size=1)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


def build_module(cache: bool, max_new_tokens: int, max_pixels: int) -> object:
    """A ``GRPOModule`` on the tiny omni thinker, attached to a Trainer that owns its optimizer (no fit loop)."""
    import lightning as L

    from omni_r1.models.global_system import GlobalSystem, PixelBudget
    from omni_r1.training.grpo_module import GRPOModule

    policy = GlobalSystem(
        "tiny://qwen2.5-omni",
        pixels=PixelBudget(min_pixels=4 * 28 * 28, max_pixels=max_pixels),
        cache_encoders=cache,
    )
    module = GRPOModule(
        policy,
        reward=LengthReward(),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-6),
        num_generations=NUM_GENERATIONS,
        max_new_tokens=max_new_tokens,
        beta=BETA,
        num_iterations=NUM_ITERATIONS,
    )
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, max_steps=1)
    trainer.strategy.connect(module)
    trainer.strategy._lightning_module = module
    module.trainer = trainer
    trainer.strategy.setup_optimizers(trainer)
    return module


def step(module: object, batch: list, meter: EncoderMeter) -> tuple[float, dict[str, list[tuple[str, int]]]]:
    """One GRPO step; returns its seconds and the encoder calls (kind, rows) of the experience and of the updates."""
    meter.events.clear()
    start = time.perf_counter()
    exp = module.make_experience(batch)
    experience = len(meter.events)
    module.update(exp)
    seconds = time.perf_counter() - start
    return seconds, {"experience": meter.events[:experience], "updates": meter.events[experience:]}


def format_counts(calls: dict[str, list[tuple[str, int]]]) -> str:
    """``phase: vision N calls [rows per call] = total patches, audio ...`` for each phase."""
    parts = []
    for phase, events in calls.items():
        text = []
        for kind, unit in (("vision", "patches"), ("audio", "mel frames")):
            rows = [n for k, n in events if k == kind]
            text.append(f"{kind} {len(rows)} calls {rows} = {sum(rows)} {unit}")
        parts.append(f"{phase}: " + ", ".join(text))
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> float:
    """Measure both modes, print counts and per-round times, and ``ratio=...`` last; returns the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("revos", "refavs"), default="revos")
    parser.add_argument("--frames", type=int, default=8, help="ReVOS clip length shown to the Global system")
    parser.add_argument("--height", type=int, default=112)
    parser.add_argument("--width", type=int, default=168)
    parser.add_argument("--max-pixels", type=int, default=32 * 28 * 28, help="per-frame pixel budget")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per mode per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds alternating the two modes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; 1 by default: tiny tensors gain nothing from more, and on a busy machine extra "
        "OpenMP threads wait on each other and make timings erratic (0: torch's default)",
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.rounds < 1:
        parser.error("--steps and --rounds must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import lightning  # noqa: F401  (sets its logger's level on import: quiet it afterwards)

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="encoder_cache_") as tmp:
        batch = load_batch(args.data, Path(tmp) / args.data, args.frames, args.height, args.width)
        modules, meters = {}, {}
        for mode in MODES:
            torch.manual_seed(args.seed)
            modules[mode] = build_module(mode == "cached", args.max_new_tokens, args.max_pixels)
            policy = modules[mode].policy
            meters[mode] = EncoderMeter([policy.model, modules[mode].reference.frozen])
        inputs = modules["cached"].policy.prompt_inputs(batch)
        media = {k: tuple(v.shape) for k, v in inputs.items() if k in ENCODER_INPUTS}
        print(f"prompt: {args.data}, media inputs {media}; G={NUM_GENERATIONS}, beta={BETA}, mu={NUM_ITERATIONS}")
        for mode in MODES:  # warm-up step, also the counted one
            torch.manual_seed(args.seed)
            _, calls = step(modules[mode], batch, meters[mode])
            print(f"{mode} encoder work per step: {format_counts(calls)}", flush=True)
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        ratios = []
        for r in range(args.rounds):
            order = MODES if r % 2 == 0 else MODES[::-1]
            for mode in order:
                for _ in range(args.steps):
                    # the k-th step of both modes gets the same seed: identical embeddings, identical samples
                    torch.manual_seed(args.seed + len(times[mode]))
                    times[mode].append(step(modules[mode], batch, meters[mode])[0])
            recent = {mode: statistics.median(times[mode][-args.steps :]) for mode in MODES}
            ratios.append(recent["cached"] / recent["uncached"])
            print(
                f"round {r + 1}/{args.rounds} ({order[0]} first): cached {recent['cached']:.3f} s/step, "
                f"uncached {recent['uncached']:.3f} s/step, ratio {recent['cached'] / recent['uncached']:.3f} "
                f"(medians of {args.steps} steps)",
                flush=True,
            )
    cached, uncached = statistics.median(times["cached"]), statistics.median(times["uncached"])
    print(f"overall: cached {cached:.3f} s/step, uncached {uncached:.3f} s/step over {len(times['cached'])} steps each")
    ratio = statistics.geometric_mean(ratios)  # per-round ratios compare steps taken close together
    print(f"ratio={ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
