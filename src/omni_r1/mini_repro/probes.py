"""Linear probes: can the Global system perceive what its answer must say?

A description names the target's colour and kind, and an audio query needs which tones sound when. Before asking
a tiny thinker to learn that, check that its frozen encoders, *as the thinker sees them* (the run's pixel budget,
the merged vision tokens, the audio tokens), carry it: a logistic regression fitted on training clips and scored
(one-vs-rest ROC AUC, averaged over classes) on held-out clips, whose colour/kind pairs training never shows.

- ``colour`` / ``kind`` (video): per object and 2-frame block, the merged video token that covers most of the
  object's pixels → its colour (5 classes) / kind (3 classes);
- ``image_kind`` (RefAVS first frame, the image S1 gets): the image token that covers most of each object → kind;
- ``tone`` (audio): per second, the mean audio token → whether each colour's tone sounds in it;

``python -m omni_r1.mini_repro.probes --config experiments/mini_repro/sft.yaml`` prints the four AUCs (further
arguments override the config, e.g. ``--model.init_args.policy.init_args.pixels.max_pixels 18816``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from omni_r1.data.refavs import RefAVSDataset
from omni_r1.data.revos import ReVOSDataset
from omni_r1.data.synthetic.render import COLOURS, KINDS
from omni_r1.data.synthetic.sounding import SECONDS
from omni_r1.data.synthetic.sounding_layouts import build_sounding_task, write_sounding_task
from omni_r1.data.types import VideoSample

MERGE = 2  # spatial_merge_size: one thinker token per 2×2 patches
TEMPORAL = 2  # temporal_patch_size: one video token per 2 frames


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    """ROC AUC (Mann-Whitney, ties counted half) of ``scores`` for binary ``labels``; NaN without both classes."""
    pos, neg = scores[labels.bool()], scores[~labels.bool()]
    if pos.numel() == 0 or neg.numel() == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).double().sum() + 0.5 * (pos[:, None] == neg[None, :]).double().sum()
    return float(greater / (pos.numel() * neg.numel()))


def fit_probe(x: Tensor, y: Tensor, steps: int = 200, weight_decay: float = 1e-3) -> tuple[Tensor, Tensor]:
    """One-vs-rest logistic regression ``(W, b)`` for ``(N, D)`` features and ``(N, C)`` 0/1 labels (features are
    standardised by the caller); L-BFGS on the mean binary cross-entropy plus an L2 penalty."""
    w = torch.zeros(x.shape[1], y.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(y.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + weight_decay * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def probe_auc(train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor) -> float:
    """Mean one-vs-rest AUC on the test set over the classes with both labels present there."""
    mean, std = train_x.mean(0), train_x.std(0).clamp(min=1e-6)
    w, b = fit_probe((train_x - mean) / std, train_y.double())
    scores = ((test_x - mean) / std) @ w + b
    aucs = [roc_auc(scores[:, c], test_y[:, c]) for c in range(test_y.shape[1])]
    aucs = [a for a in aucs if not np.isnan(a)]
    return float(np.mean(aucs)) if aucs else float("nan")


def _one_hot(index: Sequence[int], classes: int) -> Tensor:
    return torch.nn.functional.one_hot(torch.tensor(list(index)), classes).double()


def _token_of(mask: Tensor, grid_h: int, grid_w: int) -> tuple[int, int] | None:
    """Merged-token cell ``(row, col)`` covering most of ``mask`` ``(H, W)`` (any frames already OR-ed), or None."""
    rows, cols = grid_h // MERGE, grid_w // MERGE
    if not mask.any():
        return None
    pooled = torch.nn.functional.adaptive_avg_pool2d(mask[None, None].double(), (rows, cols))[0, 0]
    flat = int(pooled.argmax())
    return flat // cols, flat % cols


def _object_tokens(features: Tensor, grid: Tensor, masks: Tensor, frames: int) -> list[tuple[int, Tensor]]:
    """(object, feature) per object and temporal block where it shows: ``masks`` ``(O, T, H, W)``."""
    t, h, w = (int(v) for v in grid)
    per_block = (h // MERGE) * (w // MERGE)
    out = []
    for o in range(masks.shape[0]):
        for block in range(t):
            lo, hi = block * TEMPORAL, min(frames, (block + 1) * TEMPORAL)
            cell = _token_of(masks[o, lo:hi].any(0), h, w)
            if cell is not None:
                out.append((o, features[block * per_block + cell[0] * (w // MERGE) + cell[1]]))
    return out


def _encode(policy, samples: list[VideoSample]) -> tuple[list[Tensor], Tensor | None, str]:
    prompt = policy.encode(samples)
    media = prompt.media
    name = "video" if "video" in media.features else "image"
    grid = media.layout.get(f"{name}_grid_thw")
    return [f.float() for f in media.features[name]], grid, name


def video_probes(policy, root: Path, train_split: tuple[str, str], test_split: tuple[str, str]) -> dict[str, float]:
    """``colour`` and ``kind`` AUCs of the video tokens (ReVOS-layout clips: one referring query per object)."""
    data: dict[str, tuple[list[Tensor], list[int], list[int]]] = {}
    for key, (folder, split) in (("train", train_split), ("test", test_split)):
        dataset = ReVOSDataset(root / folder, split, True, min_frames=10, max_frames=10)
        clips: dict[str, VideoSample] = {}
        for i in range(len(dataset)):
            sample = dataset[i]
            if sample.expression_type == 0:  # referring: its target is the object its words name
                clips.setdefault(f"{sample.video_id}/{sample.expression}", sample)
        feats, colours, kinds = [], [], []
        for sample in clips.values():
            (features,), grid, _ = _encode(policy, [sample])
            colour, kind = sample.expression.split()[-2:]
            frames = len(sample.s1_indices)
            for _, feature in _object_tokens(features, grid[0], sample.masks[:, sample.s1_indices], frames):
                feats.append(feature)
                colours.append(list(COLOURS).index(colour))
                kinds.append(KINDS.index(kind))
        data[key] = (feats, colours, kinds)
    (trx, trc, trk), (tex, tec, tek) = data["train"], data["test"]
    trx, tex = torch.stack(trx).double(), torch.stack(tex).double()
    out = {
        "colour": probe_auc(trx, _one_hot(trc, len(COLOURS)), tex, _one_hot(tec, len(COLOURS))),
        "kind": probe_auc(trx, _one_hot(trk, len(KINDS)), tex, _one_hot(tek, len(KINDS))),
    }
    return out


def audio_probes(policy, root: Path, task, train: str, test: str) -> dict[str, float]:
    """``tone`` AUC (audio tokens per second → which colours sound) and ``image_kind`` AUC (first-frame tokens)."""
    data = {}
    for key, split in (("train", train), ("test", test)):
        clips = {clip.video.video_id: clip for clip in task.avs[split]}
        dataset = RefAVSDataset(root / "refavs", split)
        seen: set[str] = set()
        tone_x, tone_y, kind_x, kind_y = [], [], [], []
        for i in range(len(dataset)):
            sample = dataset[i]
            if sample.video_id in seen:
                continue
            seen.add(sample.video_id)
            clip = clips[sample.video_id]
            prompt = policy.encode([sample])
            audio = prompt.media.features["audio"][0].float()  # (tokens, D)
            per_second = audio.shape[0] // SECONDS
            for second in range(SECONDS):
                tone_x.append(audio[second * per_second : (second + 1) * per_second].mean(0))
                tone_y.append(
                    [
                        float(
                            any(
                                o.shape.colour == c and o.sounding and o.sounding[0] <= second < o.sounding[1]
                                for o in clip.objects
                            )
                        )
                        for c in COLOURS
                    ]
                )
            image = prompt.media.features["image"][0].float()
            grid = prompt.media.layout["image_grid_thw"][0]
            first = torch.from_numpy(clip.video.masks[:, :1])  # (O, 1, H, W): frame 0
            for o, feature in _object_tokens(image, grid, first, 1):
                kind_x.append(feature)
                kind_y.append(KINDS.index(clip.objects[o].shape.kind))
        data[key] = (tone_x, tone_y, kind_x, kind_y)
    (a, b, c, d), (e, f, g, h) = data["train"], data["test"]
    return {
        "tone": probe_auc(
            torch.stack(a).double(), torch.tensor(b).double(), torch.stack(e).double(), torch.tensor(f).double()
        ),
        "image_kind": probe_auc(
            torch.stack(c).double(), _one_hot(d, len(KINDS)), torch.stack(g).double(), _one_hot(h, len(KINDS))
        ),
    }


def run_probes(policy, root: Path, *, train_clips: int, test_clips: int, seed: int = 0) -> dict[str, float]:
    """All four AUCs on a sounding-task root (written here if needed) with ``policy``'s encoders."""
    write_sounding_task(root, train_clips=train_clips, val_clips=1, test_clips=test_clips, seed=seed)
    task = build_sounding_task(train_clips=train_clips, val_clips=1, test_clips=test_clips, seed=seed)
    with torch.no_grad():
        out = video_probes(policy, root, ("revos", "train"), ("revos_heldout", "valid"))
        out.update(audio_probes(policy, root, task, "train", "test_u"))
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    from omni_r1.config import instantiate_model, resolved_config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="a stage config of experiments/mini_repro (its policy)")
    parser.add_argument("--policy", default="tiny://qwen2.5-omni?seed=100", help="model_name_or_path")
    parser.add_argument("--root", default="runs/probes/data", help="where the probe data is written")
    parser.add_argument("--train_clips", type=int, default=32)
    parser.add_argument("--test_clips", type=int, default=16)
    args, overrides = parser.parse_known_args(argv)  # the rest: fit-CLI overrides of the config
    config = resolved_config(
        ["--config", args.config, "--model.init_args.policy.init_args.model_name_or_path", args.policy, *overrides]
    )
    policy = instantiate_model(config["model"]).policy
    result = run_probes(policy, Path(args.root), train_clips=args.train_clips, test_clips=args.test_clips)
    print(" ".join(f"{name} {value:.3f}" for name, value in result.items()))
    return result


if __name__ == "__main__":
    main()
