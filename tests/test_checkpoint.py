"""Checkpoints: a kill at any moment of a save leaves the previous complete checkpoint; damage is named.

The kill test saves a large checkpoint over and over in a subprocess whose ``TMPDIR`` is another filesystem than
the checkpoint folder (where Lightning's own save falls back to copy-and-truncate) and kills it at several moments.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import Trainer

from omni_r1.checkpoint import (
    CheckpointError,
    SafeCheckpointIO,
    read_checkpoint,
    use_safe_checkpoint_io,
    write_checkpoint,
)
from omni_r1.fit import run

REPO = Path(__file__).resolve().parents[1]
SAVER = """
import sys, torch
from omni_r1.checkpoint import SafeCheckpointIO
path = sys.argv[1]
io = SafeCheckpointIO()
weights = torch.zeros(16 * 2**20 // 4)   # 16 MiB per save
version = 0
while True:
    weights.fill_(version)
    io.save_checkpoint({"version": version, "state_dict": {"w": weights}}, path)
    print(version, flush=True)
    version += 1
"""


def _other_filesystem_tmpdir(near: Path) -> str | None:
    here = os.stat(near).st_dev
    for candidate in ("/dev/shm", "/tmp", "/var/tmp"):
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK) and os.stat(candidate).st_dev != here:
            return candidate
    return None


def test_roundtrip_and_no_leftover_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "ckpts" / "last.ckpt"
    write_checkpoint({"a": torch.arange(3), "step": 4}, path)
    write_checkpoint({"a": torch.arange(5), "step": 5}, path)
    loaded = read_checkpoint(path)
    assert loaded["step"] == 5 and torch.equal(loaded["a"], torch.arange(5))
    assert [p.name for p in path.parent.iterdir()] == ["last.ckpt"]


@pytest.mark.slow
def test_kill_during_save_always_leaves_a_loadable_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    env = dict(os.environ)
    other = _other_filesystem_tmpdir(tmp_path)
    if other is not None:
        env["TMPDIR"] = other
    path = tmp_path / "last.ckpt"
    for delay in (0.0, 0.01, 0.03, 0.07, 0.13, 0.2):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # one complete save before the kill
        assert first.strip().isdigit(), first
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        checkpoint = read_checkpoint(path)
        weights = checkpoint["state_dict"]["w"]
        assert weights.numel() == 16 * 2**20 // 4
        assert bool((weights == checkpoint["version"]).all()), f"delay {delay}: a mixed checkpoint"
        path.unlink()


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_damaged_checkpoint_is_named(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "last.ckpt"
    write_checkpoint({"state_dict": {"w": torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"not a checkpoint"}[damage])
    with pytest.raises(CheckpointError) as error:
        SafeCheckpointIO().load_checkpoint(path)
    assert str(path) in str(error.value)


def test_remote_and_missing_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="remote checkpoints are refused"):
        read_checkpoint("https://example.org/model.ckpt")
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        read_checkpoint(tmp_path / "nowhere.ckpt")


def test_trainer_gets_the_safe_io_unless_it_has_its_own() -> None:
    trainer = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    assert type(trainer.strategy.checkpoint_io) is TorchCheckpointIO
    use_safe_checkpoint_io(trainer)
    assert isinstance(trainer.strategy.checkpoint_io, SafeCheckpointIO)

    class Own(TorchCheckpointIO):
        pass

    custom = Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, plugins=[Own()])
    use_safe_checkpoint_io(custom)
    assert type(custom.strategy.checkpoint_io) is Own


@pytest.mark.parametrize("ckpt", ["https://example.org/last.ckpt", "nowhere/last.ckpt"])
def test_fit_refuses_a_remote_or_missing_ckpt_path_before_building(
    ckpt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(["--config", str(REPO / "configs" / "demo.yaml"), "--ckpt_path", ckpt]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ckpt_path" in err[0] and ckpt in err[0]
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()  # nothing was built or written
