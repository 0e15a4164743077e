"""``python -m omni_r1.sweep --config base.yaml --grid grid.yaml [--dry_run] [--out DIR] [--key value ...]``.

A grid is a YAML file of fit-CLI overrides: either a mapping of dotted keys to lists of values (the cartesian
product is run; a scalar is a value shared by every point) or a list of override mappings (one run each; an
optional ``_name`` names the run). Extra ``--key value`` flags apply to every run.

Each point becomes its own ``python -m omni_r1.fit`` process, so runs cannot leak state into each other. Before it
starts, the point's config is resolved with the training CLI's parser (a bad key fails that point only) and
written to ``DIR/<run>/run.yaml``, with every output path under the base's ``trainer.default_root_dir`` (logs,
checkpoints, exported policies) moved under ``DIR/<run>`` and a CSV logger added if the run has none. A run that
exits 0 gets a ``DONE.json`` marker and is skipped when the sweep is started again; failed runs are reported,
do not stop the others and are retried next time, from the run's ``last.ckpt`` when it left one and its resolved
config is unchanged. ``DIR/summary.csv`` lists every run's overrides, status and
final metrics (the last logged value of each column of its ``metrics.csv``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser
from jsonargparse.typing import PositiveFloat

from omni_r1.command_line import CONFIG_ROOTS, add_flag, command_arguments, command_parser, configure_logging
from omni_r1.progress import Progress

MARKER = "DONE.json"
RUN_CONFIG = "run.yaml"
CSV_LOGGER = "lightning.pytorch.loggers.CSVLogger"
logger = logging.getLogger("omni_r1.sweep")  # by name: run as __main__, __name__ is not under omni_r1


@dataclass
class Point:
    """One run of the sweep: its name and overrides (dotted fit-CLI key -> value)."""

    name: str
    overrides: dict[str, Any]


@dataclass
class Result:
    """What happened to a point: ``finished``, ``skipped`` (finished earlier), ``failed`` or ``invalid``."""

    point: Point
    status: str
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""


# ---------------------------------------------------------------------------------------------------- the grid
def load_grid(path: str | Path) -> list[Point]:
    """The runs of a grid file (see the module docstring for the two forms).

    Raises:
        ValueError: the file is neither form, a list of values is empty, or two runs get the same name.
    """
    path = Path(path)
    grid = yaml.safe_load(path.read_text())
    if isinstance(grid, dict) and grid:
        keys = list(grid)
        values = [v if isinstance(v, list) else [v] for v in grid.values()]
        empty = [k for k, v in zip(keys, values) if not v]
        if empty:
            raise ValueError(f"{path}: the value lists of {empty} are empty; give at least one value per key")
        combos = [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    elif isinstance(grid, list) and grid and all(isinstance(item, dict) for item in grid):
        combos = [dict(item) for item in grid]
    else:
        raise ValueError(
            f"{path}: expected a mapping of dotted fit-CLI keys to lists of values, or a non-empty list of "
            f"override mappings; got {type(grid).__name__}"
        )
    points = [Point(str(c.pop("_name")) if "_name" in c else "", c) for c in combos]
    for point in points:
        point.name = _safe(point.name) if point.name else run_name(point.overrides, combos)
    names = [p.name for p in points]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: runs {duplicates} appear more than once; make the points (or _name) distinct")
    return points


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=,+-]+", "_", text).strip("_") or "run"


def run_name(overrides: dict[str, Any], all_points: list[dict[str, Any]] | None = None) -> str:
    """A readable folder name: ``lr=0.001,beta=0.04`` (last key segments; full keys when those collide)."""
    keys = list(overrides)
    short = [k.rsplit(".", 1)[-1] for k in keys]
    labels = short if len(set(short)) == len(short) else keys
    name = _safe(",".join(f"{label}={_cli_value(overrides[k])}" for label, k in zip(labels, keys))) or "base"
    if len(name) > 96:
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True, default=str).encode()).hexdigest()[:8]
        name = f"{name[:87]}-{digest}"
    return name


def _cli_value(value: Any) -> str:
    """A value as one fit-CLI argument (YAML / JSON syntax, which the CLI parses back to the typed value)."""
    return value if isinstance(value, str) else json.dumps(value)


def override_flags(overrides: dict[str, Any]) -> list[str]:
    return [item for key, value in overrides.items() for item in (f"--{key}", _cli_value(value))]


# ---------------------------------------------------------------------------------------------------- one run
def relocate(config: dict[str, Any], run_dir: str) -> dict[str, Any]:
    """Move a resolved config's outputs under ``run_dir`` (see the module docstring); returns ``config``."""
    trainer = config.setdefault("trainer", {})
    root = str(trainer.get("default_root_dir") or "").rstrip("/")

    def move(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: move(v) for k, v in node.items()}
        if isinstance(node, list):
            return [move(v) for v in node]
        if isinstance(node, str) and root and (node == root or node.startswith(root + "/")):
            return run_dir + node[len(root) :]
        return node

    for key in ("trainer", "model"):
        if key in config:
            config[key] = move(config[key])
    trainer = config["trainer"]
    trainer["default_root_dir"] = run_dir
    logger = trainer.get("logger")
    loggers = logger if isinstance(logger, list) else [logger] if isinstance(logger, dict) else []
    for item in loggers:
        args = item.setdefault("init_args", {})
        if "save_dir" in args and not str(args["save_dir"]).startswith(run_dir):
            args["save_dir"] = run_dir
    if not any(item.get("class_path") == CSV_LOGGER for item in loggers):
        loggers.append({"class_path": CSV_LOGGER, "init_args": {"save_dir": run_dir, "name": "logs"}})
    trainer["logger"] = loggers
    for callback in trainer.get("callbacks") or []:
        args = callback.get("init_args") or {} if isinstance(callback, dict) else {}
        if args.get("dirpath") and not str(args["dirpath"]).startswith(run_dir):
            args["dirpath"] = f"{run_dir}/checkpoints"
    return config


def resolve_point(base_args: list[str], point: Point, run_dir: str) -> str:
    """The YAML config of one run, resolved and relocated.

    Raises:
        ValueError: the fit CLI rejected the point's overrides; the message holds its error output.
    """
    from omni_r1.config import dump_config

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            text = dump_config([*base_args, *override_flags(point.overrides)])
    except SystemExit as error:
        message = stderr.getvalue()
        message = message[message.rfind("error:") :] if "error:" in message else message  # drop the usage text
        raise ValueError(message.strip() or f"the fit CLI exited with {error.code}") from None
    return yaml.safe_dump(relocate(yaml.safe_load(text), run_dir), sort_keys=False)


def final_metrics(run_dir: Path) -> dict[str, Any]:
    """The last logged value of every column of the run's newest ``metrics.csv`` (empty when none)."""
    files = sorted(run_dir.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not files:
        return {}
    last: dict[str, Any] = {}
    with files[-1].open(newline="") as handle:
        for row in csv.DictReader(handle):
            last.update({k: v for k, v in row.items() if v not in ("", None)})
    return {k: _number(v) for k, v in last.items()}


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest ``last.ckpt`` under ``run_dir`` (an interrupted run's), or ``None``."""
    found = sorted(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def run_point(base_args: list[str], point: Point, out: Path, timeout: float | None = None) -> Result:
    """Run one point unless its marker says it finished already; a point that stopped before finishing resumes
    from its ``last.ckpt`` when its resolved config is unchanged."""
    run_dir = out / point.name
    marker = run_dir / MARKER
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("overrides") == json.loads(json.dumps(point.overrides, default=str)):
            return Result(point, "skipped", done.get("seconds", 0.0), done.get("metrics", {}))
    try:
        text = resolve_point(base_args, point, str(run_dir))
    except ValueError as error:
        return Result(point, "invalid", error=str(error))
    previous = run_dir / RUN_CONFIG
    resume = last_checkpoint(run_dir) if previous.is_file() and previous.read_text() == text else None
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_CONFIG).write_text(text)
    log = run_dir / "fit.log"
    command = [sys.executable, "-m", "omni_r1.fit", "--config", str(run_dir / RUN_CONFIG)]
    if resume is not None:  # an interrupted run of the same config continues where it stopped
        command += ["--ckpt_path", str(resume)]
    start = time.monotonic()
    with log.open("a" if resume is not None else "w") as handle:
        if resume is not None:
            handle.write(f"resuming from {resume}\n")
            handle.flush()
        try:
            code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = None
    seconds = round(time.monotonic() - start, 1)
    if code != 0:
        reason = f"timed out after {timeout} s" if code is None else f"exit status {code}"
        return Result(point, "failed", seconds, final_metrics(run_dir), f"{reason}; see {log}\n{_tail(log)}")
    metrics = final_metrics(run_dir)
    record = {"overrides": point.overrides, "seconds": seconds, "metrics": metrics}
    marker.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return Result(point, "finished", seconds, metrics)


# ---------------------------------------------------------------------------------------------------- the sweep
def write_summary(path: Path, results: list[Result]) -> None:
    """``summary.csv``: run, status, seconds, one column per override key, then per metric, then the error."""
    keys = list(dict.fromkeys(k for r in results for k in r.point.overrides))
    metrics = sorted({k for r in results for k in r.metrics})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "status", "seconds", *keys, *metrics, "error"])
        for r in results:
            overrides = [_cli_value(r.point.overrides[k]) if k in r.point.overrides else "" for k in keys]
            values = [r.metrics.get(k, "") for k in metrics]
            first_line = r.error.splitlines()[0] if r.error else ""
            writer.writerow([r.point.name, r.status, r.seconds, *overrides, *values, first_line])


DESCRIPTION = """Run a grid of training-config overrides, one python -m omni_r1.fit run each, and summarise them.

A grid is a YAML file: a mapping of dotted fit keys to lists of values (the cartesian product is run; a scalar
is shared by every point), or a list of override mappings (one run each; an optional _name names the run). Every
--model.*, --data.*, --trainer.*, --seed_everything and --ckpt_path flag applies to every run, as fit takes it.

Each run gets its folder DIR/<run>/ holding run.yaml (its resolved config), fit.log and every output the base
config writes under trainer.default_root_dir. A run that finished is skipped when the sweep is started again; a
failed run does not stop the others and is retried next time. DIR/summary.csv lists every run's overrides, status
and final metrics. Exit status: 0 when every run finished, 1 when some failed, 2 for an unreadable grid.

example:
  python -m omni_r1.sweep --config configs/omni_r1_7b.yaml --grid experiments/sweeps/table4_reward_ablation.yaml \\
      --out runs/sweeps/table4 --trainer.max_steps 200
"""
FIT_ROOTS = (*CONFIG_ROOTS, "ckpt_path")


def build_parser() -> ArgumentParser:
    parser = command_parser("python -m omni_r1.sweep", DESCRIPTION)
    parser.add_argument("--config", type=str, action="append", required=True, help="base fit config (repeatable)")
    parser.add_argument("--grid", type=str, required=True, help="grid YAML of fit-config overrides")
    parser.add_argument("--out", type=str | None, default=None, help="sweep folder (default: runs/sweeps/<grid name>)")
    add_flag(parser, "--dry_run", "check and list the runs without running them")
    parser.add_argument("--timeout", type=PositiveFloat | None, default=None, help="seconds allowed per run")
    return parser


def main(args: list[str] | None = None) -> int:
    """Run (or with ``--dry_run`` list) the sweep; returns 0 when every run finished or was skipped, 1 when some
    failed, 2 when the grid is unreadable."""
    configure_logging()
    own, extra = command_arguments(args, FIT_ROOTS)
    options = build_parser().parse_args(own)
    base_args = [*(item for path in options.config for item in ("--config", path)), *extra]
    try:
        points = load_grid(options.grid)
    except (OSError, ValueError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = Path(options.out or Path("runs/sweeps") / Path(options.grid).stem)
    if options.dry_run:
        return _dry_run(base_args, points, out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    with Progress(len(points), "sweep", unit="runs", interval=0.0) as bar:
        for i, point in enumerate(points, 1):
            logger.info("run %d/%d %s: %s", i, len(points), point.name, point.overrides)
            result = run_point(base_args, point, out, options.timeout)
            results.append(result)
            if result.error:
                logger.warning("%s %s (%s s): %s", point.name, result.status, result.seconds, result.error)
            else:
                logger.info("%s %s (%s s)", point.name, result.status, result.seconds)
            bar.update(1, failed=sum(r.status in ("failed", "invalid") for r in results))
    write_summary(out / "summary.csv", results)
    failed = [r.point.name for r in results if r.status in ("failed", "invalid")]
    print(f"summary: {out / 'summary.csv'}; {len(points) - len(failed)} of {len(points)} runs done", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def _dry_run(base_args: list[str], points: list[Point], out: Path) -> int:
    bad = 0
    for point in points:
        run_dir = out / point.name
        try:
            resolve_point(base_args, point, str(run_dir))
            status = "done" if (run_dir / MARKER).is_file() else "to run"
        except ValueError as error:
            bad += 1
            status = f"invalid: {error}"
        print(
            f"{point.name}: {status}\n  python -m omni_r1.fit {' '.join(base_args + override_flags(point.overrides))}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
