"""Two DDP processes (gloo, CPU) update the policy exactly as one process does on the whole generation batch.

Rollouts are sampled, so the experience is built once here and fixed: every run consumes the same completions,
advantages and old / reference log-probs. The single process updates on all prompts; each DDP rank updates on
whole groups of its own, with completion lengths chosen so that ranks hold very different token counts (where a
per-rank token mean goes wrong). Both the exact module and two naive normalisations run under the same DDP
launch; the naive ones must *not* match, which shows that the comparison can fail.

This file is also the DDP worker: the test starts it twice as a script with the rank in the environment (the
way ``torchrun`` does), and Lightning's ``ddp`` strategy joins the two processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from omni_r1.grpo.advantages import group_advantages
from omni_r1.grpo.module import Experience, GRPOModule
from omni_r1.models.global_system import GlobalSystem, PixelBudget, PromptBatch, Rollouts, take_media_inputs

G = 4
MAX_NEW_TOKENS = 12
# Completion lengths per row: prompt 0 (rank 0) writes long answers, prompt 1 (rank 1) short ones.
LENGTHS = [12, 11, 9, 12, 1, 3, 2, 2]
REWARDS = [0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.4, 0.6]
LOSS_TYPES = ("grpo", "bnpo", "dapo", "dr_grpo")
# (normaliser variant, loss type) pairs run on 2 ranks; the naive ones are negative controls.
RUNS = [("exact", t) for t in LOSS_TYPES] + [("per_rank_mean", "dapo"), ("no_world_scale", "grpo")]
MODULE_KWARGS = {
    "num_generations": G,
    "max_new_tokens": MAX_NEW_TOKENS,
    "beta": 0.04,
    "num_iterations": 2,  # the second step uses old log-probs: ratios leave 1 and clipping can act
    "micro_batch_size": 2,  # two micro-batches per rank: every backward all-reduces
    "max_grad_norm": None,  # SGD without clipping keeps the update linear in the gradient (see the controls)
    "epsilon_high": 0.28,
}
LR = 0.5
ATOL = 1e-6


class FixedExperienceGRPO(GRPOModule):
    """GRPOModule whose training step updates on a stored experience instead of sampling one.

    ``normaliser`` selects the loss normalisation: ``exact`` is the module's own; ``per_rank_mean`` divides by the
    rank's local count (what a per-rank token mean gives once DDP averages gradients); ``no_world_scale`` uses the
    global count but cancels the module's ``× world_size``, so DDP's gradient averaging halves the update.
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


def _train(experience: Experience, loss_type: str, normaliser: str, devices: int, **trainer_kwargs) -> dict:
    """One Lightning fit of one training step on ``experience``; returns the trained policy parameters."""
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
        **trainer_kwargs,
    )
    trainer.fit(module, DataLoader([0] * devices, batch_size=1, collate_fn=list))
    assert trainer.world_size == devices and trainer.global_step == MODULE_KWARGS["num_iterations"]
    return {name: p.detach().clone() for name, p in module.policy.named_parameters() if p.requires_grad}


def build_experience(batch: list) -> Experience:
    """Sample one generation batch with a fixed seed, then fix its completion lengths and rewards."""
    torch.manual_seed(0)
    policy = _policy()
    prompt = policy.encode(batch)
    rollouts = policy.generate(prompt, num_generations=G, max_new_tokens=MAX_NEW_TOKENS)
    width = rollouts.completion_ids.shape[1]
    if width < max(LENGTHS):  # every row stopped early: pad so that the chosen lengths fit
        pad = torch.full((len(rollouts), max(LENGTHS) - width), 100, dtype=torch.long)
        rollouts.completion_ids = torch.cat([rollouts.completion_ids, pad], dim=1)
    # Ordinary tokens everywhere (an EOS inside a row would not matter for the loss, but keep rows plain).
    ids = rollouts.completion_ids[:, : max(LENGTHS)]
    ids = torch.where(torch.isin(ids, torch.tensor(policy.eos_token_ids)), torch.full_like(ids, 100), ids)
    mask = (torch.arange(ids.shape[1])[None, :] < torch.tensor(LENGTHS)[:, None]).long()  # (B*G, C)
    rollouts = replace(rollouts, completion_ids=ids.masked_fill(mask == 0, policy.tokenizer.pad_token_id))
    rollouts.completion_mask = mask
    with torch.no_grad():
        logps = policy.completion_logps(prompt, rollouts)  # the sampling policy == the reference at step 0
    rewards = torch.tensor(REWARDS)
    return Experience(prompt, rollouts, rewards, {}, group_advantages(rewards, G), logps, logps.clone())


def prompt_share(exp: Experience, prompts: list[int]) -> Experience:
    """The experience of whole groups ``prompts`` only, re-indexed as a batch of its own (one rank's share)."""
    index = torch.tensor(prompts)
    rows = torch.cat([torch.arange(p * G, (p + 1) * G) for p in prompts])
    inputs = take_media_inputs(exp.prompt.inputs, index)
    inputs.update(input_ids=exp.prompt.inputs["input_ids"][index], attention_mask=exp.prompt.inputs["attention_mask"][index])
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
    return Experience(
        PromptBatch(inputs, media),
        rollouts,
        exp.rewards[rows],
        {k: v[rows] for k, v in exp.terms.items()},
        exp.advantages[rows],
        exp.old_logps[rows] if exp.old_logps is not None else None,
        exp.ref_logps[rows] if exp.ref_logps is not None else None,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch_ddp(workdir: Path, timeout: float = 300.0) -> None:
    """Run this file as 2 ranks joined by Lightning's ``ddp`` strategy (processes created externally)."""
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, NODE_RANK="0", LOCAL_RANK=str(rank))
        env.update(WORLD_SIZE="2", OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        log = open(workdir / f"rank{rank}.log", "w")
        procs.append((subprocess.Popen([sys.executable, __file__, str(workdir)], env=env, stdout=log, stderr=log), log))
    failed = []
    for rank, (proc, log) in enumerate(procs):
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other, _ in procs:
                other.kill()
            code = "timeout"
        log.close()
        if code != 0:
            failed.append(f"rank {rank} exited with {code}:\n{(workdir / f'rank{rank}.log').read_text()[-4000:]}")
    assert not failed, "\n".join(failed)


def _worker(workdir: Path) -> None:
    rank = int(os.environ["LOCAL_RANK"])
    experience = torch.load(workdir / f"experience_rank{rank}.pt", weights_only=False)
    for normaliser, loss_type in RUNS:
        params = _train(experience, loss_type, normaliser, devices=2, strategy="ddp")
        torch.save(params, workdir / f"{normaliser}_{loss_type}_rank{rank}.pt")


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.mark.slow
def test_two_ddp_ranks_match_one_process(revos_batch: list, tmp_path: Path) -> None:
    exp = build_experience(revos_batch[:2])
    tokens = exp.rollouts.completion_mask.sum(dim=1)
    assert tokens[:G].sum() > 4 * tokens[G:].sum()  # rank 0 holds far more tokens than rank 1
    for rank in range(2):
        torch.save(prompt_share(exp, [rank]), tmp_path / f"experience_rank{rank}.pt")
    _launch_ddp(tmp_path)

    initial = {n: p.detach().clone() for n, p in _policy().named_parameters() if p.requires_grad}
    for loss_type in LOSS_TYPES:
        single = _train(exp, loss_type, "exact", devices=1)
        assert _max_diff(single, initial) > 1e-3, f"{loss_type}: the update barely moved the policy"
        ranks = [torch.load(tmp_path / f"exact_{loss_type}_rank{r}.pt") for r in range(2)]
        assert _max_diff(ranks[0], ranks[1]) == 0, f"{loss_type}: DDP ranks diverged"
        for name, value in single.items():
            torch.testing.assert_close(ranks[0][name], value, rtol=0, atol=ATOL, msg=f"{loss_type}: {name}")

    # Negative controls: the same launch with naive normalisers is far from the single-process update.
    for normaliser, loss_type in RUNS[len(LOSS_TYPES) :]:
        single = _train(exp, loss_type, "exact", devices=1)
        naive = torch.load(tmp_path / f"{normaliser}_{loss_type}_rank0.pt")
        assert _max_diff(naive, single) > 1e3 * ATOL, f"{normaliser} ({loss_type}) should not match"


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
