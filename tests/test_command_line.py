"""What every entry point shares: training-config flags passed on as fit reads them, dashed spellings, the
deprecated ``--set``, and logging with the dependencies' known-benign notices filtered (and nothing else)."""

from __future__ import annotations

import logging
import warnings

import pytest

from omni_r1.command_line import (
    add_flag,
    command_parser,
    configure_logging,
    set_overrides,
    split_config_flags,
    underscored,
)


def test_config_flags_are_split_from_the_commands_own() -> None:
    args = ["--output", "o", "--model.init_args.lr", "1e-4", "--trainer.max_steps=5", "--data", "d.yaml", "--limit"]
    own, config = split_config_flags([*args, "2", "--seed_everything", "3"])
    assert own == ["--output", "o", "--limit", "2"]
    assert config == [*args[2:7], "--seed_everything", "3"]  # a value follows its flag; "=" holds its own
    sweep = split_config_flags(["--ckpt_path", "x", "--models", "y"], roots=("ckpt_path",))
    assert sweep == (["--models", "y"], ["--ckpt_path", "x"])


def test_dashed_spellings_read_as_underscores() -> None:
    assert underscored(["--max-new-tokens", "8", "--fail-fast", "--batch-size=2", "a-b", "--device"]) == [
        "--max_new_tokens",
        "8",
        "--fail_fast",
        "--batch_size=2",
        "a-b",
        "--device",
    ]


def test_set_is_a_deprecated_alias_of_the_key_flag(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omni_r1"):
        flags = set_overrides(["data.init_args.root=/x=y", "--trainer.max_steps=2"])
    assert flags == ["--data.init_args.root", "/x=y", "--trainer.max_steps", "2"]
    assert "--set KEY=VALUE is deprecated" in caplog.text and "--data.init_args.root /x=y" in caplog.text
    with pytest.raises(ValueError, match="KEY=VALUE"):
        set_overrides(["no_equals_sign"])


def test_flags_take_a_value_or_none() -> None:
    parser = command_parser("prog", "about")
    add_flag(parser, "--overwrite", "replace")
    assert parser.parse_args([]).overwrite is False
    assert parser.parse_args(["--overwrite"]).overwrite is True
    assert parser.parse_args(["--overwrite", "false"]).overwrite is False
    assert parser.parse_args(["--overwrite=true"]).overwrite is True


def test_help_shows_a_checking_function_by_name(capsys: pytest.CaptureFixture) -> None:
    def non_empty(text: str) -> str:
        return text

    parser = command_parser("prog", "First line.\n  kept as written")
    parser.add_argument("--query", type=non_empty, required=True, help="the query")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "type: non_empty" in out and "<function" not in out and "\n  kept as written" in out


def test_logging_filters_the_dependencies_benign_notices_and_nothing_else(
    capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging()
    logging.getLogger("omni_r1.some.module").info("kit line")
    logging.getLogger("omni_r1.some.module").warning("careful")
    assert capsys.readouterr().err == "kit line\nWARNING omni_r1.some.module: careful\n"  # stderr, concise
    caplog.clear()
    with caplog.at_level(logging.INFO):
        logging.getLogger("lightning.fabric.utilities.seed").info("[rank: 0] Seed set to 0")
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("💡 Tip: For seamless cloud logging, try")
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("`Trainer.fit` stopped")
        bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
        bnb.warning("Failed to load CPU gemm_4bit_forward from kernels-community: untrusted")
        bnb.warning("another bitsandbytes problem")
    assert [r.getMessage() for r in caplog.records] == ["`Trainer.fit` stopped", "another bitsandbytes problem"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        configure_logging()  # idempotent; its filters go in front of "always"
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed", FutureWarning, stacklevel=1)
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", UserWarning, stacklevel=1)  # other category
        warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
    assert [(type(w.message), str(w.message)) for w in caught] == [
        (UserWarning, "`isinstance(treespec, LeafSpec)` is deprecated"),
        (FutureWarning, "something else is deprecated"),
    ]
    configure_logging()
    logging.getLogger("omni_r1.x").info("once")
    assert capsys.readouterr().err.count("once") == 1  # one handler however often it is configured
