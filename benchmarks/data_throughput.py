"""Prompts per second the ReVOS loader delivers for 24-frame 1280x720 clips, with 2 dataloader workers.

    .venv/bin/python benchmarks/data_throughput.py [--samples 48] [--workers 2]

Writes a synthetic ReVOS-layout root (24 JPEG frames at 1280x720 per video, RLE masks) to a temporary folder,
then times a DataLoader over the evaluation path (every frame and mask decoded at full resolution: the heaviest
case, and the one SAM2 and the metrics consume). The first batch (worker start-up) is not timed. The last line is
``samples_per_s=<value>``; the goal is >= 8 on 2 cores, so that data loading never bounds a GPU step.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, RandomSampler

from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic import write_revos
from omni_r1.data.types import collate_samples


def measure(root: Path, samples: int, workers: int) -> float:
    """Samples per second over ``samples`` prompts drawn with replacement, after one warm-up batch."""
    dataset = ReVOSDataset(root, "train", train=False, max_frames=24, check_level="open")
    sampler = RandomSampler(
        dataset, replacement=True, num_samples=samples + 1, generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(dataset, batch_size=1, sampler=sampler, num_workers=workers, collate_fn=collate_samples)
    iterator = iter(loader)
    first = next(iterator)[0]
    assert first.frames.shape == (24, 3, 720, 1280), first.frames.shape
    start = time.perf_counter()
    count = sum(len(batch) for batch in iterator)
    return count / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> float:
    """Write the clip, time the loader, print ``samples_per_s=<value>`` last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48, help="timed prompts")
    parser.add_argument("--workers", type=int, default=2, help="dataloader worker processes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_revos(Path(tmp) / "revos", num_videos=2, num_frames=24, height=720, width=1280, seed=0)
        rate = measure(root, args.samples, args.workers)
    print(f"clip=24x1280x720 workers={args.workers} samples={args.samples} torch_threads={torch.get_num_threads()}")
    print(f"samples_per_s={rate:.2f}")
    return rate


if __name__ == "__main__":
    main()
