"""Two DDP processes (gloo, CPU) update the policy exactly as one process does on the whole generation batch.

Rollouts are sampled, so the experience is fixed instead: completions of chosen lengths are built here once, with
their advantages and old / reference log-probs, and every run consumes them. The single process updates on both
prompts; each DDP rank on one prompt's whole group. Rank 0's completions are long and rank 1's short, which is
where a per-rank token mean goes wrong. The exact module and two naive normalisations run in the same DDP
launch; the naive ones must *not* match, which shows that the comparison can fail.

This file is also the DDP worker: the test starts it twice as a script with the rank in the environment (as
``torchrun`` does) and Lightning's ``ddp`` strategy joins the two processes. The worker also checks that
:class:`~omni_r1.callbacks.RNGStateCallback` gathers every rank's RNG states and gives each rank its own back.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from omni_r1.callbacks.rng_state import RNGStateCallback
from omni_r1.distributed import process_group_teardown
from omni_r1.grpo.advantages import group_advantages
from omni_r1.models.global_system import GlobalSystem, PixelBudget, take_media_inputs
from omni_r1.models.rollouts import PromptBatch, Rollouts
from omni_r1.training.grpo_module import Experience, GRPOModule

G = 4
MAX_NEW_TOKENS = 12
LENGTHS = [12, 11, 9, 12, 1, 3, 2, 2]  # completion tokens per row: prompt 0 (rank 0) long, prompt 1 (rank 1) short
REWARDS = [0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.4, 0.6]
LOSS_TYPES = ("grpo", "bnpo", "dapo", "dr_grpo")
# Negative controls, (normaliser, loss type): a per-rank token mean, and the global count without × world_size.
CONTROLS = [("per_rank_mean", "dapo"), ("no_world_scale", "grpo")]
RUNS = [("exact", t) for t in LOSS_TYPES] + CONTROLS
MODULE_KWARGS = {
    "num_generations": G,
    "max_new_tokens": MAX_NEW_TOKENS,
    "beta": 0.04,
    "num_iterations": 2,  # the second step uses old log-probs: ratios leave 1, clipping and the KL act
    "epsilon_high": 0.28,
    "micro_batch_size": 2,  # two micro-batches per rank: every backward all-reduces
    "max_grad_norm": None,  # with plain SGD the update stays linear in the gradient, so scale errors show
}
LR = 0.5
ATOL = 1e-6


class FixedExperienceGRPO(GRPOModule):
    """GRPOModule whose training step updates on a stored experience instead of sampling one.

    ``normaliser`` selects the loss normaliser: ``exact`` is the module's own; ``per_rank_mean`` divides by the
    rank's own count (a per-rank mean, which DDP then averages over ranks); ``no_world_scale`` keeps the global
    count but cancels the module's ``× world_size``, so DDP's gradient averaging halves the update.
    """

    def __init__(self, policy: GlobalSystem, experience: Experience, normaliser: str, **kwargs) -> None:
        super().__init__(policy, optimizer=lambda params: torch.optim.SGD(params, lr=LR), **kwargs)
        self.experience = experience
        self.normaliser = normaliser

    def _global_count(self, mask: Tensor) -> Tensor:
        count = super()._global_count(mask)
        world = self.trainer.world_size
        if self.normaliser == "per_rank_mean":
            local = mask.sum() if self.loss_type in ("bnpo", "dapo") else torch.tensor(float(mask.shape[0]))
            return local.float() * world
        if self.normaliser == "no_world_scale":
            return count * world
        return count

    def training_step(self, batch: list, batch_idx: int) -> Tensor:
        loss, _ = self.update(self.experience)
        return loss


def _policy() -> GlobalSystem:
    return GlobalSystem("tiny://qwen2.5-omni", pixels=PixelBudget(min_pixels=4 * 28 * 28, max_pixels=8 * 28 * 28))


def _train(experience: Experience, loss_type: str, normaliser: str, devices: int, **kwargs) -> L.Trainer:
    """One Lightning fit of one generation batch (``num_iterations`` optimizer steps) on ``experience``."""
    module = FixedExperienceGRPO(_policy(), experience, normaliser, loss_type=loss_type, **MODULE_KWARGS)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=devices,
        max_epochs=1,
        limit_train_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )
    trainer.fit(module, DataLoader([0] * devices, batch_size=1, collate_fn=list))
    assert trainer.world_size == devices and trainer.global_step == MODULE_KWARGS["num_iterations"]
    return trainer


def _trained(trainer: L.Trainer) -> dict[str, Tensor]:
    policy = trainer.lightning_module.policy
    return {name: p.detach().clone() for name, p in policy.named_parameters() if p.requires_grad}


def build_experience(batch: list) -> Experience:
    """A generation batch of ``len(batch)`` prompts with fixed completions (ordinary tokens, an EOS ending the
    rows shorter than ``MAX_NEW_TOKENS``), rewards, advantages and log-probs of the initial policy."""
    policy = _policy()
    prompt = policy.encode(batch)
    (eos,) = policy.eos_token_ids
    ordinary = min(policy.tokenizer.all_special_ids)  # ids below it are BPE pieces
    rows = len(LENGTHS)
    ids = torch.randint(0, ordinary, (rows, MAX_NEW_TOKENS), generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor(LENGTHS)
    positions = torch.arange(MAX_NEW_TOKENS)[None, :]
    ids = torch.where((positions == lengths[:, None] - 1) & (lengths[:, None] < MAX_NEW_TOKENS), eos, ids)
    mask = (positions < lengths[:, None]).long()  # (B*G, C)
    ids = ids.masked_fill(mask == 0, policy.tokenizer.pad_token_id)
    rollouts = Rollouts(
        prompt_index=torch.arange(len(batch)).repeat_interleave(G),
        prompt_ids=prompt.inputs["input_ids"].repeat_interleave(G, dim=0),
        prompt_mask=prompt.inputs["attention_mask"].repeat_interleave(G, dim=0),
        completion_ids=ids,
        completion_mask=mask,
        texts=policy.tokenizer.batch_decode(ids, skip_special_tokens=True),
    )
    with torch.no_grad():
        logps = policy.completion_logps(prompt, rollouts)  # the sampling policy is the reference at step 0
    rewards = torch.tensor(REWARDS)
    return Experience(prompt, rollouts, rewards, {}, group_advantages(rewards, G), logps, logps.clone())


def prompt_share(exp: Experience, prompts: list[int]) -> Experience:
    """The experience of the whole groups of ``prompts``, re-indexed as a batch of its own (one rank's share).

    Prompt rows keep their padding, so every forward pass sees the same tensors as in the single process.
    """
    index = torch.tensor(prompts)
    rows = torch.cat([torch.arange(p * G, (p + 1) * G) for p in prompts])
    inputs = take_media_inputs(exp.prompt.inputs, index)
    inputs.update({key: exp.prompt.inputs[key][index] for key in ("input_ids", "attention_mask")})
    media = exp.prompt.media.take(index) if exp.prompt.media is not None else None
    r = exp.rollouts
    rollouts = Rollouts(
        prompt_index=torch.arange(len(prompts)).repeat_interleave(G),
        prompt_ids=r.prompt_ids[rows],
        prompt_mask=r.prompt_mask[rows],
        completion_ids=r.completion_ids[rows],
        completion_mask=r.completion_mask[rows],
        texts=[r.texts[i] for i in rows.tolist()],
    )
    old, ref = exp.old_logps, exp.ref_logps
    return Experience(
        PromptBatch(inputs, media),
        rollouts,
        exp.rewards[rows],
        {k: v[rows] for k, v in exp.terms.items()},
        exp.advantages[rows],
        old[rows] if old is not None else None,
        ref[rows] if ref is not None else None,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch_ddp(workdir: Path, timeout: float = 300.0) -> None:
    """Run this file as 2 ranks of Lightning's ``ddp`` strategy (processes created externally, one thread each)."""
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, NODE_RANK="0", LOCAL_RANK=str(rank))
        env.update(WORLD_SIZE="2", OMP_NUM_THREADS="1")
        with open(workdir / f"rank{rank}.log", "w") as log:
            cmd = [sys.executable, __file__, str(workdir)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    failed = []
    for rank, proc in enumerate(procs):
        try:
            code: int | str = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            code = "a timeout"
        if code != 0:
            failed.append(f"rank {rank} ended with {code}:\n{(workdir / f'rank{rank}.log').read_text()[-4000:]}")
    assert not failed, "\n".join(failed)


def _worker(workdir: Path) -> None:
    rank = int(os.environ["LOCAL_RANK"])
    experience = torch.load(workdir / f"experience_rank{rank}.pt", weights_only=False)
    for normaliser, loss_type in RUNS:
        trainer = _train(experience, loss_type, normaliser, devices=2, strategy="ddp")
        torch.save(_trained(trainer), workdir / f"{normaliser}_{loss_type}_rank{rank}.pt")
    # RNG states: gathered from both ranks into the checkpoint state, each rank restores its own.
    callback = RNGStateCallback()
    callback.setup(trainer, trainer.lightning_module, "fit")
    torch.manual_seed(100 + rank)
    own = torch.get_rng_state()
    state = callback.state_dict()
    torch.manual_seed(0)
    callback.load_state_dict(state)
    callback.on_train_batch_start(trainer, trainer.lightning_module, None, 0)
    torch.save({"state": state, "own": own, "restored": torch.get_rng_state()}, workdir / f"rng_rank{rank}.pt")


def _max_diff(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
def test_two_ddp_ranks_match_one_process(revos_batch: list, tmp_path: Path) -> None:
    exp = build_experience(revos_batch[:2])
    tokens = exp.rollouts.completion_mask.sum(dim=1)
    assert tokens[:G].sum() > 4 * tokens[G:].sum()  # rank 0 trains on far more tokens than rank 1
    for rank in range(2):
        torch.save(prompt_share(exp, [rank]), tmp_path / f"experience_rank{rank}.pt")
    _launch_ddp(tmp_path)

    initial = {n: p.detach().clone() for n, p in _policy().named_parameters() if p.requires_grad}
    single = {}
    for loss_type in LOSS_TYPES:
        single[loss_type] = _trained(_train(exp, loss_type, "exact", devices=1))
        assert _max_diff(single[loss_type], initial) > 1e-3, f"{loss_type}: the update barely moved the policy"
        ranks = [torch.load(tmp_path / f"exact_{loss_type}_rank{r}.pt") for r in range(2)]
        assert _max_diff(ranks[0], ranks[1]) == 0, f"{loss_type}: DDP ranks diverged"
        for name, value in single[loss_type].items():
            torch.testing.assert_close(ranks[0][name], value, rtol=0, atol=ATOL, msg=f"{loss_type}: {name}")

    for normaliser, loss_type in CONTROLS:
        naive = torch.load(tmp_path / f"{normaliser}_{loss_type}_rank0.pt")
        assert _max_diff(naive, single[loss_type]) > 1e3 * ATOL, f"{normaliser} ({loss_type}) should not match"

    rng = [torch.load(tmp_path / f"rng_rank{r}.pt", weights_only=True) for r in range(2)]
    for rank in range(2):
        gathered = rng[rank]["state"]["ranks"]
        assert [torch.equal(g["torch"], rng[r]["own"]) for r, g in enumerate(gathered)] == [True, True]
        assert torch.equal(rng[rank]["restored"], rng[rank]["own"])
    assert not torch.equal(rng[0]["own"], rng[1]["own"])


if __name__ == "__main__":
    with process_group_teardown():  # a gloo rank that exits with its group alive can abort (exit -6) at random
        _worker(Path(sys.argv[1]))
