"""``python -m omni_r1.export --ckpt CKPT --config RUN_CONFIG --out DIR [--merge] [--dtype DTYPE]``.

Turns a Lightning checkpoint of a run into a folder other tools load:

- a LoRA run: the adapter in peft format (``adapter_config.json`` + ``adapter_model.safetensors``) plus the
  processor; ``GlobalSystem(model_name_or_path=DIR)``, ``PeftModel.from_pretrained`` or a server with LoRA
  support load it on top of the base model named in the adapter config;
- a LoRA run with ``--merge``: the adapters folded into an unquantised copy of the base weights, saved as a full
  Hugging Face model with its processor (for servers without LoRA support). The base is loaded in ``--dtype``
  (default: the run's ``dtype``), so a QLoRA policy merges into full-precision weights: close to, but not
  bit-identical with, the 4-bit policy it was trained as;
- a full fine-tuning run: the full model in Hugging Face format (``--merge`` changes nothing).

The module is rebuilt from the run's saved ``config.yaml`` (the one LightningCLI writes into the log folder) with
the training CLI's parser, building only the model; relative paths in it are read from the current folder, so
run the export from where the run was started.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningModule

from omni_r1.checkpoint import load_checkpoint
from omni_r1.command_line import configure_logging
from omni_r1.config import init_args, instantiate_model, resolved_config
from omni_r1.models.loading import load_thinker


def export_policy(module: LightningModule, out: str | Path, *, merge: bool = False, dtype: str | None = None) -> str:
    """Write ``module.policy`` to ``out``; returns what was written (``adapter``, ``merged`` or ``full``).

    Raises:
        TypeError: the module has no Global-system ``policy`` to export.
    """
    policy = getattr(module, "policy", None)
    if policy is None or not hasattr(policy, "save_pretrained"):
        raise TypeError(f"{type(module).__name__} has no `policy` with save_pretrained to export")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not policy.has_adapters:
        policy.save_pretrained(str(out))
        return "full"
    if not merge:
        policy.save_pretrained(str(out))
        return "adapter"
    with tempfile.TemporaryDirectory(prefix="omni_r1_adapter_") as adapter:
        policy.model.save_pretrained(adapter)
        # A saved adapter loaded without `lora` is folded into an unquantised base (load_thinker's warm-start path).
        merged = load_thinker(adapter, dtype=dtype or "float32", freeze_encoders=False)
    merged.save_pretrained(str(out))
    policy.processor.save_pretrained(str(out))
    return "merged"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m omni_r1.export",
        description="Write a run's trained policy as a peft adapter or a Hugging Face model.",
    )
    parser.add_argument("--ckpt", required=True, help="Lightning checkpoint of the run (e.g. checkpoints/last.ckpt)")
    parser.add_argument("--config", required=True, help="the run's saved config.yaml (in its log folder)")
    parser.add_argument("--out", required=True, help="folder to write the adapter or model into")
    parser.add_argument("--merge", action="store_true", help="fold LoRA adapters into full weights")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="dtype of merged weights")
    return parser


def main(args: list[str] | None = None) -> int:
    """Rebuild the run's module, load the checkpoint, export; returns the exit status (2 on bad input)."""
    configure_logging()  # one line per record; the dependencies' benign notices filtered
    options = build_parser().parse_args(args)
    config = resolved_config(["--config", options.config])
    module = instantiate_model(config["model"])
    policy_args: dict[str, Any] = init_args(init_args(config["model"]).get("policy"))
    dtype = options.dtype or policy_args.get("dtype")
    try:
        load_checkpoint(module, options.ckpt)
        kind = export_policy(module, options.out, merge=options.merge, dtype=dtype)
    except (FileNotFoundError, KeyError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    record = {"ckpt": str(options.ckpt), "config": str(options.config), "kind": kind}
    if kind == "merged":
        record["dtype"] = dtype
    Path(options.out, "omni_r1_export.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote the {kind} policy to {options.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
