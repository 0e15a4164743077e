"""Seconds per GRPO optimizer step: ``GRPOModule`` under a ``lightning.Trainer`` vs ``trl.GRPOTrainer``, on CPU.

Both sides train the same tiny text-only Qwen2 (``tiny://qwen2``, saved to a folder both load from) on the same
prompts with the same reward (the fraction of vowels among the completion's letters), one prompt × G = 8
completions of at most 64 new tokens per optimizer step, β = 0.04 (a frozen reference copy on both sides),
temperature 1, top-p 0.95, the same stop tokens, AdamW (lr 1e-6, weight decay 0.01, constant), gradient-norm clip
5, fp32, and the ``grpo`` loss aggregation. Sampling is unconstrained on both sides (TRL forbids no tokens).

Our side is ``lightning.Trainer.fit`` on ``GRPOModule(TextPolicy)`` (accelerator cpu, no logger, no checkpointing,
no progress bar): each ``training_step`` runs ``make_experience`` + ``update``. TRL runs ``GRPOTrainer.train``
(``use_cpu``, no reporting, no saving). Both are built (models loaded) before timing starts, then trained in two
threads that take turns one optimizer step at a time, so a load change on a shared machine hits both alike; rounds
rebuild both and alternate which side opens. A step's time runs from getting the turn to the end of the next
optimizer step: generation, rewards, reference pass, backward, optimizer step and the loop's own overhead. Each
side's first step in a round (warm-up) is not timed.

Run::

    python benchmarks/grpo_vs_trl.py --rounds 3 --steps 8 --threads 1

Per-round lines give both medians, their ratio and the mean completion length of each side (equal work); the last
line is ``ratio=<our seconds per step / TRL seconds per step>``, the geometric mean of the per-round ratios of
medians (each round's steps alternate, so its ratio is immune to load drift between rounds).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

NUM_GENERATIONS = 8
MAX_NEW_TOKENS = 64
BETA = 0.04
TOP_P = 0.95
LEARNING_RATE = 1e-6
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 5.0
SIDES = ("ours", "trl")
PROMPTS = [
    f"Describe the {thing} {place} in a few words."
    for thing in ("dog", "car", "red ball", "piano")
    for place in ("on the left", "behind the tree", "near the road", "in the middle")
]


def vowel_fraction(text: str) -> float:
    """The shared reward: vowels / letters of a completion (0 without letters); varies across random samples."""
    letters = [c for c in text.lower() if c.isalpha()]
    return sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0


class VowelReward:
    """``GRPOModule`` reward interface around :func:`vowel_fraction`; records completion lengths in tokens."""

    def __init__(self) -> None:
        self.lengths: list[float] = []

    def __call__(self, completions: Sequence[str], sample: object, num_tokens: Tensor | None = None) -> object:
        from omni_r1.rewards.output import RewardOutput

        if num_tokens is not None:
            self.lengths += [float(n) for n in num_tokens]
        values = torch.tensor([vowel_fraction(c) for c in completions], dtype=torch.float32)
        return RewardOutput(total=values, terms={"vowels": values})


class TRLVowelReward:
    """TRL reward interface around :func:`vowel_fraction`; records completion lengths (tokens up to the EOS)."""

    __name__ = "vowel_fraction"  # TRL names the reward's metrics after it

    def __init__(self) -> None:
        self.lengths: list[float] = []

    def __call__(self, completions: list, completion_ids: list[list[int]] | None = None, **kwargs: object) -> list:
        if completion_ids is not None:
            self.lengths += [float(len(ids)) for ids in completion_ids]
        # Conversational prompts give completions as [{"role": "assistant", "content": text}].
        return [vowel_fraction(c[0]["content"] if isinstance(c, list) else c) for c in completions]


class Baton:
    """Lets two training loops in two threads take turns, one optimizer step each.

    A side calls :meth:`start` before its first step, :meth:`step_end` at the end of every step (records the time
    since it last got the turn, hands the turn over and waits for it back) and :meth:`finish` when done. Only one
    side computes at a time. The first step of each side (setup, warm-up) is not timed.
    """

    def __init__(self, first: str) -> None:
        self.turn = first
        self.done: set[str] = set()
        self.times: dict[str, list[float]] = {side: [] for side in SIDES}
        self._resumed: dict[str, float] = {}
        self._cond = threading.Condition()

    @staticmethod
    def _other(side: str) -> str:
        return SIDES[1] if side == SIDES[0] else SIDES[0]

    def _wait(self, side: str) -> None:
        other = self._other(side)
        self._cond.wait_for(lambda: self.turn == side or other in self.done)

    def start(self, side: str) -> None:
        with self._cond:
            self._wait(side)

    def step_end(self, side: str) -> None:
        now = time.perf_counter()
        if side in self._resumed:
            self.times[side].append(now - self._resumed[side])
        with self._cond:
            self.turn = self._other(side)
            self._cond.notify_all()
            self._wait(side)
        self._resumed[side] = time.perf_counter()

    def finish(self, side: str) -> None:
        with self._cond:
            self.done.add(side)
            self.turn = self._other(side)
            self._cond.notify_all()


def build_ours(model_dir: Path, steps: int, baton: Baton, reward: VowelReward) -> Callable[[], object]:
    """``GRPOModule(TextPolicy)`` and a ``lightning.Trainer`` for ``steps`` + 1 steps; returns the fit call."""
    import lightning as L
    from torch.utils.data import DataLoader

    from omni_r1.data.types import collate_samples
    from omni_r1.models.text_policy import TextPolicy, TextSample
    from omni_r1.training.grpo_module import GRPOModule

    class Turns(L.Callback):
        def on_train_start(self, *args: object) -> None:
            baton.start("ours")

        def on_train_batch_end(self, *args: object) -> None:
            baton.step_end("ours")

    policy = TextPolicy(str(model_dir), forbid_special_tokens=False)
    module = GRPOModule(
        policy,
        reward=reward,
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
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps + 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Turns()],
    )
    return lambda: trainer.fit(module, train_dataloaders=loader)


def build_trl(
    model_dir: Path, steps: int, seed: int, output_dir: Path, baton: Baton, reward: TRLVowelReward
) -> Callable[[], object]:
    """A ``trl.GRPOTrainer`` with the same settings for ``steps`` + 1 steps; returns its train call."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    class Turns(TrainerCallback):
        def on_train_begin(self, *args: object, **kwargs: object) -> None:
            baton.start("trl")

        def on_step_end(self, *args: object, **kwargs: object) -> None:
            baton.step_end("trl")

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
    trainer = GRPOTrainer(model=str(model_dir), reward_funcs=reward, args=config, train_dataset=dataset)
    trainer.remove_callback(PrinterCallback)  # the end-of-training summary would interleave with our lines
    trainer.add_callback(Turns())
    return trainer.train


def run_round(
    model_dir: Path, steps: int, seed: int, first: str, output_dir: Path, threads: int | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Both sides built up front, then trained in two threads taking turns; returns (step times, lengths)."""
    baton = Baton(first)
    torch.manual_seed(seed)
    rewards = {"ours": VowelReward(), "trl": TRLVowelReward()}
    runs = {
        "ours": build_ours(model_dir, steps, baton, rewards["ours"]),
        "trl": build_trl(model_dir, steps, seed, output_dir, baton, rewards["trl"]),
    }
    errors: list[BaseException] = []

    def target(side: str) -> None:
        try:
            if threads is not None:  # the intra-op pool size is set per calling thread
                torch.set_num_threads(threads)
            runs[side]()
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)
        finally:
            baton.finish(side)

    workers = [threading.Thread(target=target, args=(side,), name=side) for side in SIDES]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    for side, times in baton.times.items():
        if len(times) != steps:
            raise RuntimeError(f"{side}: timed {len(times)} steps, expected {steps}")
    return baton.times, {side: reward.lengths for side, reward in rewards.items()}


def main(argv: Sequence[str] | None = None) -> float:
    """Run the rounds, print one line per round and ``ratio=...`` last; returns the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (both sides rebuilt each round)")
    parser.add_argument("--steps", type=int, default=8, help="timed optimizer steps per side per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; 1 by default: tiny tensors gain nothing from more, and on a busy machine extra "
        "OpenMP threads wait on each other and make timings erratic (0: torch's default)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error("--rounds and --steps must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    import lightning  # noqa: F401  (sets its logger's level on import: quiet it afterwards)

    from omni_r1.models.tiny import build_tiny_qwen2

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    times_all: dict[str, list[float]] = {side: [] for side in SIDES}
    ratios = []
    with tempfile.TemporaryDirectory(prefix="grpo_vs_trl_") as tmp:
        model_dir = build_tiny_qwen2(Path(tmp) / "tiny-qwen2", seed=args.seed)
        for r in range(args.rounds):
            first = SIDES[r % 2]
            times, lengths = run_round(
                model_dir, args.steps, args.seed + r, first, Path(tmp) / f"trl-{r}", args.threads or None
            )
            med = {side: statistics.median(times[side]) for side in SIDES}
            for side in SIDES:
                times_all[side] += times[side]
            ratios.append(med["ours"] / med["trl"])
            print(
                f"round {r + 1}/{args.rounds} ({first} first): ours {med['ours']:.4f} s/step, "
                f"trl {med['trl']:.4f} s/step, ratio {med['ours'] / med['trl']:.3f} (medians of {args.steps} steps; "
                f"mean completion length ours {statistics.fmean(lengths['ours']):.1f}, "
                f"trl {statistics.fmean(lengths['trl']):.1f} tokens)",
                flush=True,
            )
    ours, trl = statistics.median(times_all["ours"]), statistics.median(times_all["trl"])
    print(f"overall: ours {ours:.4f} s/step, trl {trl:.4f} s/step (medians of {len(times_all['ours'])} steps each)")
    # Per-round ratios pair steps taken seconds apart; their geometric mean is robust to load drift between rounds.
    ratio = statistics.geometric_mean(ratios)
    print(f"ratio={ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1:])
