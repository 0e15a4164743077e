"""Peak GPU memory of the paper recipes at real scale, phase by phase, against ``omni_r1.plan``'s estimate.

```bash
python benchmarks/gpu_recipe.py                   # both recipes on one GPU, 2 GRPO steps each
python benchmarks/gpu_recipe.py --recipe fsdp --steps 3
python benchmarks/gpu_recipe.py --tiny            # the same code on CPU with the tiny parts (the test runs this)
```

**What it builds.** The Qwen2.5-Omni-7B thinker architecture from its published configuration
(``qwen2_5_omni_7b_thinker.json`` beside this script), with random bf16 weights written to a local folder, and the
kit's tokenizer and processor (no download). Each recipe is then built by the fit CLI from its own config, exactly
as ``python -m omni_r1.fit`` builds it, with only these overrides: the model folder, a random-weight SAM2.1 (the
recipe's size: hiera-large for ``omni_r1_7b.yaml``, hiera-small for the QLoRA recipe), the data (synthetic ReVOS
videos of 1280×720 frames, every prompt the recipe's largest: ``max_frames`` frames, so the pixel budgets bind),
``--trainer.devices 1`` for the FSDP recipe, no logger and no checkpoints. Precision, dtype, quantisation, LoRA,
G = 8, completion length, micro-batches, the reference and the S2 grounder's settings are the recipe's.

**What a step does.** A real ``Trainer.fit`` step of ``GRPOModule``, with three changes that random weights need:
EOS is forbidden, so every completion (and every S2 grounding answer) has the recipe's full length; the hand-over
is a well-formed answer per rollout (K0 moments, each rollout's descriptions its own, so nothing is deduplicated)
instead of the random text; and the grounder's real generation runs but its boxes are replaced by the ground-truth
boxes padded to ``max_objects`` per keyframe, so SAM2 tracks the G·K0·objects the plan counts. The reward is
random, so every group has non-zero advantages and the update does its full work.

**What it prints.** Per recipe and phase (rollout = S1 sampling, s2 = grounding + SAM2, reference = the KL
reference's log-probs, update = the μ optimizer steps): seconds, the peak of allocated memory in that phase next
to the plan's persistent + phase bytes (ratio), then the step's peak of reserved memory next to the plan's peak
(persistent + largest phase + overhead), rollout tokens/s and seconds per step. The exit status is 1 when a
recipe's measured peak exceeds its plan by more than ``--tolerance`` (15 %).

The FSDP recipe on one device holds float32 weights, a float32 reference, float32 gradients and AdamW states of
the whole model: about 159 GiB, more than one GPU has. Unless ``--layers`` says otherwise, it keeps the largest
number of decoder layers whose plan fits in ``--fill`` (90 %) of the GPU; the plan is computed for that same
architecture, so the comparison holds layer for layer. The QLoRA recipe keeps all 28.

``--tiny`` runs the same code on CPU with the recipes shrunk by ``experiments/tiny/recipe_on_cpu.yaml`` (tiny
thinker, SAM2.1 hiera-t at 128 px); memory is not measured there (the plan is still printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = Path(__file__).with_name("qwen2_5_omni_7b_thinker.json")
RECIPES = {"qlora": REPO / "configs/omni_r1_7b_qlora_24gb.yaml", "fsdp": REPO / "configs/omni_r1_7b.yaml"}
TINY = REPO / "experiments/tiny/recipe_on_cpu.yaml"
PLAN_PHASES = {"rollout": "generation", "s2": "reward", "reference": "training", "update": "training"}
GiB = 1024**3


# ---------------------------------------------------------------------------------------------- the model folder
def thinker_config(tiny: bool, layers: int | None = None) -> Any:
    """The 7B thinker's published configuration (or the tiny one) with the kit tokenizer's token ids."""
    from transformers import Qwen2_5OmniThinkerConfig

    from omni_r1.models.tiny import build_tokenizer
    from omni_r1.models.tiny.configs import tiny_thinker_config

    tiny_config = tiny_thinker_config(build_tokenizer())
    if tiny:
        config = tiny_config
    else:
        published = {k: v for k, v in json.loads(ARCHITECTURE.read_text()).items() if not k.startswith("_")}
        ids = ("audio_token_index", "image_token_index", "video_token_index", "audio_start_token_id")
        ids += ("audio_end_token_id", "vision_start_token_id", "vision_end_token_id", "user_token_id")
        text = dict(published.pop("text_config"))
        special = tiny_config.text_config
        text.update(pad_token_id=special.pad_token_id, eos_token_id=special.eos_token_id)
        config = Qwen2_5OmniThinkerConfig(text_config=text, **published, **{k: getattr(tiny_config, k) for k in ids})
    if layers is not None:
        config.text_config.num_hidden_layers = layers
    return config


def write_random_thinker(folder: Path, config: Any, device: str) -> Path:
    """Random bf16 weights of ``config`` and the kit's processor in ``folder`` (what ``from_pretrained`` reads)."""
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    from omni_r1.models.tiny import build_tokenizer
    from omni_r1.models.tiny.tokenizer import build_processor

    if (folder / "model.safetensors.index.json").is_file() or (folder / "model.safetensors").is_file():
        return folder
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5OmniThinkerForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.pad_token_id]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    build_processor(tokenizer).save_pretrained(folder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return folder


def with_layers(source: Path, folder: Path, layers: int) -> Path:
    """``source`` with ``layers`` decoder layers: its files linked, its config changed (the weights of the dropped
    layers are then unexpected keys, which ``from_pretrained`` skips)."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        target = folder / file.name
        if file.name != "config.json" and not target.exists():
            target.symlink_to(file.resolve())
    config = json.loads((source / "config.json").read_text())
    config["text_config"]["num_hidden_layers"] = layers
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


# ---------------------------------------------------------------------------------------------- the recipe run
def recipe_arguments(recipe: str, tiny: bool, folder: Path, data: dict[str, Any], steps: int, root: Path) -> list[str]:
    """Fit-CLI arguments: the recipe's own config, then an overlay (written into ``root``) holding only the
    overrides the module docstring lists."""
    import yaml

    trainer: dict[str, Any] = {
        "max_steps": steps,
        "logger": False,
        "callbacks": [],
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "limit_val_batches": 0,
        "default_root_dir": str(root),
    }
    if recipe == "fsdp" and not tiny:
        trainer["devices"] = 1
    policy = {"init_args": {"model_name_or_path": str(folder)}}
    segmenter = {"init_args": {"checkpoint": None}}  # random SAM2.1 weights of the recipe's size
    detail = {"init_args": {"segmenter": segmenter}}
    overlay = {"trainer": trainer, "model": {"init_args": {"policy": policy, "detail": detail}}}
    if data:
        overlay["data"] = data
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"benchmark_{folder.name}.yaml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    return ["--config", str(RECIPES[recipe])] + (["--config", str(TINY)] if tiny else []) + ["--config", str(path)]


def revos_data(recipe_args: list[str], root: Path) -> dict[str, Any]:
    """The recipe's ReVOS DataModule (its own settings) on the synthetic root, every prompt ``max_frames`` long."""
    from omni_r1.config import resolved_config

    config = resolved_config(recipe_args)
    revos = dict(config["data"]["init_args"]["datasets"]["revos"]["init_args"])
    revos.update(root=str(root), min_frames=revos["max_frames"], batch_size=1)
    revos.pop("synthetic", None)
    revos["num_workers"] = config["data"]["init_args"].get("num_workers", 0)
    return {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": revos}


class RandomReward:
    """A standard-normal reward per completion: non-zero advantages in every group, whatever the text."""

    def __call__(self, completions: Sequence[str], sample: Any, **_: Any) -> Any:
        from omni_r1.rewards.output import RewardOutput

        value = torch.randn(len(completions))
        return RewardOutput(total=value, terms={"random": value})


class PlanSizedBoxes:
    """The recipe's grounder generates as usual (its memory and time are measured); its boxes, meaningless from
    random weights, are replaced by the ground truth padded with random boxes to ``boxes`` per keyframe."""

    needs_ground_truth = True

    def __init__(self, grounder: Any, boxes: int) -> None:
        self.grounder = grounder
        self.boxes = boxes
        self.generator = torch.Generator().manual_seed(0)

    def ground(self, images, descriptions, task: str = "vos", gt_boxes=None) -> list[torch.Tensor]:
        self.grounder.ground(images, descriptions, task=task)
        out = []
        for image, truth in zip(images, gt_boxes):
            h, w = image.shape[-2:]
            missing = max(0, self.boxes - len(truth))
            corner = torch.rand(missing, 2, generator=self.generator) * torch.tensor([w / 2, h / 2])
            size = (0.25 + torch.rand(missing, 2, generator=self.generator) / 4) * torch.tensor([w, h])
            out.append(torch.cat([truth[: self.boxes].float(), torch.cat([corner, corner + size], dim=1)]))
        return out


class PhaseMeter:
    """Wraps a module's phases to time them and read the GPU's peak memory in each (a Lightning callback)."""

    def __init__(self, cuda: bool, objects: int) -> None:
        self.cuda = cuda
        self.objects = objects
        self.steps: list[dict[str, Any]] = []
        self.tokens: list[int] = []

    # Lightning calls these hooks by name; the class is handed to the CLI as a trainer callback.
    def setup(self, trainer: Any, module: Any, stage: str) -> None:
        from omni_r1.answer.handover import make_handovers
        from omni_r1.answer.reference import reference_answer

        policy, detail = module.policy, module.detail
        policy.forbidden_token_ids = sorted(set(policy.forbidden_token_ids) | set(policy.eos_token_ids))
        module.reward = RandomReward()
        detail.grounder = PlanSizedBoxes(detail.grounder, self.objects)
        run = detail.run
        K0 = module.handover.max_keyframes

        def planned_run(sample: Any, handovers: Sequence[Any]) -> Any:
            answer = reference_answer(sample, K0)
            marked = '"description": "rollout {}, '
            texts = [answer.replace('"description": "', marked.format(g)) for g in range(len(handovers))]
            planned = make_handovers(texts, sample, module.handover)
            if not all(h.keyframes for h in planned):
                raise RuntimeError("the planned hand-over gave no keyframes: the answer format changed")
            return run(sample, planned)

        policy.generate = self._timed("rollout", policy.generate, count_tokens=True)
        detail.run = self._timed("s2", planned_run)
        module._score_logps = self._timed("reference", module._score_logps)
        module.update = self._timed("update", module.update)

    def _sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def _timed(self, phase: str, fn: Callable[..., Any], count_tokens: bool = False) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self._sync()
            record = self.steps[-1].setdefault(phase, {"seconds": 0.0, "allocated": 0})
            record["seconds"] += time.perf_counter() - start
            if self.cuda:
                record["allocated"] = max(record["allocated"], torch.cuda.max_memory_allocated())
            if count_tokens:
                self.tokens.append(int(out.completion_mask.sum()))
                record["tokens"] = record.get("tokens", 0) + int(out.completion_mask.numel())
            return out

        return run

    def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
        self._sync()
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        self.steps.append({"_start": time.perf_counter()})

    def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._sync()
        step = self.steps[-1]
        step["_seconds"] = time.perf_counter() - step.pop("_start")
        step["_reserved"] = torch.cuda.max_memory_reserved() if self.cuda else 0


def as_callback(meter: PhaseMeter) -> Any:
    """``meter`` as a ``lightning.Callback`` (the import stays out of module import time)."""
    import lightning as L

    class Meter(L.Callback):
        def setup(self, trainer, pl_module, stage):
            meter.setup(trainer, pl_module, stage)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            meter.on_train_batch_start(trainer, pl_module, batch, batch_idx)

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            meter.on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    return Meter()


def fit(args: list[str], meter: PhaseMeter) -> Any:
    """Build the run as ``python -m omni_r1.fit`` does (the meter added to its callbacks) and fit it."""
    from lightning.pytorch import LightningDataModule, LightningModule

    from omni_r1.cli import OmniR1CLI
    from omni_r1.distributed import process_group_teardown

    with process_group_teardown():
        cli = OmniR1CLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            run=False,
            args=args,
            save_config_kwargs={"overwrite": True},
            auto_configure_optimizers=False,
            trainer_defaults={"callbacks": [as_callback(meter)]},
        )
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli


def plan_for(args: list[str], source: str) -> Any:
    from omni_r1.config import resolved_config
    from omni_r1.plan.estimate import estimate
    from omni_r1.plan.settings import run_settings

    return estimate(run_settings(resolved_config(args), source=source))


def choose_layers(recipe: str, full: Path, work: Path, data: dict[str, Any], fill: float) -> int:
    """The most decoder layers (of 28) whose plan fits in ``fill`` of the GPU (all of them for QLoRA)."""
    total = torch.cuda.mem_get_info()[1]
    layers = thinker_config(tiny=False).text_config.num_hidden_layers
    while layers > 1:
        folder = with_layers(full, work / f"thinker-{layers}-layers", layers)
        plan = plan_for(recipe_arguments(recipe, False, folder, data, 1, work), recipe)
        if plan.peak(sharded=True) <= fill * total:
            return layers
        layers -= 1
    return 1


# ---------------------------------------------------------------------------------------------- report
def report(recipe: str, meter: PhaseMeter, plan: Any, cuda: bool, layers: int, tolerance: float) -> bool:
    """Print the recipe's figures; ``True`` when its measured peak stays within ``tolerance`` of the plan."""
    steps = meter.steps[1:] or meter.steps  # the first step warms up (allocator, kernels) when there are more
    persistent = plan.phase_bytes("persistent", sharded=True)
    overhead = plan.phase_bytes("overhead", sharded=True)
    print(f"== {recipe}: {plan.settings.model_name_or_path} ({layers} decoder layers), {len(meter.steps)} steps")
    for phase, plan_phase in PLAN_PHASES.items():
        records = [s[phase] for s in steps if phase in s]
        if not records:
            continue
        seconds = sum(r["seconds"] for r in records) / len(records)
        expected = persistent + plan.phase_bytes(plan_phase, sharded=True)
        if cuda:
            peak = max(r["allocated"] for r in records)
            memory = f"peak allocated {peak / GiB:7.2f} GiB, plan {expected / GiB:7.2f} GiB"
            memory += f", ratio {peak / expected:.2f}"
        else:
            memory = f"memory not measured on CPU, plan {expected / GiB:7.2f} GiB"
        print(f"  {phase:<9} {seconds:8.2f} s   {memory}")
    rollout = [s["rollout"] for s in steps if "rollout" in s]
    tokens_per_s = sum(r["tokens"] for r in rollout) / max(sum(r["seconds"] for r in rollout), 1e-9)
    step_s = sum(s["_seconds"] for s in steps) / len(steps)
    forced = all(n == meter.tokens[0] for n in meter.tokens)
    print(f"  rollout tokens/s {tokens_per_s:.1f} (every completion full length: {forced}), step {step_s:.2f} s")
    planned = plan.peak(sharded=True)
    if not cuda:
        print(f"  peak: not measured on CPU; plan {planned / GiB:.2f} GiB (incl. {overhead / GiB:.2f} GiB overhead)")
        return forced
    peak = max(s["_reserved"] for s in meter.steps)
    ratio = peak / planned
    ok = ratio <= 1 + tolerance
    verdict = "ok" if ok else "OVER"
    print(f"  peak reserved {peak / GiB:.2f} GiB, plan {planned / GiB:.2f} GiB, ratio {ratio:.2f} ({verdict})")
    return ok and forced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", choices=("qlora", "fsdp", "both"), default="both")
    parser.add_argument("--steps", type=int, default=2, help="GRPO steps per recipe (the first warms up)")
    parser.add_argument("--tiny", action="store_true", help="tiny parts on CPU (no memory figures)")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers of the FSDP run (default: fit)")
    parser.add_argument("--fill", type=float, default=0.9, help="share of GPU memory the FSDP run's plan may use")
    parser.add_argument("--tolerance", type=float, default=0.15, help="allowed excess of the measured peak")
    parser.add_argument("--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "omni_r1_gpu_recipe")
    options = parser.parse_args(argv)
    cuda = torch.cuda.is_available() and not options.tiny
    if not cuda and not options.tiny:
        parser.error("no GPU: run with --tiny for the CPU check")
    os.environ.setdefault("WANDB_MODE", "offline")
    work = options.workdir
    work.mkdir(parents=True, exist_ok=True)

    from omni_r1.data.synthetic import write_revos

    full = write_random_thinker(work / "thinker", thinker_config(options.tiny), "cuda" if cuda else "cpu")
    height, width = (120, 160) if options.tiny else (720, 1280)
    ok = True
    for recipe in ("qlora", "fsdp") if options.recipe == "both" else (options.recipe,):
        probe = recipe_arguments(recipe, options.tiny, full, {}, options.steps, work / recipe)
        data_root = work / f"revos-{recipe}"
        data = revos_data(probe, data_root)
        frames = int(data["init_args"]["max_frames"])
        if not (data_root / "mask_dict.json").is_file():
            write_revos(data_root, num_videos=2, num_frames=frames + 8, height=height, width=width, seed=0)
        layers = thinker_config(options.tiny).text_config.num_hidden_layers
        folder = full
        if recipe == "fsdp" and cuda:
            layers = options.layers or choose_layers(recipe, full, work, data, options.fill)
            folder = with_layers(full, work / f"thinker-{layers}-layers", layers)
        args = recipe_arguments(recipe, options.tiny, folder, data, options.steps, work / recipe)
        plan = plan_for(args, str(RECIPES[recipe].relative_to(REPO)))
        meter = PhaseMeter(cuda, int(data["init_args"].get("max_objects") or 3))
        fit(args, meter)
        ok = report(recipe, meter, plan, cuda, layers, options.tolerance) and ok
        if cuda:
            torch.cuda.empty_cache()
    print("result: " + ("within the plan" if ok else f"a peak exceeds the plan by more than {options.tolerance:.0%}"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
