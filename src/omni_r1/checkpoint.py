"""Checkpoints that survive a kill and say which file is damaged.

Lightning's own save writes through an fsspec transaction whose temporary file lives in ``TMPDIR``; when that is
another filesystem than the checkpoint folder the final move becomes copy-and-truncate, and a kill during it
leaves ``last.ckpt`` at 0 bytes — with ``save_top_k: 0``, the only checkpoint of the run. Here the temporary file
is written in the destination folder itself, flushed to disk, then renamed over the old checkpoint
(``os.replace`` is atomic on one filesystem): at every moment the path holds either the previous complete
checkpoint or the new complete one.

Reading refuses remote paths (Lightning unpickles a URL with ``weights_only=False``) and always loads with
``weights_only=True``: a kit checkpoint holds only tensors and plain values (see
:class:`~omni_r1.callbacks.RNGStateCallback`). A file that does not load is reported with its path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import LightningModule

# bitsandbytes keeps 4-bit quantisation state beside the weights; a module rebuilt from its config recreates it.
_QUANT_STATE = (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state.bitsandbytes__")


class CheckpointError(Exception):
    """A checkpoint path that cannot be used: remote, missing, or a file that is not a complete checkpoint."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path, self.problem = str(path), problem
        super().__init__(f"checkpoint {path}: {problem}")

    def __str__(self) -> str:
        return f"checkpoint {self.path}: {self.problem}"

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint at a local path."""


def is_remote(path: str | Path) -> bool:
    """``True`` for a URL (``https://``, ``s3://``…): anything with a scheme other than a local file."""
    return "://" in str(path) and not str(path).startswith("file://")


def check_local_checkpoint(path: str | Path) -> Path:
    """The local file ``path``, or :class:`CheckpointError` when it is remote or does not exist."""
    if is_remote(path):
        raise CheckpointError(
            path,
            "remote checkpoints are refused (loading would unpickle a remote file); "
            "download it and pass the local file",
        )
    local = Path(str(path).removeprefix("file://")).expanduser()
    if not local.is_file():
        raise CheckpointNotFoundError(path, "not found" if not local.exists() else "not a file")
    return local


def read_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a checkpoint file (tensors and plain values only), naming the file when it is damaged.

    Raises:
        CheckpointError: remote, missing, empty, truncated or not a checkpoint at all.
    """
    local = check_local_checkpoint(path)
    if local.stat().st_size == 0:
        raise CheckpointError(path, "the file is empty (a save was interrupted); resume from an earlier checkpoint")
    try:
        checkpoint = torch.load(local, map_location=map_location, weights_only=True)
    except Exception as error:  # EOFError, zip / unpickling errors: all mean "not a complete checkpoint"
        raise CheckpointError(path, f"damaged or incomplete ({type(error).__name__}: {error})") from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(path, f"expected a dict of checkpoint entries, found {type(checkpoint).__name__}")
    return checkpoint


def write_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically: temporary file in the same folder, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # the rename itself reaches the disk with the folder's entry
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO with :func:`write_checkpoint` and :func:`read_checkpoint` (installed by ``fit``)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        if is_remote(path):
            raise CheckpointError(path, "remote checkpoint folders are not supported; save locally")
        write_checkpoint(checkpoint, path)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(path, map_location=map_location if map_location is not None else "cpu")


def use_safe_checkpoint_io(trainer: Any) -> None:
    """Give ``trainer`` :class:`SafeCheckpointIO` unless it was configured with a checkpoint IO of its own."""
    strategy = trainer.strategy
    if type(strategy.checkpoint_io) is TorchCheckpointIO:
        strategy.checkpoint_io = SafeCheckpointIO()


def load_checkpoint(module: LightningModule, ckpt_path: str | Path) -> None:
    """Load a Lightning checkpoint's ``state_dict`` into ``module`` (its own hooks run first).

    Raises:
        CheckpointError: no such (local) checkpoint, or a damaged one.
        KeyError: the checkpoint has no ``state_dict``, lacks some of the module's weights, or holds weights the
            module does not have (a checkpoint of another model); the message names a few.
    """
    checkpoint = read_checkpoint(ckpt_path)
    if "state_dict" not in checkpoint:
        raise KeyError(f"{ckpt_path}: expected a Lightning checkpoint with a 'state_dict' entry")
    module.on_load_checkpoint(checkpoint)  # e.g. GRPOModule restores its frozen reference, left out on save
    result = module.load_state_dict(checkpoint["state_dict"], strict=False)
    unexpected = [k for k in result.unexpected_keys if not any(part in k for part in _QUANT_STATE)]
    for what, keys in (
        ("lacks weights of the model", result.missing_keys),
        ("has weights the model lacks", unexpected),
    ):
        if keys:
            raise KeyError(f"{ckpt_path} {what} built from the config: {keys[:5]}{' ...' if len(keys) > 5 else ''}")
