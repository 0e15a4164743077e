"""Read a run's configuration through the training CLI's own parser, without building anything.

The planner, the sweep runner and the exporter must see a config exactly as ``python -m omni_r1.fit`` does (group
files, ``--config`` overlays, ``--key value`` flags, type checks), yet must not load weights or write data while
doing so. :class:`ParseOnlyCLI` is the fit CLI with its instantiation step removed: parsing and validation run,
nothing is constructed.
"""

from __future__ import annotations

import warnings
from typing import Any

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningArgumentParser

from omni_r1.cli import OmniR1CLI
from omni_r1.config_files import check_config_files
from omni_r1.validation import without_path_checks


class ParseOnlyCLI(OmniR1CLI):
    """The training CLI that stops after parsing: ``self.config`` holds the resolved namespace."""

    def before_instantiate_classes(self) -> None:
        """Values are checked, paths are not: a reader may look at a config whose inputs do not exist yet (a sweep's
        dry run before the warm start is exported, the planner with its own ``--model``)."""
        with without_path_checks():
            super().before_instantiate_classes()

    def instantiate_classes(self) -> None:
        """Build nothing: the callers only read the resolved configuration."""


def parse_cli(args: list[str]) -> ParseOnlyCLI:
    """Parse fit-CLI ``args`` (``--config``, ``--key value``...) into a validated, resolved configuration.

    Raises:
        SystemExit: the CLI's own error (unknown key, wrong type), printed to stderr.
        ConfigError: a value that is not allowed (paths are not checked here, see :class:`ParseOnlyCLI`).
        ConfigFileError: a config file that is missing or not valid YAML.
    """
    check_config_files(args)
    with warnings.catch_warnings():
        # Parsing from a list while the planner's own flags sit in sys.argv is intended here.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return ParseOnlyCLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            run=False,
            args=args,
            auto_configure_optimizers=False,
        )


def resolved_config(args: list[str]) -> dict[str, Any]:
    """The resolved configuration of fit-CLI ``args`` as plain nested dicts (``class_path`` / ``init_args``)."""
    return parse_cli(args).config.as_dict()


def dump_config(args: list[str]) -> str:
    """The resolved configuration as the YAML LightningCLI saves (re-parseable with ``--config``)."""
    cli = parse_cli(args)
    return cli.parser.dump(cli.config, skip_none=False)


def instantiate_model(model_config: dict[str, Any]) -> LightningModule:
    """Build only the LightningModule of a resolved config's ``model`` section (``class_path`` + ``init_args``).

    Data, trainer, loggers and callbacks of the run stay unbuilt: exporting or measuring a model needs none of
    them, and building them could write files or contact a logging service.
    """
    parser = LightningArgumentParser()
    parser.add_lightning_class_args(LightningModule, "model", subclass_mode=True)
    section = {k: v for k, v in model_config.items() if k in ("class_path", "init_args", "dict_kwargs")}
    namespace = parser.parse_object({"model": section})
    return parser.instantiate_classes(namespace).model


def section(config: dict[str, Any], *keys: str, source: str = "config") -> Any:
    """``config[k1][k2]...`` with an error naming the missing key path and the source file.

    Raises:
        KeyError: a key on the path is absent (or its parent is not a mapping).
    """
    node: Any = config
    for depth, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            path = ".".join(keys[: depth + 1])
            raise KeyError(f"{source}: expected the key {path!r} in the resolved configuration")
        node = node[key]
    return node


def short_class(node: Any) -> str:
    """The class name of a ``class_path`` node (``"omni_r1.training.grpo_module.GRPOModule"`` -> ``"GRPOModule"``)."""
    if isinstance(node, dict) and isinstance(node.get("class_path"), str):
        return node["class_path"].rsplit(".", 1)[-1]
    if isinstance(node, str):
        return node.rsplit(".", 1)[-1]
    return ""


def init_args(node: Any) -> dict[str, Any]:
    """``init_args`` of a ``class_path`` node, or the node itself when it is a plain mapping (dataclasses)."""
    if isinstance(node, dict):
        return node.get("init_args", node) or {}
    return {}
