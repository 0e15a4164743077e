"""The mixture: per-dataset counts, one family per batch (and per step across ranks), DDP sharding, CLI config."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from lightning import LightningDataModule

from omni_r1.data.loader import ResumableDataLoader
from omni_r1.data.mixture import MixtureDataModule, MixtureSampler, apportion, resolve_rank
from omni_r1.data.refavs import RefAVSDataModule
from omni_r1.data.refcocog import RefCOCOgDataModule
from omni_r1.data.revos import ReVOSDataModule
from omni_r1.distributed import teardown_process_group

SIZES, FAMILIES = [10, 7, 5, 4], ["avs", "vos", "vos", "grounding"]
OFFSETS = [0, 10, 17, 22]


def _dataset_of(index: int) -> int:
    return max(d for d, offset in enumerate(OFFSETS) if index >= offset)


def _sampler(counts: list[int], rank: int = 0, world_size: int = 1, drop_last: bool = False) -> MixtureSampler:
    return MixtureSampler(SIZES, FAMILIES, counts, 2, seed=3, rank=rank, world_size=world_size, drop_last=drop_last)


def test_apportion_largest_remainder() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]  # 3.33 each, the first remainder tie wins
    assert apportion(7, [0.5, 0.25, 0.25]) == [3, 2, 2]  # shares 3.5, 1.75, 1.75
    assert apportion(6200, [1600, 2600, 2000]) == [1600, 2600, 2000]
    with pytest.raises(ValueError, match="non-negative ratios"):
        apportion(5, [0, 0])


def test_counts_per_dataset_and_one_family_per_global_batch() -> None:
    counts = [4, 6, 2, 4]  # vos: 8 prompts, every family a multiple of 2 ranks x 2 prompts
    ranks = [_sampler(counts, r, 2) for r in range(2)]
    global_batches = ranks[0].global_batches()
    assert all(
        len(indices) == 4 and {FAMILIES[_dataset_of(i)] for i in indices} == {family}
        for family, indices in global_batches
    )
    taken = [i for sampler in ranks for batch in sampler.batches() for i in batch]
    assert len(taken) == len(set(taken)) == sum(counts)  # disjoint and complete: nothing padded
    assert Counter(_dataset_of(i) for i in taken) == dict(enumerate(counts))
    per_rank = [sampler.batches() for sampler in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == 4 and len(ranks[0]) == 8
    for a, b in zip(*per_rank):  # at every step both ranks train on the same family
        assert len({FAMILIES[_dataset_of(i)] for i in a + b}) == 1
    assert list(iter(ranks[1])) == [i for batch in per_rank[1] for i in batch]


def test_epochs_reorder_the_same_selection_and_seeds_differ() -> None:
    sampler = _sampler([4, 6, 2, 4])
    first = sampler.batches()
    sampler.set_epoch(1)
    second = sampler.batches()
    assert first != second and sorted(sum(first, [])) == sorted(sum(second, []))
    other = MixtureSampler(SIZES, FAMILIES, [4, 6, 2, 4], 2, seed=4, rank=0, world_size=1)
    assert sorted(sum(other.batches(), [])) != sorted(sum(first, []))  # another subset of the 10 / 7 / 5 prompts
    assert _sampler([4, 6, 2, 4]).batches() == first


def test_counts_above_the_size_repeat_whole_passes_and_padding_fills_global_batches() -> None:
    sampler = _sampler([25, 0, 0, 3], 0, 1)  # 25 from 10 prompts: two full passes + 5; grounding: 3 -> padded to 4
    taken = Counter(i for batch in sampler.batches() for i in batch)
    avs = [taken[i] for i in range(10)]
    assert sum(avs) == 26 and min(avs) >= 2  # 25 drawn, +1 pad (25 is odd, batches hold 2)
    assert sum(taken[i] for i in range(22, 26)) == 4 and sum(taken[i] for i in range(10, 22)) == 0
    dropped = _sampler([25, 0, 0, 3], 0, 1, drop_last=True)
    assert sum(len(b) for b in dropped.batches()) == 24 + 2


def test_rank_resolution_and_bad_arguments() -> None:
    assert resolve_rank() == (0, 1) and resolve_rank(1, 3) == (1, 3)
    with pytest.raises(ValueError, match="give both rank and world_size"):
        resolve_rank(1, None)
    with pytest.raises(ValueError, match="0 <= rank < world_size"):
        resolve_rank(2, 2)
    with pytest.raises(ValueError, match="one entry per dataset"):
        MixtureSampler([1, 2], ["a"], [1, 1])
    with pytest.raises(ValueError, match="only drawn from non-empty datasets"):
        MixtureSampler([0, 2], ["a", "b"], [1, 1])


def _gloo_worker(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    try:
        sampler = MixtureSampler(SIZES, FAMILIES, [4, 6, 2, 4], 2, seed=3)  # rank from the process group
        gathered: list[object] = [None] * world_size
        dist.all_gather_object(gathered, (sampler.rank, sampler.batches()))
        if rank == 0:
            torch.save(gathered, os.path.join(out_dir, "batches.pt"))
    finally:
        teardown_process_group(barrier=True)


def test_two_process_gloo_sharding(tmp_path: Path) -> None:
    # fork: the children inherit the imported modules instead of re-importing torch and lightning (seconds each)
    args = (2, str(tmp_path / "init"), str(tmp_path))
    mp.start_processes(_gloo_worker, args=args, nprocs=2, join=True, start_method="fork")
    gathered = torch.load(tmp_path / "batches.pt")
    assert [rank for rank, _ in gathered] == [0, 1]
    assert [batches for _, batches in gathered] == [_sampler([4, 6, 2, 4], r, 2).batches() for r in range(2)]
    taken = [i for _, batches in gathered for batch in batches for i in batch]
    assert len(taken) == len(set(taken)) == 16


# ------------------------------------------------------------------------------------------------ DataModule


@pytest.fixture
def modules(refavs_root: Path, revos_root: Path, refcocog_root: Path) -> dict[str, LightningDataModule]:
    return {
        "refavs": RefAVSDataModule(str(refavs_root)),
        "revos": ReVOSDataModule(str(revos_root), min_frames=4, max_frames=4),
        "refcocog": RefCOCOgDataModule(str(refcocog_root)),
    }


def test_mixture_datamodule_yields_configured_counts_in_single_family_batches(
    modules: dict[str, LightningDataModule],
) -> None:
    counts = {"refavs": 4, "revos": 6, "refcocog": 2}
    dm = MixtureDataModule(modules, num_samples=counts, batch_size=2, seed=1)
    dm.prepare_data()
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 6 and all(len(batch) == 2 for batch in batches)
    assert all(len({s.task for s in batch}) == 1 for batch in batches)
    assert Counter(s.dataset for batch in batches for s in batch) == counts
    assert len({(s.dataset, s.video_id, s.exp_id) for batch in batches for s in batch}) == 12  # no repeats
    vals = dm.val_dataloader()
    assert [type(loader.dataset).__name__ for loader in vals] == ["RefAVSDataset", "ReVOSDataset", "RefCOCOgDataset"]


@pytest.mark.parametrize("stop", [1, 3, 6, 8])  # mid-epoch, an epoch's end (6 batches), in the second epoch
def test_mixture_loader_resumes_the_remaining_batches(modules: dict[str, LightningDataModule], stop: int) -> None:
    """A loader rebuilt from a checkpointed state continues with exactly the batches the run had not seen."""

    def loader() -> ResumableDataLoader:
        dm = MixtureDataModule(modules, num_samples={"refavs": 4, "revos": 6, "refcocog": 2}, batch_size=2, seed=3)
        dm.setup("fit")
        return dm.train_dataloader()

    def ids(batch: list) -> list[tuple[str, str, str]]:
        return [(s.dataset, s.video_id, s.exp_id) for s in batch]

    def run(dl: ResumableDataLoader, epochs: range) -> list:
        seen = []
        for epoch in epochs:
            dl.sampler.set_epoch(epoch)  # what Lightning does at each epoch start
            seen += [ids(batch) for batch in dl]
        return seen

    reference = run(loader(), range(2))
    assert len(reference) == 12 and reference[:6] != reference[6:]
    interrupted, seen = loader(), []
    for epoch in range(2):
        interrupted.sampler.set_epoch(epoch)
        for batch in interrupted:
            seen.append(ids(batch))
            if len(seen) == stop:
                break
        if len(seen) == stop:
            break
    resumed = loader()
    resumed.load_state_dict(interrupted.state_dict())
    # Lightning resumes in the checkpoint's epoch, or in the next one when the checkpoint closed an epoch.
    rest = run(resumed, range(stop // 6, 2))
    assert seen + rest == reference


def test_mixture_ranks_split_prompts_and_ratios(modules: dict[str, LightningDataModule]) -> None:
    shards = []
    for rank in range(2):
        dm = MixtureDataModule(
            list(modules.values()),
            ratios={"refavs": 1, "revos": 1, "refcocog": 1},
            total_samples=12,
            rank=rank,
            world_size=2,
        )
        dm.setup("fit")
        loader = dm.train_dataloader()
        assert loader.sampler.counts == [4, 4, 4]  # type: ignore[attr-defined]
        shards.append([(s.dataset, s.video_id, s.exp_id) for batch in loader for s in batch])
    assert len(shards[0]) == len(shards[1]) == 6  # 4 prompts per family: one global batch of 2 x 2 each
    assert not set(shards[0]) & set(shards[1])


def test_mixture_configuration_errors(modules: dict[str, LightningDataModule]) -> None:
    with pytest.raises(ValueError, match=r"num_samples = \{'mevis': 3\}: names unknown dataset\(s\) \['mevis'\]"):
        MixtureDataModule(modules, num_samples={"mevis": 3})
    with pytest.raises(ValueError, match="not both"):
        MixtureDataModule(modules, num_samples={"revos": 1}, ratios={"revos": 1.0})
    with pytest.raises(ValueError, match=r"ratios = \{'revos': 1.0\}: must give a share for every dataset"):
        MixtureDataModule(modules, ratios={"revos": 1.0})
    named = MixtureDataModule([modules["revos"], modules["revos"]])
    assert list(named.children) == ["revos", "revos_1"]


def test_mixture_is_configurable_from_the_cli(refavs_root: Path, revos_root: Path, tmp_path: Path) -> None:
    from lightning.pytorch.cli import LightningCLI
    from lightning.pytorch.demos.boring_classes import BoringModel

    config = {
        "data": {
            "datasets": {
                "refavs": {
                    "class_path": "omni_r1.data.refavs.RefAVSDataModule",
                    "init_args": {"root": str(refavs_root)},
                },
                "revos": {"class_path": "omni_r1.data.revos.ReVOSDataModule", "init_args": {"root": str(revos_root)}},
            },
            "num_samples": {"refavs": 1600, "revos": 2600},
            "batch_size": 1,
        },
        "seed_everything": 0,
        "trainer": {"logger": False, "default_root_dir": str(tmp_path), "enable_checkpointing": False},
    }
    cli = LightningCLI(BoringModel, MixtureDataModule, run=False, args=config, save_config_callback=None)
    assert isinstance(cli.datamodule, MixtureDataModule)
    assert isinstance(cli.datamodule.children["revos"], ReVOSDataModule)
    assert cli.datamodule.num_samples == {"refavs": 1600, "revos": 2600}
