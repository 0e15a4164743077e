"""Preprocessing runs in the data pipeline, never under the trainer's autocast.

The module hands its policy's weight-free preprocessor to the DataModule in ``setup``; the loader's collate then
yields :class:`~omni_r1.data.types.ProcessedBatch` es whose inputs are exactly what the policy would have made
itself. RefAVS prompts carry audio: run under CPU bf16 autocast, the Whisper feature extractor fails
("Got unsupported ScalarType BFloat16"), which is how a ``precision: bf16-mixed`` run used to stop at step one.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import lightning as L
import torch

from omni_r1.data.mixture import MixtureDataModule
from omni_r1.data.refavs import RefAVSDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.data.types import ProcessedBatch
from omni_r1.models.prompts import PromptBuilder
from omni_r1.rewards import HierarchicalReward, RewardWeights
from omni_r1.training.grpo_module import GRPOModule
from omni_r1.training.sft_module import SFTModule


def _assert_same_inputs(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key, value in a.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == b[key].dtype and torch.equal(value, b[key]), key
        else:
            assert value == b[key], key


def test_encode_under_bf16_autocast_preprocesses_in_full_precision(tiny_policy_factory, refavs_batch):
    policy = tiny_policy_factory()
    plain = policy.prompt_inputs(refavs_batch)
    assert "input_features" in plain  # audio: the case autocast broke
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prompt = policy.encode(refavs_batch)
    _assert_same_inputs(prompt.inputs, plain)


def test_loader_batches_carry_the_inputs_the_policy_would_make(tiny_policy_factory, synthetic_refavs_root):
    policy = tiny_policy_factory()
    preprocessor = pickle.loads(pickle.dumps(policy.preprocessor))  # what a spawned loader worker receives
    dm = RefAVSDataModule(root=str(synthetic_refavs_root), batch_size=2, num_workers=1)
    dm.setup("fit")
    dm.set_preprocessor(preprocessor)
    batch = next(iter(dm.train_dataloader()))  # made in a worker process
    assert isinstance(batch, ProcessedBatch) and len(batch) == 2 and batch[0] is batch.samples[0]
    _assert_same_inputs(batch.inputs, policy.prompt_inputs(batch.samples))
    _assert_same_inputs(policy.encode(batch).inputs, policy.encode(batch.samples).inputs)
    dm.set_preprocessor(None)
    assert isinstance(next(iter(dm.train_dataloader())), list)


def test_mixture_hands_the_preprocessor_to_its_datasets(tiny_policy_factory, synthetic_revos_root):
    # without prompt forcing, two calls build the same VOS prompt (forcing draws fresh example moments each call)
    policy = tiny_policy_factory(prompts=PromptBuilder(prompt_forcing=False))
    revos = ReVOSDataModule(root=str(synthetic_revos_root), min_frames=4, max_frames=6)
    mixture = MixtureDataModule(datasets={"revos": revos}, batch_size=1)
    mixture.setup("fit")
    mixture.set_preprocessor(policy.preprocessor)
    for batch in (next(iter(mixture.train_dataloader())), next(iter(mixture.val_dataloader()[0]))):
        assert isinstance(batch, ProcessedBatch)
        _assert_same_inputs(batch.inputs, policy.prompt_inputs(batch.samples))


class _Record(L.Callback):
    def __init__(self) -> None:
        self.batches: list = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch)


def _fit(module: L.LightningModule, datamodule: L.LightningDataModule, tmp_path: Path) -> _Record:
    record = _Record()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        precision="bf16-mixed",  # the recipes' precision: autocast over the whole training step
        max_steps=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == 1
    return record


def test_grpo_fit_in_bf16_mixed_on_audio_prompts(tiny_policy_factory, synthetic_refavs_root, tmp_path):
    torch.manual_seed(0)
    reward = HierarchicalReward(weights=RewardWeights(box=0.0, mask=0.0, refavs=0.0, refcocog=0.0, length=0.0))
    module = GRPOModule(tiny_policy_factory(), reward, num_generations=2, max_new_tokens=8)
    record = _fit(module, RefAVSDataModule(root=str(synthetic_refavs_root), batch_size=1), tmp_path)
    (batch,) = record.batches
    assert isinstance(batch, ProcessedBatch) and "input_features" in batch.inputs


def test_sft_fit_in_bf16_mixed_takes_teacher_forced_inputs(tiny_policy_factory, synthetic_refavs_root, tmp_path):
    torch.manual_seed(0)
    module = SFTModule(tiny_policy_factory(), optimizer=lambda p: torch.optim.AdamW(p, lr=1e-3), max_grad_norm=1.0)
    record = _fit(module, RefAVSDataModule(root=str(synthetic_refavs_root), batch_size=2), tmp_path)
    (batch,) = record.batches
    assert isinstance(batch, ProcessedBatch) and batch.responses is not None
    # the loader's teacher-forced inputs give the loss of the records with their reference answers
    with torch.no_grad():
        loaded = module.policy.sft_loss(batch)
        direct = module.policy.sft_loss(batch.samples, batch.responses)
    torch.testing.assert_close(loaded, direct, rtol=0, atol=0)
