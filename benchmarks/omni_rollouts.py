"""Sampling G completions per omni prompt: the Global system's prefill-once loop against ``transformers``' generate.

``GlobalSystem.generate`` prefills each prompt (text + video + audio tokens) once, repeats its KV cache for the G
completions and decodes one token per forward, continuing the multimodal rotary positions itself;
``hf_generate=True`` hands the same inputs to ``generate`` with ``num_return_sequences=G``, which prefills every
copy of the long media prompt. Both use the cached encoder features, the same forbidden tokens, temperature and
top-p.

The policy is the tiny Qwen2.5-Omni thinker (``tiny://qwen2.5-omni``), the prompt a synthetic ReVOS clip with an
audio track (as in ``encoder_cache.py``). Greedy decoding is checked first: both samplers must give the same tokens.
Then each round times one sampling call per mode, back to back, from the same seed.

Run::

    python benchmarks/omni_rollouts.py --rounds 5

It prints the prompt length, the per-mode median seconds and generated tokens, and
``speedup=<generate seconds per token / loop seconds per token>`` last (medians over rounds).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from encoder_cache import load_batch


def timed(policy: object, prompt: object, hf: bool, args: argparse.Namespace, seed: int) -> tuple[float, int]:
    """Seconds of one sampling call and the completion tokens it produced."""
    policy.hf_generate = hf
    torch.manual_seed(seed)
    start = time.perf_counter()
    rollouts = policy.generate(
        prompt,
        num_generations=args.num_generations,
        max_new_tokens=args.max_new_tokens,
        temperature=1.0,
        top_p=0.95,
    )
    return time.perf_counter() - start, int(rollouts.completion_mask.sum())


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="ReVOS clip length shown to the Global system")
    parser.add_argument("--height", type=int, default=112)
    parser.add_argument("--width", type=int, default=168)
    parser.add_argument("--max-pixels", type=int, default=32 * 28 * 28, help="per-frame pixel budget")
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    from omni_r1.models.global_system import GlobalSystem, PixelBudget

    with tempfile.TemporaryDirectory() as tmp:
        batch = load_batch("revos", Path(tmp), args.frames, args.height, args.width)
    policy = GlobalSystem("tiny://qwen2.5-omni", pixels=PixelBudget(min_pixels=4 * 28 * 28, max_pixels=args.max_pixels))
    prompt = policy.encode(batch)
    length = prompt.inputs["input_ids"].shape[1]
    print(f"prompt tokens={length} G={args.num_generations} threads={torch.get_num_threads()}")

    greedy = []
    for hf in (True, False):
        policy.hf_generate = hf
        greedy.append(policy.generate(prompt, num_generations=1, max_new_tokens=args.max_new_tokens, do_sample=False))
    same = torch.equal(greedy[0].completion_ids, greedy[1].completion_ids)
    print(f"greedy tokens equal: {same}")
    if not same:
        raise SystemExit("the two samplers disagree on greedy tokens")

    timed(policy, prompt, True, args, 0), timed(policy, prompt, False, args, 0)  # warm-up
    per_token = {True: [], False: []}
    for seed in range(args.rounds):
        for hf in (True, False):
            seconds, tokens = timed(policy, prompt, hf, args, seed)
            per_token[hf].append(seconds / max(tokens, 1))
            print(f"round {seed} {'generate' if hf else 'loop    '} {seconds:.3f} s {tokens} tokens")
    hf_s, ours_s = statistics.median(per_token[True]), statistics.median(per_token[False])
    print(f"median s/token: generate {hf_s * 1e3:.2f} ms, loop {ours_s * 1e3:.2f} ms")
    speedup = hf_s / ours_s
    print(f"speedup={speedup:.2f}")
    return speedup


if __name__ == "__main__":
    main()
