"""The part of a DataModule that is the same for every dataset: its root, splits, loader settings, file checks,
their validation, stages, caching and loaders."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from omni_r1.data.integrity import CHECK_LEVELS, CheckLevel
from omni_r1.data.loader import ResumableDataLoader
from omni_r1.data.types import Preprocessor, SampleCollator
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


SHARED_ARGUMENTS = ("root", "batch_size", "num_workers", "seed", "skip_invalid", "check_level")
SPLIT_ARGUMENTS = {"train_split": "train", "val_split": "val", "test_split": "test"}


def shared_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of a DataModule's constructor that :class:`SplitDataModule` takes (those it has)."""
    return {name: args[name] for name in SHARED_ARGUMENTS if name in args}


def split_arguments(args: Mapping[str, Any]) -> dict[str, str]:
    """``{part: split}`` from a constructor's ``train_split`` / ``val_split`` / ``test_split`` arguments."""
    return {part: args[name] for name, part in SPLIT_ARGUMENTS.items() if name in args}


def validate_root(args: Mapping[str, Any]) -> None:
    """``root`` names a folder (whether it holds the layout is checked in ``setup()``, with the layout shown)."""
    root = args.get("root")
    ok = isinstance(root, (str, os.PathLike)) and bool(str(root).strip())
    require(ok, "root", root, "must name the dataset root folder")


def prompt_loader(
    dataset: Dataset[Any],
    batch_size: int,
    num_workers: int,
    seed: int,
    shuffle: bool,
    collate: SampleCollator | None = None,
) -> DataLoader:
    """The loader every DataModule returns: batches are lists of prompts (never stacked: shapes differ) or, with
    a preprocessor in ``collate``, those prompts with their model inputs; the shuffle order is seeded, and the
    position is checkpointed for exact mid-epoch resume."""
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        collate_fn=collate if collate is not None else SampleCollator(),
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
    )


STAGE_PARTS: dict[str, tuple[str, ...]] = {
    "fit": ("train", "val"),
    "validate": ("val",),
    "test": ("test",),
    "predict": ("test",),
}


class SplitDataModule(L.LightningDataModule):
    """One dataset root served as one dataset per part (``train``, ``val``, ``test``), built on first use, with
    list-collated loaders: everything the kit's DataModules share.

    A subclass's constructor signature is its config schema: it checks its values first with its own
    ``validate_init_args`` (which extends this one: root, ``*_split`` names, loader and check settings), then hands
    the shared arguments here (:func:`shared_arguments`) and keeps only what is its own. It implements
    :meth:`build`. Datasets are built (and their files checked) in ``setup()`` so that a broken root fails before the
    first step; a loader asked for a part that ``setup()`` skipped builds it then.

    Args:
        root: dataset root in the dataset's official layout.
        splits: the split serving each part (``{"train": "train", "val": "valid", ...}``); empty when the subclass
            picks its files otherwise.
        batch_size: prompts per batch.
        num_workers: dataloader worker processes.
        seed: seed of the training shuffle order (and of the subclass's draws).
        skip_invalid: skip prompts whose files are missing or unreadable (logging how many) instead of stopping.
        check_level: file check run when a dataset is built (``"exists"``, ``"open"``, ``"decode"``).
    """

    split_names: tuple[str, ...] = ()
    """The splits a ``train_split`` / ``val_split`` / ``test_split`` argument may name (see :meth:`split_choices`)."""
    unstaged_parts: tuple[str, ...] = ("train", "val")
    """The parts ``setup()`` builds when Lightning gives no stage."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        splits: Mapping[str, str] | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        seed: int = 0,
        skip_invalid: bool = False,
        check_level: CheckLevel = "open",
    ) -> None:
        SplitDataModule.validate_init_args(init_arguments(locals()))
        super().__init__()
        # The subclass constructor's arguments (its signature is the config), not this base's: hparams stay as
        # each DataModule saved them itself.
        self.save_hyperparameters(frame=inspect.currentframe().f_back)
        self.root = Path(root)
        self.splits = dict(splits or {})
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.checks: dict[str, Any] = {"skip_invalid": skip_invalid, "check_level": check_level}
        self.datasets: dict[str, Dataset[Any]] = {}
        self.collate = SampleCollator()  # one object for every loader: a later set_preprocessor reaches them all

    @classmethod
    def validate_init_args(cls, args: Mapping[str, Any]) -> None:
        """Raise :class:`~omni_r1.validation.ConfigError` for a root, split name, batch size, worker count, seed or
        check setting out of range (values that would otherwise fail in ``setup()`` or at the first batch)."""
        validate_root(args)
        for name in SPLIT_ARGUMENTS:
            if name in args:
                require_choice(name, args[name], cls.split_choices(name, args))
        validate_loader_args(args)
        validate_checks(args)

    @classmethod
    def split_choices(cls, name: str, args: Mapping[str, Any]) -> tuple[str, ...]:
        """The splits argument ``name`` may take given the other arguments (default: :attr:`split_names`)."""
        return cls.split_names

    def build(self, part: str) -> Dataset[Any]:
        """The dataset of ``part`` (``"train"``, ``"val"`` or ``"test"``)."""
        raise NotImplementedError

    def dataset(self, part: str) -> Dataset[Any]:
        """The dataset of ``part``, built once."""
        if part not in self.datasets:
            self.datasets[part] = self.build(part)
        return self.datasets[part]

    def setup(self, stage: str | None = None) -> None:
        for part in STAGE_PARTS.get(stage or "", self.unstaged_parts):
            self.dataset(part)

    def set_preprocessor(self, preprocess: Preprocessor | None) -> None:
        """Make every loader's batches ``preprocess(records)`` (the training module's model inputs, prepared in
        the loader workers); ``None`` restores lists of records."""
        self.collate.preprocess = preprocess

    def loader(self, part: str, shuffle: bool) -> DataLoader:
        """A loader over ``part`` yielding lists of records (prompts differ in shape and are never stacked), or
        :class:`~omni_r1.data.types.ProcessedBatch` es once a preprocessor is set."""
        return prompt_loader(self.dataset(part), self.batch_size, self.num_workers, self.seed, shuffle, self.collate)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self.loader("test", shuffle=False)
