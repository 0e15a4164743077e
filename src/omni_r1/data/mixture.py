"""The paper's training mixture: several DataModules, a seeded number of prompts from each, batches of one family.

Omni-R1 trains on 1,600 RefAVS prompts, 2,600 ReVOS + MeViS videos and 2,000 refCOCOg images, and never puts
audio-visual and video prompts in one batch (their inputs and rewards differ). :class:`MixtureDataModule` takes the
DataModules themselves (injected by LightningCLI through ``class_path`` / ``init_args``), draws each one's count
once from ``seed`` (a subset without replacement, or whole passes plus a subset when the count exceeds the
dataset), and :class:`MixtureSampler` orders the prompts into batches that each hold one task family
(``VideoSample.task``: ``avs``, ``vos``, ``grounding``, ``qa``).

Under DDP one optimiser step consumes ``world_size`` batches at once, so the sampler forms *global* batches of
``batch_size * world_size`` prompts of one family and gives rank ``r`` the ``r``-th slice: every rank sees the same
family at every step, the ranks' prompts are disjoint, whole prompts are never split, and every rank gets the same
number of batches (no rank waits for another at the end of an epoch). A family's last incomplete global batch is
filled with prompts from the start of that family's shuffled list (``drop_last=False``) or dropped.

The order depends on ``seed`` and the epoch only, so the training loader (a ``ResumableDataLoader``) checkpoints
its position and a restarted run continues with the batches it had not trained on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch.utils.data import ConcatDataset, DataLoader, Dataset, DistributedSampler

from omni_r1.data.datamodule import validate_loader_args
from omni_r1.data.loader import ResumableDataLoader
from omni_r1.data.types import Preprocessor, SampleCollator
from omni_r1.validation import ConfigError, init_arguments, require, require_bool, require_int, require_number


def resolve_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: explicit values first, then the initialised process group, else a single process."""
    if (rank is None) != (world_size is None):
        raise ValueError(f"give both rank and world_size or neither, got rank={rank}, world_size={world_size}")
    if rank is None or world_size is None:
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1
    if not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    return rank, world_size


def apportion(total: int, ratios: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``ratios`` (largest remainder, ties to the first)."""
    if total < 0 or not ratios or any(r < 0 or not math.isfinite(r) for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"need total >= 0 and non-negative ratios with a positive sum, got {total}, {list(ratios)}")
    shares = [total * r / sum(ratios) for r in ratios]
    counts = [math.floor(s) for s in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


class MixtureSampler(DistributedSampler):
    """Orders a concatenation of datasets into one-family batches, sharded by rank (see the module docstring).

    A ``DistributedSampler`` subclass, so Lightning keeps it under DDP instead of injecting its own, and calls
    :meth:`set_epoch` each epoch. It yields indices in batch order; a ``DataLoader`` with the same ``batch_size``
    cuts them back into exactly these batches, because every batch it yields is full.

    Args:
        sizes: length of each dataset, in concatenation order.
        families: task family of each dataset.
        counts: prompts to draw from each dataset per epoch.
        batch_size: prompts per batch on each rank.
        seed: seed of the per-dataset draws (fixed for the run) and of the per-epoch order.
        drop_last: drop each family's last incomplete global batch instead of filling it.
        rank: this process's rank; with ``world_size``, overrides the process group (tests, custom launchers).
        world_size: number of ranks.
        datasets: the datasets, to forward :meth:`set_epoch` to those that draw per-epoch clips.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        families: Sequence[str],
        counts: Sequence[int],
        batch_size: int = 1,
        *,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        datasets: Sequence[Dataset[Any]] = (),
    ) -> None:
        if not len(sizes) == len(families) == len(counts) or not sizes:
            raise ValueError(
                f"sizes, families and counts must have one entry per dataset: {sizes}, {families}, {counts}"
            )
        if any(n < 0 for n in counts) or any(s <= 0 and c > 0 for s, c in zip(sizes, counts)):
            raise ValueError(
                f"counts must be >= 0 and only drawn from non-empty datasets: sizes {sizes}, counts {counts}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rank, world_size = resolve_rank(rank, world_size)
        super().__init__(
            range(sum(sizes)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=drop_last
        )
        self.sizes, self.families, self.counts = list(sizes), list(families), list(counts)
        self.batch_size = batch_size
        self.datasets = list(datasets)
        self.selection = self._select()

    def _select(self) -> list[np.ndarray]:
        """Per dataset, the concatenated indices drawn for the whole run (from ``seed`` only)."""
        offsets = np.cumsum([0, *self.sizes[:-1]])
        selection = []
        for d, (size, count) in enumerate(zip(self.sizes, self.counts)):
            rng = np.random.default_rng([self.seed, d])
            passes, rest = divmod(count, size) if size else (0, 0)
            picked = [np.arange(size)] * passes + [rng.choice(size, rest, replace=False)]
            selection.append(offsets[d] + np.concatenate(picked).astype(np.int64))
        return selection

    def global_batches(self, epoch: int | None = None) -> list[tuple[str, list[int]]]:
        """``(family, indices)`` of every global batch of ``epoch`` (default: the current one), in step order."""
        epoch = self.epoch if epoch is None else epoch
        rng = np.random.default_rng([self.seed, epoch, 1])
        size = self.batch_size * self.num_replicas
        batches: list[tuple[str, list[int]]] = []
        for family in dict.fromkeys(self.families):
            pool = np.concatenate([s for s, f in zip(self.selection, self.families) if f == family])
            pool = rng.permutation(pool)
            full, rest = divmod(len(pool), size)
            batches += [(family, pool[i * size : (i + 1) * size].tolist()) for i in range(full)]
            if rest and not self.drop_last:
                batches.append((family, np.concatenate([pool[full * size :], np.resize(pool, size - rest)]).tolist()))
        order = rng.permutation(len(batches))
        return [batches[i] for i in order]

    def batches(self, epoch: int | None = None) -> list[list[int]]:
        """This rank's batches of ``epoch``: its slice of every global batch."""
        start = self.rank * self.batch_size
        return [indices[start : start + self.batch_size] for _, indices in self.global_batches(epoch)]

    def set_epoch(self, epoch: int) -> None:
        """Reorder for ``epoch`` and let datasets with per-epoch draws (clips, sentences) draw anew."""
        super().set_epoch(epoch)
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter([i for batch in self.batches() for i in batch])

    def __len__(self) -> int:
        return len(self.global_batches()) * self.batch_size


def _class_name(module: Any) -> str:
    """The class name of a DataModule, built or still a ``{class_path, init_args}`` node of a parsed config."""
    if isinstance(module, Mapping):
        return str(module.get("class_path", "")).rpartition(".")[2]
    return type(module).__name__


def dataset_names(datasets: Mapping[str, Any] | Sequence[Any]) -> list[str]:
    """The names of a mixture's datasets: the mapping's keys, or for a list the class names without
    ``DataModule`` (``RefAVSDataModule`` -> ``refavs``), repeated names numbered ``_1``, ``_2``..."""
    if isinstance(datasets, Mapping):
        return list(datasets)
    names: list[str] = []
    for module in datasets:
        base = re.sub(r"datamodule$", "", _class_name(module).lower()) or "dataset"
        name, k = base, 1
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


class MixtureDataModule(L.LightningDataModule):
    """Several DataModules mixed into one training stream of one-family batches; evaluation stays per dataset.

    Args:
        datasets: the DataModules by name, or a list (named after their classes: ``RefAVSDataModule`` -> ``refavs``,
            repeated names get ``_1``, ``_2``...). Their training sets are mixed; their own batch sizes and workers
            are ignored.
        num_samples: prompts per epoch from each named dataset (unnamed ones contribute all their prompts); the
            paper: ``{refavs: 1600, revos: ..., mevis: ..., refcocog: 2000}``.
        ratios: alternative to ``num_samples``: shares of ``total_samples`` per dataset (every dataset named).
        total_samples: prompts per epoch split by ``ratios`` (default: the sum of the dataset sizes).
        batch_size: prompts per batch on each rank.
        num_workers: dataloader worker processes.
        seed: seed of the per-dataset draws and the batch order.
        drop_last: drop each family's last incomplete global batch instead of filling it with repeats.
        families: task family per dataset name, overriding the datasets' ``task`` attribute.
        rank: this process's rank (with ``world_size``; default: from the process group or the trainer).
        world_size: number of ranks.
    """

    def __init__(
        self,
        datasets: dict[str, L.LightningDataModule] | list[L.LightningDataModule],
        num_samples: dict[str, int] | None = None,
        ratios: dict[str, float] | None = None,
        total_samples: int | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        families: dict[str, str] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        MixtureDataModule.validate_init_args(init_arguments(locals()))
        super().__init__()
        self.save_hyperparameters(ignore=["datasets"])
        modules = datasets.values() if isinstance(datasets, Mapping) else datasets
        self.children = dict(zip(dataset_names(datasets), modules))
        self.num_samples, self.ratios, self.total_samples = num_samples, ratios, total_samples
        self.batch_size, self.num_workers, self.seed, self.drop_last = batch_size, num_workers, seed, drop_last
        self.families = families or {}
        self.rank, self.world_size = rank, world_size
        self.collate = SampleCollator()

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a table naming an unknown dataset, counts or shares
        out of range, or rank settings that do not fit; the datasets' own values are theirs to check."""
        datasets = args.get("datasets")
        ok = isinstance(datasets, (Mapping, list, tuple)) and len(datasets) > 0
        require(ok, "datasets", datasets, "must be a non-empty mapping {name: DataModule} or list of DataModules")
        names = dataset_names(datasets)
        num_samples, ratios = args.get("num_samples"), args.get("ratios")
        require(num_samples is None or ratios is None, "ratios", ratios, "give num_samples or ratios, not both")
        for what in ("num_samples", "ratios", "families"):
            unknown = sorted(set(args.get(what) or {}) - set(names))
            require(not unknown, what, args.get(what), f"names unknown dataset(s) {unknown}; datasets: {names}")
        for name, count in (num_samples or {}).items():
            require_int(f"num_samples.{name}", count, minimum=0)
        if ratios is not None:
            missing = sorted(set(names) - set(ratios))
            require(not missing, "ratios", ratios, f"must give a share for every dataset {names}; missing {missing}")
            for name, share in ratios.items():
                require_number(f"ratios.{name}", share, minimum=0)
                require(math.isfinite(share), f"ratios.{name}", share, "must be finite")
            require(sum(ratios.values()) > 0, "ratios", ratios, "must have a positive sum")
        total = args.get("total_samples")
        require_int("total_samples", total, minimum=0, optional=True)
        require(total is None or ratios is not None, "total_samples", total, "is split by ratios: give ratios too")
        validate_loader_args(args)
        require_bool("drop_last", args.get("drop_last"))
        for name, family in (args.get("families") or {}).items():
            require(isinstance(family, str) and bool(family), f"families.{name}", family, "must be a task family")
        rank, world_size = args.get("rank"), args.get("world_size")
        if (rank is None) != (world_size is None):
            raise ConfigError("rank", rank, f"give rank and world_size together or neither (world_size={world_size})")
        if world_size is not None:
            require_int("world_size", world_size, minimum=1)
            require_int("rank", rank, minimum=0)
            require(rank < world_size, "rank", rank, f"must be < world_size ({world_size})")

    def prepare_data(self) -> None:
        for module in self.children.values():
            module.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        for module in self.children.values():
            module.setup(stage)

    def set_preprocessor(self, preprocess: Preprocessor | None) -> None:
        """The training module's preprocessor for the mixture's loader and every dataset's own (validation)."""
        self.collate.preprocess = preprocess
        for module in self.children.values():
            if hasattr(module, "set_preprocessor"):
                module.set_preprocessor(preprocess)

    def counts(self, sizes: Sequence[int]) -> list[int]:
        """Prompts per epoch from each dataset, given their sizes (in ``self.children`` order)."""
        names = list(self.children)
        if self.ratios is not None:
            total = sum(sizes) if self.total_samples is None else self.total_samples
            return apportion(total, [self.ratios[n] for n in names])
        wanted = self.num_samples or {}
        return [int(wanted.get(n, size)) for n, size in zip(names, sizes)]

    def _family(self, name: str, dataset: Dataset[Any]) -> str:
        family = self.families.get(name, getattr(dataset, "task", None))
        if not isinstance(family, str):
            raise ValueError(
                f"dataset {name!r} ({type(dataset).__name__}) has no 'task' attribute; name its family in `families`"
            )
        return family

    def _rank(self) -> tuple[int, int]:
        if self.rank is None and self.world_size is None and not (dist.is_available() and dist.is_initialized()):
            trainer = self.trainer
            if trainer is not None:
                return trainer.global_rank, trainer.world_size
        return resolve_rank(self.rank, self.world_size)

    def train_dataloader(self) -> DataLoader:
        datasets = [module.train_dataloader().dataset for module in self.children.values()]
        sizes = [len(d) for d in datasets]  # type: ignore[arg-type]
        rank, world_size = self._rank()
        sampler = MixtureSampler(
            sizes,
            [self._family(name, d) for name, d in zip(self.children, datasets)],
            self.counts(sizes),
            self.batch_size,
            seed=self.seed,
            drop_last=self.drop_last,
            rank=rank,
            world_size=world_size,
            datasets=datasets,
        )
        # Resumable like every DataModule's loader: the sampler's order depends on the epoch only, so the loader's
        # saved position is all a restarted run needs; its private generator keeps worker seeding off the global RNG.
        return ResumableDataLoader(
            ConcatDataset(datasets),
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def _per_dataset(self, hook: str) -> list[DataLoader]:
        return [getattr(m, hook)() for m in self.children.values() if is_overridden(hook, m, L.LightningDataModule)]

    def val_dataloader(self) -> list[DataLoader]:
        """Each dataset's own validation loader (Lightning reports them under ``dataloader_idx`` in name order)."""
        return self._per_dataset("val_dataloader")

    def test_dataloader(self) -> list[DataLoader]:
        """Each dataset's own test loader."""
        return self._per_dataset("test_dataloader")
