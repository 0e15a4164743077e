"""SAM2 over a GRPO group: one batched state for all rollouts against one state per rollout, in one run.

    python benchmarks/sam2_batched.py [--frames 24 --height 120 --width 160 --rollouts 8 --keyframes 4
                                       --image-size 256 --layout per_object --start first_prompt --repeats 1]

A random-weight SAM2.1 hiera-t (``--image-size`` input) tracks a synthetic clip (a bright box moving over a
textured background). Each of the G rollouts prompts ``--keyframes`` distinct random keyframes with a jittered
copy of the target's box there. ``--layout per_object`` makes each rollout one SAM2 object prompted at all its
keyframes (the reference code's per-rollout request: one object id per linked ground-truth object);
``per_box`` makes every (keyframe, box) an object of its own (the paper's batched ids; G·K objects).

Two cases: all rollouts distinct, and the second half of the group repeating the first half's keyframes and
boxes (common once a policy agrees with itself). Each case runs ``SAM2Segmenter(batched=False)`` (one
``init_state`` + ``propagate_in_video`` per rollout through SAM2's public API, as the reference code calls its
SAM2 server) and ``SAM2Segmenter(batched=True)`` (every rollout in one state, each frame encoded once, identical
objects tracked once). Both are warmed up first; then each side runs ``--repeats`` times, interleaved, and the
fastest run counts (the least disturbed by other load on the machine).

The last line is ``speedup=<per-rollout s / batched s, distinct case> dedup_speedup=<same, duplicated case>
max_mask_diff=<largest fraction of pixels where a rollout's batched mask differs from its per-rollout mask>``.
With a CUDA device a ``cuda_speedup=... cuda_dedup_speedup=... cuda_max_mask_diff=...`` line comes just before it.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")  # sam2's propagate_in_video draws a progress bar per call

import torch  # noqa: E402

from omni_r1.detail import BoxPrompt, SAM2Segmenter  # noqa: E402

Case = list[list[BoxPrompt]]


def synthetic_clip(frames: int, height: int, width: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(T, 3, H, W)`` uint8 clip and the ``(T, 4)`` box of the moving target per frame."""
    generator = torch.Generator().manual_seed(seed)
    clip = (torch.rand(frames, 3, height, width, generator=generator) * 80).to(torch.uint8)
    box_h, box_w = height // 3, width // 4
    boxes = []
    for t in range(frames):
        x = int((width - box_w) * t / max(frames - 1, 1))
        y = (height - box_h) // 2
        clip[t, :, y : y + box_h, x : x + box_w] += 160
        boxes.append([x, y, x + box_w, y + box_h])
    return clip, torch.tensor(boxes, dtype=torch.float32)


def make_cases(target: torch.Tensor, rollouts: int, keyframes: int, layout: str, seed: int = 0) -> tuple[Case, Case]:
    """The distinct group and the group whose second half repeats the first half."""
    generator = torch.Generator().manual_seed(seed)
    track = 0 if layout == "per_object" else None
    group: Case = []
    for _ in range(rollouts):
        frames = sorted(torch.randperm(target.shape[0], generator=generator)[:keyframes].tolist())
        prompts = []
        for frame in frames:
            jitter = (torch.rand(4, generator=generator) - 0.5) * 6
            x1, y1, x2, y2 = (target[frame] + jitter).tolist()
            prompts.append(BoxPrompt(frame, (x1, y1, x2, y2), track))
        group.append(prompts)
    half = rollouts // 2
    duplicated = group[: rollouts - half] + group[:half]
    return group, duplicated


def timed(segmenter: SAM2Segmenter, clip: torch.Tensor, case: Case) -> tuple[float, list[torch.Tensor]]:
    if clip.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    masks = segmenter.segment(clip, case)
    if clip.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, masks


def compare(args: argparse.Namespace, device: str, clip: torch.Tensor, cases: dict[str, Case]) -> dict[str, float]:
    """Seconds of both sides per case, and the largest mask difference."""
    batched = SAM2Segmenter(image_size=args.image_size, device=device, start=args.start, batched=True)
    per_rollout = SAM2Segmenter(predictor=batched.predictor, start=args.start, batched=False)
    timed(batched, clip, cases["distinct"])  # warm-up: kernel selection, allocator, first-touch
    timed(per_rollout, clip, cases["distinct"])
    results: dict[str, float] = {"max_mask_diff": 0.0}
    for name, case in cases.items():
        best = {"batched": float("inf"), "per_rollout": float("inf")}
        for _ in range(args.repeats):
            seconds, ours = timed(batched, clip, case)
            best["batched"] = min(best["batched"], seconds)
            seconds, theirs = timed(per_rollout, clip, case)
            best["per_rollout"] = min(best["per_rollout"], seconds)
            diff = max(float((a != b).float().mean()) for a, b in zip(ours, theirs))
            results["max_mask_diff"] = max(results["max_mask_diff"], diff)
        stats = batched.last_stats
        print(
            f"{device} {name}: per_rollout={best['per_rollout']:.2f}s batched={best['batched']:.2f}s "
            f"objects={stats.objects} tracked={stats.tracked} states={per_rollout.last_stats.states}->{stats.states}"
        )
        results[name] = best["per_rollout"] / best["batched"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--rollouts", type=int, default=8)
    parser.add_argument("--keyframes", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--layout", choices=("per_object", "per_box"), default="per_object")
    parser.add_argument("--start", choices=("first_prompt", "first_frame"), default="first_prompt")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*cannot import name '_C'.*")

    clip, target = synthetic_clip(args.frames, args.height, args.width)
    distinct, duplicated = make_cases(target, args.rollouts, args.keyframes, args.layout)
    cases = {"distinct": distinct, "duplicated": duplicated}
    print(
        f"SAM2.1 hiera-t (random) image_size={args.image_size} clip={args.frames}x{args.height}x{args.width} "
        f"G={args.rollouts} K={args.keyframes} layout={args.layout} start={args.start} "
        f"threads={torch.get_num_threads()}"
    )
    cpu = compare(args, "cpu", clip, cases)
    if torch.cuda.is_available():
        cuda = compare(args, "cuda", clip, cases)
        print(
            f"cuda_speedup={cuda['distinct']:.2f} cuda_dedup_speedup={cuda['duplicated']:.2f} "
            f"cuda_max_mask_diff={cuda['max_mask_diff']:.6f}"
        )
    print(
        f"speedup={cpu['distinct']:.2f} dedup_speedup={cpu['duplicated']:.2f} max_mask_diff={cpu['max_mask_diff']:.6f}"
    )


if __name__ == "__main__":
    main()
