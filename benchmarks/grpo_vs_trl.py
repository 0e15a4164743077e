"""Seconds per GRPO optimizer step: ``GRPOModule`` under a ``lightning.Trainer`` vs ``trl.GRPOTrainer``, on CPU.

Both sides train the same tiny text-only Qwen2 (``tiny://qwen2``, saved to a folder both load from) on the same
prompts with the same reward (the fraction of vowels among the completion's letters), one prompt × G = 8
completions of at most 64 new tokens per optimizer step, β = 0.04 (a frozen reference copy on both sides),
temperature 1, top-p 0.95, AdamW (lr 1e-6, weight decay 0.01, constant), gradient-norm clip 5, fp32, and the
``grpo`` loss aggregation. Sampling is unconstrained on both sides (TRL forbids no tokens).

Our side runs ``lightning.Trainer.fit`` on the module (accelerator cpu, no logger, no checkpointing, no progress
bar); TRL runs ``GRPOTrainer.train`` (``use_cpu``, no reporting, no saving). Rounds alternate A/B so that load
drift on a shared machine hits both sides alike. A step's time is the wall time between the ends of consecutive
optimizer steps (generation, rewards, reference pass, backward and optimizer step included); each round's first
step is a warm-up and is not counted, and model loading happens before it.

Run::

    python benchmarks/grpo_vs_trl.py --rounds 3 --steps 8

The last line is ``ratio=<our seconds per step / TRL seconds per step>`` (medians over all timed steps).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

NUM_GENERATIONS = 8
MAX_NEW_TOKENS = 64
BETA = 0.04
TOP_P = 0.95
LEARNING_RATE = 1e-6
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 5.0
PROMPTS = [
    f"Describe the {thing} {place} in a few words." for thing in ("dog", "car", "red ball", "piano") for place in
    ("on the left", "behind the tree", "near the road", "in the middle")
]


def vowel_fraction(text: str) -> float:
    """The shared reward: vowels / letters of a completion (0 without letters); varies across random samples."""
    letters = [c for c in text.lower() if c.isalpha()]
    return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0


class VowelReward:
    """``GRPOModule`` reward interface around :func:`vowel_fraction`."""

    def __call__(self, completions: Sequence[str], sample: object, num_tokens: object = None) -> object:
        from omni_r1.rewards.records import RewardOutput

        values = torch.tensor([vowel_fraction(c) for c in completions], dtype=torch.float32)
        return RewardOutput(total=values, terms={"vowels": values})


def trl_vowel_reward(completions: list, **kwargs: object) -> list[float]:
    """TRL reward interface: conversational completions are ``[{"role": "assistant", "content": text}]``."""
    return [vowel_fraction(c[0]["content"] if isinstance(c, list) else c) for c in completions]


def _interval_times(ends: list[float]) -> list[float]:
    """Seconds of each step after the first (warm-up), from the wall-clock ends of consecutive steps."""
    return [b - a for a, b in zip(ends, ends[1:])]


def run_ours(model_dir: Path, steps: int, seed: int) -> list[float]:
    """``steps`` timed optimizer steps (+1 warm-up) of ``GRPOModule`` through ``lightning.Trainer.fit``."""
    import lightning as L
    from torch.utils.data import DataLoader

    from omni_r1.data.types import collate_samples
    from omni_r1.grpo.module import GRPOModule
    from omni_r1.models.text_policy import TextPolicy, TextSample

    class StepClock(L.Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_train_batch_end(self, *args: object) -> None:
            self.ends.append(time.perf_counter())

    torch.manual_seed(seed)
    policy = TextPolicy(str(model_dir), forbid_special_tokens=False)
    module = GRPOModule(
        policy,
        reward=VowelReward(),
        optimizer=lambda params: torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY),
        num_generations=NUM_GENERATIONS,
        max_new_tokens=MAX_NEW_TOKENS,
        temperature=1.0,
        top_p=TOP_P,
        beta=BETA,
        loss_type="grpo",
        max_grad_norm=MAX_GRAD_NORM,
    )
    samples = [TextSample(prompt=p, sample_id=str(i)) for i, p in enumerate(PROMPTS)]
    loader = DataLoader(samples, batch_size=1, shuffle=False, collate_fn=collate_samples)
    clock = StepClock()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps + 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
    )
    trainer.fit(module, train_dataloaders=loader)
    return _interval_times(clock.ends)


def run_trl(model_dir: Path, steps: int, seed: int, output_dir: Path) -> list[float]:
    """``steps`` timed optimizer steps (+1 warm-up) of ``trl.GRPOTrainer.train``."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args: object, state: object, control: object, **kwargs: object) -> None:
            self.ends.append(time.perf_counter())

    dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": p}] for p in PROMPTS]})
    config = GRPOConfig(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        report_to=[],
        per_device_train_batch_size=NUM_GENERATIONS,  # one prompt × its G completions per step
        gradient_accumulation_steps=1,
        num_generations=NUM_GENERATIONS,
        max_completion_length=MAX_NEW_TOKENS,
        beta=BETA,
        temperature=1.0,
        top_p=TOP_P,
        loss_type="grpo",
        scale_rewards="group",
        learning_rate=LEARNING_RATE,
        weight_decay=WEIGHT_DECAY,
        lr_scheduler_type="constant",
        max_grad_norm=MAX_GRAD_NORM,
        max_steps=steps + 1,
        logging_steps=10**6,
        save_strategy="no",
        disable_tqdm=True,
        shuffle_dataset=False,
        seed=seed,
    )
    trainer = GRPOTrainer(
        model=str(model_dir), reward_funcs=trl_vowel_reward, args=config, train_dataset=dataset
    )
    clock = StepClock()
    trainer.add_callback(clock)
    trainer.train()
    return _interval_times(clock.ends)


def main(argv: Sequence[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (each runs both sides once)")
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps per side per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    from omni_r1.models.tiny import build_tiny_qwen2

    ours_all, trl_all = [], []
    with tempfile.TemporaryDirectory(prefix="grpo_vs_trl_") as tmp:
        model_dir = build_tiny_qwen2(Path(tmp) / "tiny-qwen2", seed=args.seed)
        for r in range(args.rounds):
            # Alternate which side goes first so a drifting machine load favours neither.
            order = ("ours", "trl") if r % 2 == 0 else ("trl", "ours")
            times = {}
            for side in order:
                if side == "ours":
                    times[side] = run_ours(model_dir, args.steps, args.seed + r)
                else:
                    times[side] = run_trl(model_dir, args.steps, args.seed + r, Path(tmp) / f"trl-{r}")
            ours_all += times["ours"]
            trl_all += times["trl"]
            print(
                f"round {r + 1}/{args.rounds} ({order[0]} first): "
                f"ours {statistics.median(times['ours']):.4f} s/step, trl {statistics.median(times['trl']):.4f} s/step "
                f"(medians of {args.steps} steps; means {statistics.fmean(times['ours']):.4f} / "
                f"{statistics.fmean(times['trl']):.4f})",
                flush=True,
            )
    ours, trl = statistics.median(ours_all), statistics.median(trl_all)
    print(f"overall: ours {ours:.4f} s/step, trl {trl:.4f} s/step over {len(ours_all)} steps each")
    ratio = ours / trl
    print(f"ratio={ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
