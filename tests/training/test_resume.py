"""Exact resume: a GRPO run killed with SIGKILL and resumed from its checkpoint ends bitwise equal to an
uninterrupted run (sampling RNG, data position and optimizer restored), plus unit tests of the two parts that
make it so: :class:`~omni_r1.data.loader.ResumableDataLoader` and :class:`~omni_r1.callbacks.RNGStateCallback`.

The end-to-end test drives ``python -m omni_r1.fit`` with the demo GRPO config in subprocesses. The interrupted
run gets :class:`SigkillAfterStep` (the subprocess imports it from this file), which kills the process inside the
optimizer step that follows its last checkpoint: that step's rollouts are sampled and its gradients computed,
then everything not in the checkpoint is lost, as in a real crash.
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.data import _update_dataloader
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset

from omni_r1.callbacks.rng_state import RNGStateCallback, capture_rng_states, restore_rng_states
from omni_r1.data.loader import ResumableDataLoader
from omni_r1.rewards import HierarchicalReward
from omni_r1.rewards.output import RewardOutput

REPO = Path(__file__).resolve().parents[2]
DEMO_GRPO = REPO / "configs" / "demo_grpo.yaml"
# The 5 reasoning expressions of the synthetic ReVOS data in batches of 2: 3 batches per epoch, so resuming from
# step 2 lands mid-epoch, from step 3 on the epoch's end, and step 4 needs the second epoch's permutation.
STEPS = 4
RUN_ARGS = [
    "--model.init_args.policy.init_args.model_name_or_path=tiny://qwen2.5-omni",
    "--model.init_args.max_new_tokens=8",
    "--model.init_args.reward=test_resume.CharacterCountReward",
    "--data.init_args.type_ids=[1]",
    f"--trainer.max_steps={STEPS}",
    "--trainer.logger=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
    "--trainer.callbacks.dirpath=steps",
    "--trainer.callbacks.filename={step}",
    "--trainer.callbacks.every_n_train_steps=1",
    "--trainer.callbacks.save_top_k=-1",
]


class SigkillAfterStep(L.Callback):
    """Test-only: SIGKILLs its own process inside the first optimizer step after step ``step``.

    Args:
        step: the last completed (and checkpointed) optimizer step before the kill.
    """

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class CharacterCountReward(HierarchicalReward):
    """Test-only: reward = characters / 100, so a random policy's groups differ and every step trains.

    The demo reward gives a random tiny policy 0 for every completion (no ``<think>``/``<answer>`` format), hence
    zero advantages and no update at all: an uninterrupted and a resumed run would then agree however wrong the
    resume, and the comparison could not fail.
    """

    def __call__(self, completions: list[str], sample: object, **kwargs: object) -> RewardOutput:
        value = torch.tensor([len(text) / 100.0 for text in completions])
        return RewardOutput(total=value, terms={"characters": value})


# ------------------------------------------------------------------------------------------------ the loader
def _order(loader: DataLoader, batches: int) -> list[list[int]]:
    """The next ``batches`` batches of ``loader``, over as many passes as needed, as plain lists."""
    out: list[list[int]] = []
    while len(out) < batches:
        for batch in loader:
            out.append(batch.tolist())
            if len(out) == batches:
                break
    return out


def _loader(**kwargs) -> ResumableDataLoader:
    kwargs.setdefault("shuffle", True)
    return ResumableDataLoader(list(range(10)), batch_size=3, generator=torch.Generator().manual_seed(7), **kwargs)


@pytest.mark.parametrize("stop", [0, 2, 4, 6, 9])  # nothing yet, mid-pass, at a pass end, in passes 2 and 3
@pytest.mark.parametrize("shuffle", [True, False])
def test_loader_resumes_the_remaining_order(stop: int, shuffle: bool) -> None:
    reference = _order(_loader(shuffle=shuffle), 12)  # 4 batches per pass, 3 passes
    interrupted = _loader(shuffle=shuffle)
    seen: list[list[int]] = []
    iterator = iter(interrupted)
    while len(seen) < stop:
        batch = next(iterator, None)
        if batch is None:
            iterator = iter(interrupted)
            continue
        seen.append(batch.tolist())
    state = interrupted.state_dict()
    assert state["batches"] == ((stop - 1) % 4 + 1 if stop else 0)  # a finished pass counts all its 4 batches

    resumed = _loader(shuffle=shuffle)
    resumed.load_state_dict(state)
    assert seen + _order(resumed, 12 - stop) == reference


def test_loader_resumes_with_a_prefetching_worker() -> None:
    def make() -> ResumableDataLoader:
        return ResumableDataLoader(
            list(range(10)), batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(3), num_workers=1
        )

    reference = [b.tolist() for b in make()]
    interrupted = make()
    iterator = iter(interrupted)
    seen = [next(iterator).tolist() for _ in range(2)]  # the worker has been sent more indices than this
    state = interrupted.state_dict()
    list(iterator)  # finish the pass so the worker exits now rather than at garbage collection
    resumed = make()
    resumed.load_state_dict(state)
    assert state["batches"] == 2 and seen + [b.tolist() for b in resumed] == reference


def test_loader_survives_lightning_injecting_a_distributed_sampler() -> None:
    data = list(range(10))

    def make() -> DataLoader:
        loader = ResumableDataLoader(data, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(1))
        return _update_dataloader(loader, DistributedSampler(data, num_replicas=2, rank=1, shuffle=True, seed=0))

    interrupted = make()
    assert isinstance(interrupted, ResumableDataLoader) and isinstance(interrupted.sampler, DistributedSampler)
    reference = _order(make(), 3)
    iterator = iter(interrupted)
    seen = [next(iterator).tolist()]
    resumed = make()
    resumed.load_state_dict(interrupted.state_dict())
    assert seen + _order(resumed, 2) == reference


def test_plain_dataloader_replays_the_first_batches() -> None:
    # What the resumable loader fixes: a fresh plain loader restarts the pass, so the resumed run sees other data.
    reference = _order(_loader(), 6)
    fresh = DataLoader(list(range(10)), batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(7))
    assert reference[:2] + _order(fresh, 4) != reference


def test_loader_without_generator_keeps_off_the_global_rng() -> None:
    before = torch.get_rng_state()
    loader = ResumableDataLoader(list(range(10)), batch_size=3, shuffle=True)
    orders = _order(loader, 8)  # two passes: two shuffles and two worker base seeds
    assert torch.equal(torch.get_rng_state(), before)
    assert orders[:4] != orders[4:]  # still a new permutation per pass


def test_loader_rejects_a_state_of_other_data() -> None:
    state = _loader().state_dict()
    with pytest.raises(ValueError, match="had 4 batches per epoch, this one has 5"):
        ResumableDataLoader(list(range(13)), batch_size=3, shuffle=True).load_state_dict(state)
    with pytest.raises(KeyError, match="pass_start"):
        _loader().load_state_dict({"batches": 1, "num_batches": 4, "generator": state["generator"]})


def test_loader_rejects_iterable_datasets() -> None:
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(TypeError, match="map-style dataset"):
        ResumableDataLoader(Stream())


# ------------------------------------------------------------------------------------------------ the RNG states
def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.randn()), float(torch.rand(()))


def test_rng_states_round_trip_through_a_weights_only_file(tmp_path: Path) -> None:
    np.random.randn()  # leaves a cached Gaussian in NumPy's state
    states = capture_rng_states()
    expected = _draws()
    torch.save(states, tmp_path / "rng.pt")
    restore_rng_states(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert _draws() == expected
    assert _draws() != expected
    with pytest.raises(KeyError, match="numpy"):
        restore_rng_states({"python": states["python"], "torch": states["torch"]})


class _Draw(L.LightningModule):
    """Records one torch draw per training step, as rollout sampling would."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.draws: list[float] = []

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.draws.append(float(torch.rand(())))
        return (self.weight * batch.float()).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(root: Path, ckpt: Path | None, callbacks: list[L.Callback]) -> _Draw:
    module = _Draw()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=6,
        callbacks=callbacks,
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks),
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    torch.manual_seed(0 if ckpt is None else 123)  # a resumed process starts from another RNG state
    trainer.fit(module, ResumableDataLoader(torch.arange(8), batch_size=2), ckpt_path=ckpt)
    return module


@pytest.mark.parametrize("step", [2, 4])  # mid-epoch and at the end of the first epoch (4 batches)
def test_callback_restores_the_draws_of_the_next_steps(tmp_path: Path, step: int) -> None:
    every_step = ModelCheckpoint(dirpath=tmp_path / "ckpt", filename="{step}", every_n_train_steps=1, save_top_k=-1)
    full = _fit(tmp_path, None, [RNGStateCallback(), every_step])
    checkpoint = tmp_path / "ckpt" / f"step={step}.ckpt"
    assert _fit(tmp_path, checkpoint, [RNGStateCallback()]).draws == full.draws[step:]
    assert _fit(tmp_path, checkpoint, []).draws != full.draws[step:]  # the control: without the callback


# ------------------------------------------------------------------------------------------------ end to end
def test_demo_grpo_config_is_resumable(synthetic_revos_root: Path) -> None:
    """The demo config carries the RNG callback and its DataModule returns a resumable train loader."""
    config = yaml.safe_load(DEMO_GRPO.read_text())
    callbacks = [c.get("class_path") for c in config["trainer"].get("callbacks", [])]
    assert "omni_r1.callbacks.rng_state.RNGStateCallback" in callbacks, f"{DEMO_GRPO}: callbacks are {callbacks}"
    data = yaml.safe_load((DEMO_GRPO.parent / config["data"]).read_text())
    module, name = data["class_path"].rsplit(".", 1)
    init_args = {**data["init_args"], "root": str(synthetic_revos_root), "synthetic": False}
    datamodule = getattr(importlib.import_module(module), name)(**init_args)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    assert isinstance(loader, ResumableDataLoader), f"{data['class_path']}.train_dataloader() gave {type(loader)}"


def _fit_cli(cwd: Path, *extra: str, data_root: Path) -> subprocess.Popen:
    """Start ``python -m omni_r1.fit`` on the demo GRPO config in ``cwd`` (one thread: the runs share 2 cores)."""
    cwd.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=path)
    cmd = [sys.executable, "-m", "omni_r1.fit", "--config", str(DEMO_GRPO), *RUN_ARGS, *extra]
    cmd.append(f"--data.init_args.root={data_root}")
    with open(cwd / "fit.log", "w") as log:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(proc: subprocess.Popen, cwd: Path, expected: int = 0) -> None:
    try:
        code = proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert code == expected, f"exit code {code}, expected {expected}:\n{(cwd / 'fit.log').read_text()[-5000:]}"


def _checkpoint(cwd: Path, step: int) -> Path:
    path = cwd / "steps" / f"step={step}.ckpt"
    assert path.is_file(), f"missing {path}; written: {sorted(p.name for p in (cwd / 'steps').glob('*'))}"
    return path


def _state(cwd: Path, step: int = STEPS) -> dict:
    checkpoint = torch.load(_checkpoint(cwd, step), weights_only=False, map_location="cpu")
    assert checkpoint["global_step"] == step
    return {"parameters": checkpoint["state_dict"], "optimizer": checkpoint["optimizer_states"]}


def _differences(a: object, b: object, where: str) -> list[str]:
    """Where two nested checkpoint structures are not bitwise equal (tensors compared with ``torch.equal``)."""
    if isinstance(a, torch.Tensor):
        return [] if isinstance(b, torch.Tensor) and torch.equal(a, b) else [where]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{where} (keys)"]
        return [d for key in a for d in _differences(a[key], b[key], f"{where}/{key}")]
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return [f"{where} (length)"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [where]


@pytest.mark.slow
@pytest.mark.integration
def test_sigkilled_run_resumes_bitwise_equal(tmp_path: Path) -> None:
    from omni_r1.data.synthetic import ensure_synthetic

    data_root = ensure_synthetic("revos", tmp_path / "revos", seed=0)
    full, killed = tmp_path / "full", tmp_path / "killed"
    kill = ["--trainer.callbacks+=test_resume.SigkillAfterStep", "--trainer.callbacks.step=3"]
    runs = [_fit_cli(full, data_root=data_root), _fit_cli(killed, *kill, data_root=data_root)]  # side by side
    _wait(runs[0], full)
    _wait(runs[1], killed, -signal.SIGKILL)
    assert not (killed / "steps" / "step=4.ckpt").exists()
    for step in (2, 3):  # the loader's position is in the checkpoint: 2 and 3 of the epoch's 3 batches
        loops = torch.load(_checkpoint(killed, step), weights_only=False)["loops"]
        (position,) = loops["fit_loop"]["state_dict"]["combined_loader"]
        assert (position["batches"], position["num_batches"]) == (step, 3)

    # Resume from mid-epoch (step 2) and from the epoch's end (step 3), each in a fresh process.
    resumed = {step: tmp_path / f"resumed_from_{step}" for step in (2, 3)}
    procs = [_fit_cli(cwd, f"--ckpt_path={_checkpoint(killed, s)}", data_root=data_root) for s, cwd in resumed.items()]
    for proc, cwd in zip(procs, resumed.values()):
        _wait(proc, cwd)

    # Every step of the uninterrupted run moved the weights, so each step's rollouts and data mattered.
    weights = [_state(full, step)["parameters"] for step in range(1, STEPS + 1)]
    for step in range(1, STEPS):
        assert any(not torch.equal(weights[step][k], weights[step - 1][k]) for k in weights[step]), step + 1
    expected = _state(full)
    for step, cwd in resumed.items():
        differences = _differences(_state(cwd), expected, f"resumed from step {step}")
        assert not differences, f"{len(differences)} tensors differ from the uninterrupted run: {differences[:5]}"


def test_vos_prompts_are_the_same_in_every_process_and_call() -> None:
    """Prompt forcing's example timestamps come from (seed, query, duration): a resumed run, a loader worker and the
    uninterrupted run build the same prompt (a running random stream would differ after a resume)."""
    from omni_r1.models.prompts import PromptBuilder

    first, again = PromptBuilder(), PromptBuilder()
    prompt = first("vos", "the dog that runs", 12.0)
    assert first("vos", "the cat", 12.0) and first("vos", "the dog that runs", 12.0) == prompt
    assert again("vos", "the dog that runs", 12.0) == prompt
    assert len({PromptBuilder(seed=seed)("vos", "the dog that runs", 12.0) for seed in range(10)}) > 1  # still random
