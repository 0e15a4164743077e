"""The part of a split-based DataModule that is the same for every dataset: stages, caching and loaders."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from omni_r1.data.integrity import CHECK_LEVELS
from omni_r1.data.loader import ResumableDataLoader
from omni_r1.data.types import collate_samples
from omni_r1.validation import init_arguments, require, require_bool, require_choice, require_int


def validate_loader_args(args: Mapping[str, Any]) -> None:
    """``batch_size >= 1``, ``num_workers >= 0`` and a seed ``>= 0`` (numpy seed sequences take no negatives)."""
    require_int("batch_size", args.get("batch_size"), minimum=1)
    require_int("num_workers", args.get("num_workers"), minimum=0)
    if "seed" in args:
        require_int("seed", args.get("seed"), minimum=0)


def validate_checks(args: Mapping[str, Any]) -> None:
    """``skip_invalid`` is a flag and ``check_level`` one of :data:`~omni_r1.data.integrity.CHECK_LEVELS`."""
    require_bool("skip_invalid", args.get("skip_invalid"))
    require_choice("check_level", args.get("check_level"), CHECK_LEVELS)


def validate_root(args: Mapping[str, Any]) -> None:
    """``root`` names a folder (whether it holds the layout is checked in ``setup()``, with the layout shown)."""
    root = args.get("root")
    ok = isinstance(root, (str, os.PathLike)) and bool(str(root).strip())
    require(ok, "root", root, "must name the dataset root folder")


def prompt_loader(dataset: Dataset[Any], batch_size: int, num_workers: int, seed: int, shuffle: bool) -> DataLoader:
    """The loader every DataModule returns: batches are lists of prompts (never stacked: shapes differ), the
    shuffle order is seeded, and the position is checkpointed for exact mid-epoch resume."""
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate_samples,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
}


class SplitDataModule(L.LightningDataModule):
    """Builds one dataset per part (``train``, ``val``, ``test``) on first use and serves list-collated loaders.

    Subclasses implement :meth:`build`. Datasets are built (and their files checked) in ``setup()`` so that a broken
    root fails before the first step; a loader asked for a part that ``setup()`` skipped builds it then.

    Args:
        batch_size: prompts per batch.
        num_workers: dataloader worker processes.
        seed: seed of the training shuffle order.
    """

    def __init__(self, batch_size: int = 1, num_workers: int = 0, seed: int = 0) -> None:
        SplitDataModule.validate_init_args(init_arguments(locals()))
        super().__init__()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.datasets: dict[str, Dataset[Any]] = {}

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a batch size, worker count or seed out of range."""
        validate_loader_args(args)

    def build(self, part: str) -> Dataset[Any]:
        """The dataset of ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        raise NotImplementedError

    def dataset(self, part: str) -> Dataset[Any]:
        """The dataset of ``part``, built once."""
        if part not in self.datasets:
            self.datasets[part] = self.build(part)
        return self.datasets[part]

    def setup(self, stage: str | None = None) -> None:
        for part in STAGE_PARTS.get(stage or "", ("train", "val")):
            self.dataset(part)

    def loader(self, part: str, shuffle: bool) -> DataLoader:
        """A loader over ``part`` yielding lists of records (prompts differ in shape and are never stacked)."""
        return prompt_loader(self.dataset(part), self.batch_size, self.num_workers, self.seed, shuffle)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)
