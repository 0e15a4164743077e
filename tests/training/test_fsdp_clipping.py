"""Under torch FSDP (2 CPU ranks, gloo) the kit's clipping equals clipping the unsharded model.

The policy is the tiny thinker (the stock ``Qwen2_5OmniThinkerForConditionalGeneration``), its encoders frozen and
each decoder layer its own FSDP unit, as ``configs/trainer/gpu_8x_fsdp.yaml`` wraps it. Each rank takes half of a
batch; FSDP averages the two halves' gradients, so the unsharded reference backpropagates the mean of the two
halves' losses. ``clip_grad_norm`` is called as the modules call it: on the LightningModule-side module with
Lightning's ``FSDPStrategy`` holding the FSDP root as its ``model``. The clipping threshold lies below the norm,
so clipping scales every gradient; each rank's own shards give a smaller norm (the negative control: plain
``torch.nn.utils.clip_grad_norm_`` on a rank is wrong).

This file is also the worker: the test starts it twice as a script with the rank in the environment.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor

from omni_r1.distributed import process_group_teardown
from omni_r1.models.loading import freeze_modality_encoders
from omni_r1.models.tiny import make_tiny_omni
from omni_r1.training.clipping import clip_grad_norm

MAX_NORM = 0.05
ROWS, TOKENS = 4, 12


def _batch(vocab: int) -> Tensor:
    """``(ROWS, TOKENS)`` ordinary tokens, the same on every rank (each takes its half)."""
    return torch.randint(0, vocab, (ROWS, TOKENS), generator=torch.Generator().manual_seed(0))


def _policy() -> torch.nn.Module:
    model, processor = make_tiny_omni(seed=0)
    freeze_modality_encoders(model)
    return model.train(), min(processor.tokenizer.all_special_ids)


def _loss(model: torch.nn.Module, ids: Tensor) -> Tensor:
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), ids[:, 1:].flatten())


def _clean(name: str) -> str:
    return name.replace("_fsdp_wrapped_module.", "")


def _worker(workdir: Path) -> None:
    import torch.distributed as dist
    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp import FullyShardedDataParallel
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy
    from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import Qwen2_5OmniDecoderLayer

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model, vocab = _policy()
    fsdp = FullyShardedDataParallel(  # device_id cpu: FSDP looks for an accelerator otherwise
        model,
        auto_wrap_policy=ModuleWrapPolicy({Qwen2_5OmniDecoderLayer}),
        use_orig_params=True,
        device_id=torch.device("cpu"),
    )
    ids = _batch(vocab)[rank * ROWS // 2 : (rank + 1) * ROWS // 2]
    _loss(fsdp, ids).backward()
    shards = [p.grad for p in fsdp.parameters() if p.grad is not None]
    local = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in shards]))
    strategy = FSDPStrategy()
    strategy.model = fsdp  # what Lightning's FSDPStrategy holds: the root around the LightningModule
    norm = clip_grad_norm(fsdp.module, MAX_NORM, strategy)
    after = clip_grad_norm(fsdp, MAX_NORM)  # the root itself; the gradients are clipped already
    with FullyShardedDataParallel.summon_full_params(fsdp, with_grads=True):
        grads = {_clean(n): p.grad.clone() for n, p in fsdp.named_parameters() if p.grad is not None}
    torch.save({"norm": norm, "after": after, "local": local, "grads": grads}, workdir / f"rank{rank}.pt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(workdir: Path, timeout: float = 300.0) -> None:
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank), LOCAL_RANK=str(rank))
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


@pytest.mark.slow
def test_fsdp_clipping_equals_clipping_the_unsharded_model(tmp_path: Path) -> None:
    _launch(tmp_path)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]

    model, vocab = _policy()
    ids = _batch(vocab)
    loss = (_loss(model, ids[: ROWS // 2]) + _loss(model, ids[ROWS // 2 :])) / 2  # FSDP averages the ranks
    loss.backward()
    params = {n: p for n, p in model.named_parameters() if p.grad is not None}
    expected = clip_grad_norm(model, MAX_NORM)  # no FSDP: torch.nn.utils.clip_grad_norm_
    assert expected > 10 * MAX_NORM, "the threshold must clip, or the comparison shows nothing"

    for rank in ranks:
        torch.testing.assert_close(rank["norm"], expected, rtol=1e-5, atol=0)
        torch.testing.assert_close(rank["after"], torch.tensor(MAX_NORM), rtol=1e-4, atol=0)
        assert rank["local"] < 0.99 * expected  # one rank's shards alone: the norm plain clipping would use
        assert set(params) <= set(rank["grads"])
        for name, grad in rank["grads"].items():
            if name in params:
                torch.testing.assert_close(grad, params[name].grad, rtol=1e-4, atol=1e-7, msg=name)
            else:  # a frozen encoder parameter: FSDP's flat gradient holds zeros there
                assert not grad.any(), name
    assert not torch.equal(ranks[0]["local"], ranks[1]["local"])


if __name__ == "__main__":
    with process_group_teardown():  # a gloo rank that exits with its group alive can abort (exit -6) at random
        _worker(Path(sys.argv[1]))
