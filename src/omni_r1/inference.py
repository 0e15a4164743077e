"""Both systems built from a training config, and what they make of one prompt.

Shared by ``python -m omni_r1.evaluate run`` (a benchmark split) and ``python -m omni_r1.predict`` (one user video):
the Global system answers greedily, the Detail system grounds the handed-over keyframes and its segmenter tracks the
boxes over every frame of the video.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from jsonargparse import ArgumentParser
from jsonargparse.typing import PositiveInt
from PIL import Image
from torch import Tensor

from omni_r1.answer.handover import HandoverConfig, make_handover
from omni_r1.checkpoint import load_checkpoint
from omni_r1.command_line import set_overrides
from omni_r1.config import init_args, instantiate_model, section
from omni_r1.data.types import VideoSample
from omni_r1.detail.grounders import ReferenceGrounder
from omni_r1.detail.system import DetailSystem
from omni_r1.models.global_system import GlobalSystem

GROUNDER_WEIGHTS = ("policy", "reference")
DEFAULT_MAX_NEW_TOKENS = 1024  # for modules without their own (SFT); the paper allows 800-2048 completion tokens


@dataclass
class Systems:
    """The Global system, the Detail system bound to it, the completion budget of S1's greedy answers and the
    hand-over setting (K0, keyframe mode) of the trained module."""

    policy: GlobalSystem
    detail: DetailSystem
    max_new_tokens: int
    handover: HandoverConfig = field(default_factory=HandoverConfig)


@dataclass
class Prediction:
    """What both systems made of one prompt.

    Attributes:
        completion: S1's greedy answer.
        keyframes: the handed-over keyframes as indices into the *original* frames.
        descriptions: the rewritten description grounded at each keyframe.
        boxes: per keyframe, ``(m, 4)`` boxes ``(x1, y1, x2, y2)`` in original pixels.
        masks: ``(T, H, W)`` bool masks over every frame of the video.
    """

    completion: str
    keyframes: list[int]
    descriptions: list[str]
    boxes: list[Tensor]
    masks: Tensor

    def record(self, sample: VideoSample) -> dict[str, Any]:
        """The JSON-ready answer of ``sample`` (everything but the masks, which are written as PNGs)."""
        return {
            "video": sample.video_id,
            "exp_id": sample.exp_id,
            "expression": sample.expression,
            "completion": self.completion,
            "s1_frames": sample.s1_indices.tolist(),
            "keyframes": self.keyframes,
            "keyframe_names": [sample.frame_names[k] for k in self.keyframes],
            "descriptions": self.descriptions,
            "boxes": [b.tolist() for b in self.boxes],
        }


def answer(policy: GlobalSystem, samples: Sequence[VideoSample], max_new_tokens: int) -> list[str]:
    """S1's greedy answer to each prompt (evaluation decodes deterministically)."""
    return policy.generate(list(samples), num_generations=1, max_new_tokens=max_new_tokens, do_sample=False).texts


def collaborate(
    detail: DetailSystem, sample: VideoSample, completion: str, handover: HandoverConfig | None = None
) -> Prediction:
    """Hand ``completion`` over to the Detail system and track its boxes over every frame of ``sample``.

    ``handover`` is the trained module's setting (:attr:`Systems.handover`); ``None`` uses the default.
    """
    handed = make_handover(completion, sample, handover or HandoverConfig())
    grounding = copy.copy(detail)
    grounding.segmenter = None  # boxes only: a pass over the S1 clip would be thrown away for the full-length one
    output = grounding.run(sample, [handed])[0]
    masks = detail.segment_video(sample, [output])[0].cpu()
    original = sample.s1_indices.long().tolist()
    return Prediction(
        completion=completion,
        keyframes=[original[k] for k in output.keyframes],
        descriptions=[k.description for k in handed.keyframes],
        boxes=[b.cpu() for b in output.boxes],
        masks=masks,
    )


def _read_node(path: str | Path) -> dict[str, Any]:
    """A ``class_path`` / ``init_args`` node from YAML (bare, or under a top-level ``detail:`` key)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Detail-system config not found: {path}")
    node = yaml.safe_load(path.read_text())
    if isinstance(node, dict) and set(node) == {"detail"}:
        node = node["detail"]
    if not isinstance(node, dict) or "class_path" not in node:
        raise ValueError(f"{path}: expected a DetailSystem node with 'class_path' and 'init_args' (or under 'detail:')")
    return node


def _instantiate_detail(node: dict[str, Any]) -> DetailSystem:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_argument("--detail", type=DetailSystem)
    return parser.instantiate_classes(parser.parse_object({"detail": node})).detail


def build_systems(
    config: dict[str, Any],
    *,
    ckpt: str | Path | None = None,
    detail_config: str | Path | None = None,
    grounder_weights: str = "policy",
    device: str | None = None,
) -> Systems:
    """Build the policy and the Detail system of a training config, optionally from a checkpoint.

    The module is built for its policy alone: its own Detail system is left out (it is rebuilt here and bound to the
    policy) and a GRPO module's KL weight is set to 0, so no reference copy of the weights is made unless the
    grounder needs the initial weights.

    Args:
        config: a resolved fit config (:func:`omni_r1.config.resolved_config`); its ``model`` section is built.
        ckpt: Lightning checkpoint whose ``state_dict`` replaces the config's weights.
        detail_config: YAML of a ``DetailSystem`` node; required when the config has none (SFT).
        grounder_weights: a ``ReferenceGrounder`` grounds with the ``policy`` weights (the paper's † evaluation:
            the trained model plays both roles) or the ``reference`` (initial) weights.
        device: where the systems run; ``None`` picks CUDA when available.

    Raises:
        ValueError: no Detail system in the config or ``--detail``, or an unknown ``grounder_weights``.
        TypeError: the module has no Global-system ``policy``.
    """
    if grounder_weights not in GROUNDER_WEIGHTS:
        raise ValueError(f"grounder_weights must be one of {GROUNDER_WEIGHTS}, got {grounder_weights!r}")
    model = copy.deepcopy(section(config, "model"))
    module_args = init_args(model)
    node = _read_node(detail_config) if detail_config else module_args.get("detail")
    if node is None:
        raise ValueError(
            "the config's model has no `detail` (an SFT config?): pass --detail with a YAML file holding a "
            "DetailSystem node, e.g. the `detail:` section of configs/model/grpo_tiny.yaml"
        )
    module_args.pop("detail", None)
    if "beta" in module_args:
        module_args["beta"] = 0.0  # evaluation scores no KL
    module = instantiate_model(model)
    policy = getattr(module, "policy", None)
    if not isinstance(policy, GlobalSystem):
        raise TypeError(f"{type(module).__name__} has no GlobalSystem `policy` to answer with")
    detail = _instantiate_detail(node)
    frozen = None
    if isinstance(detail.grounder, ReferenceGrounder):
        detail.grounder.weights = grounder_weights
        if grounder_weights == "reference" and not policy.has_adapters:
            frozen = copy.deepcopy(policy.model).eval().requires_grad_(False)  # the initial weights: before ckpt
    if ckpt is not None:
        load_checkpoint(module, ckpt)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    module.to(device).eval()
    for part in (frozen, detail.segmenter):
        if part is not None and hasattr(part, "to"):
            part.to(device)
    detail.bind(policy, frozen)
    max_new_tokens = int(getattr(module, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
    return Systems(policy, detail, max_new_tokens, getattr(module, "handover", None) or HandoverConfig())


def write_masks(folder: Path, names: Sequence[str], masks: Tensor) -> None:
    """``(T, H, W)`` masks as ``<folder>/<name>.png``, 0/255 greyscale at their own size."""
    if len(names) != masks.shape[0]:
        raise ValueError(f"{len(names)} frame names for {masks.shape[0]} masks ({folder})")
    folder.mkdir(parents=True, exist_ok=True)
    for name, mask in zip(names, masks.cpu().numpy()):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{name}.png")


def config_arguments(configs: Sequence[str], overrides: Sequence[str] = (), flags: Sequence[str] = ()) -> list[str]:
    """Fit-CLI arguments from ``--config`` files, deprecated ``KEY=VALUE`` overrides (``model.init_args.x=1``)
    and fit-style ``--key value`` flags, in that order (later ones win)."""
    return [*(arg for path in configs for arg in ("--config", path)), *set_overrides(overrides), *flags]


def add_system_arguments(parser: ArgumentParser) -> None:
    """The options that build the two systems (shared by ``evaluate run`` and ``predict``)."""
    parser.add_argument(
        "--config", type=str, action="append", required=True, help="training config, as fit takes it (repeatable)"
    )
    parser.add_argument(
        "--set", type=str, action="append", default=[], metavar="KEY=VALUE", help="deprecated: pass --KEY VALUE"
    )
    parser.add_argument("--ckpt", type=str | None, default=None, help="Lightning checkpoint (default: config weights)")
    parser.add_argument(
        "--detail", type=str | None, default=None, help="DetailSystem YAML (required for configs without one: SFT)"
    )
    parser.add_argument(
        "--grounder_weights",
        type=Literal[GROUNDER_WEIGHTS],
        default="policy",
        help="weights a ReferenceGrounder grounds with: the trained policy in both roles, or the reference",
    )
    parser.add_argument(
        "--max_new_tokens", type=PositiveInt | None, default=None, help="S1 answer budget (default: the module's)"
    )
    parser.add_argument(
        "--device", type=str | None, default=None, help="cpu, cuda, cuda:1... (default: cuda when available)"
    )


SYSTEM_EPILOG = """training-config keys:
  Any --model.*, --data.* or --trainer.* key of the training config overrides it, written as fit takes it:
  --model.init_args.policy.init_args.model_name_or_path Qwen/Qwen2.5-Omni-7B --data.init_args.root /data/ReVOS
"""
