"""The jobs of the mini reproduction: every stage is one of the kit's own commands, run as a subprocess.

Per seed S (all paths under the run folder ``OUT``):

- ``sft_referring``: ``python -m omni_r1.fit --config sft_referring.yaml`` (the curriculum's first half: referring
  prompts only) into ``OUT/seedS/sft_referring``, its ``last.ckpt`` exported to ``OUT/seedS/sft_referring/policy``;
- ``sft``: ``python -m omni_r1.fit --config sft.yaml`` from that policy into ``OUT/seedS/sft`` (every prompt type;
  resumes from its ``last.ckpt``);
- ``export``: ``python -m omni_r1.export`` of its ``best.ckpt`` (best validation loss) to ``OUT/seedS/sft/policy``;
- ``grpo``: ``python -m omni_r1.sweep --config grpo.yaml --grid grpo_grid.yaml`` into ``OUT/seedS/grpo/<point>``
  from that policy (a stopped point resumes from its ``last.ckpt``); after it, one sweep per extra grid of the
  experiment folder (``table4.yaml``: the reward subsets; ``variants.yaml``: other GRPO settings), one after the
  other into the same folder, so a point two grids hold runs once;
- ``eval``: ``python -m omni_r1.evaluate run`` of each policy (untrained, SFT, each GRPO point) on each held-out
  split into ``OUT/seedS/eval/<policy>/<split>``, and on each in-distribution split (other clips of the training
  pairs) into ``OUT/seedS/eval_seen/<policy>/<split>``.

Once per run (it needs no training): ``python -m omni_r1.mini_repro.reference_eval``, the reference answers through
the same Detail system and scoring, into ``OUT/reference/eval/<split>`` and ``OUT/reference/eval_seen/<split>``
(the tables' ceiling rows); and each constant answer (:data:`CONSTANTS`, one colour for every prompt) on the audio
split into ``OUT/constant/<scope>/<colour>/audio``: the best of them is what a policy that ignores the sound gets.

A job that finished leaves ``DONE.json`` (its wall time) in its folder and is skipped when the run starts again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from omni_r1.mini_repro.results import EVAL_SPLITS, SEEN_SPLITS, EvalSplit

MARKER = "DONE.json"
UNTRAINED, SFT = "untrained", "SFT"
REFERENCE = "reference answers"  # the Detail system given the answers SFT imitates (made from the ground truth)
SPREAD = "spread references"  # the same with K0 moments spread over the target's visible frames
REFERENCE_SEED = 0  # the data flags' seed of the reference row (the answers themselves draw nothing)
# Evaluation scopes: the held-out splits (the table) and the in-distribution ones (other clips, seen pairs).
SCOPES: dict[str, dict[str, EvalSplit]] = {"eval": EVAL_SPLITS, "eval_seen": SEEN_SPLITS}
MAIN_GRPO = "R_K+R_A+R_G"  # the point of grpo_grid.yaml: the hierarchical reward, every term on
MAIN_GRID = "grpo_grid"  # the grid of the main GRPO stage; extra grids (table4, variants) run after it
CONSTANTS = ("red", "green", "blue", "yellow", "purple")  # "the <colour> shape" for every audio prompt


@dataclass
class Job:
    """One step of the run: commands run in order (each must exit with a status in ``ok``), after ``deps``.

    ``commands`` is called when the job starts, so a command can depend on files an earlier job wrote (a
    checkpoint to resume from).
    """

    name: str
    stage: str
    folder: Path
    commands: Callable[[], list[list[str]]]
    deps: list[str] = field(default_factory=list)
    ok: tuple[int, ...] = (0,)

    @property
    def marker(self) -> Path:
        return self.folder / MARKER

    @property
    def done(self) -> bool:
        return self.marker.is_file()


@dataclass(frozen=True)
class Settings:
    """``experiment.yaml`` plus where things are: the experiment folder, the run folder and the data folder."""

    experiment: Path
    out: Path
    seeds: tuple[int, ...]
    jobs: int
    data: dict[str, int]
    policy: str
    evaluation: dict[str, Any]
    grids: tuple[str, ...] = ()  # extra sweeps after the main one: grid files' stems in the experiment folder

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    @classmethod
    def read(cls, experiment: str | Path, out: str | Path, **overrides: Any) -> Settings:
        """Settings from ``<experiment>/experiment.yaml``; ``overrides`` (``seeds``, ``jobs``, ``grids``) win
        where not ``None``. An extra grid must be a file ``<experiment>/<grid>.yaml``."""
        experiment = Path(experiment)
        raw = yaml.safe_load((experiment / "experiment.yaml").read_text())
        values = {
            "seeds": tuple(int(s) for s in raw["seeds"]),
            "jobs": int(raw["jobs"]),
            "data": dict(raw["data"]),
            "policy": str(raw["policy"]),
            "evaluation": dict(raw["evaluation"]),
        }
        values.update({k: (tuple(v) if k in ("seeds", "grids") else v) for k, v in overrides.items() if v is not None})
        values["grids"] = tuple(dict.fromkeys(g for g in values.get("grids", ()) if g != MAIN_GRID))
        for grid in values["grids"]:
            if not (experiment / f"{grid}.yaml").is_file():
                raise FileNotFoundError(f"grid {grid!r}: {experiment / f'{grid}.yaml'} does not exist")
        return cls(experiment=experiment.resolve(), out=Path(out).resolve(), **values)

    def grid_points(self, grid: str) -> list[str]:
        """The point names of ``<experiment>/<grid>.yaml`` (a list of override mappings, each with ``_name``)."""
        points = yaml.safe_load((self.experiment / f"{grid}.yaml").read_text())
        return [str(point["_name"]) for point in points]

    def grpo_runs(self) -> dict[str, str]:
        """Each GRPO point of a seed, in order, and the grid whose sweep trains it: the first that holds it (the
        main grid, then the extra ones), as a later sweep skips a point an earlier one finished."""
        runs: dict[str, str] = {}
        for grid in (MAIN_GRID, *self.grids):
            for name in self.grid_points(grid):
                runs.setdefault(name, grid)
        return runs

    def grpo_policies(self) -> list[str]:
        """The GRPO runs of each seed: the main one, then every point of the extra grids, each once."""
        return list(self.grpo_runs())


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def data_flags(settings: Settings, seed: int, roots: dict[str, str] | None = None) -> list[str]:
    """The per-seed flags every stage's config takes: seeds and dataset roots."""
    roots = roots or {"revos": "revos", "refavs": "refavs"}
    flags = ["--seed_everything", str(seed), "--data.init_args.seed", str(seed)]
    for name, root in roots.items():
        flags += [f"--data.init_args.datasets.{name}.init_args.root", str(settings.data_dir / root)]
        flags += [f"--data.init_args.datasets.{name}.init_args.seed", str(seed)]
    return flags


def _resume(folder: Path) -> list[str]:
    last = folder / "checkpoints" / "last.ckpt"
    return ["--ckpt_path", str(last)] if last.is_file() else []


def _split_flags(settings: Settings, split: EvalSplit, out: Path, seed: int) -> list[str]:
    """The flags naming one evaluation split, its output folder and the data roots (the split's own root for its
    dataset)."""
    flags = ["--detail", str(settings.experiment / "detail.yaml")]
    flags += ["--dataset", split.dataset, "--split", split.split, "--output", str(out)]
    flags += [
        "--batch_size",
        str(settings.evaluation["batch_size"]),
        "--robustness",
        str(settings.evaluation["robustness"]),
    ]
    roots = {"revos": "revos", "refavs": "refavs", split.dataset: split.root}
    return flags + data_flags(settings, seed, roots)


def _evaluation(
    settings: Settings, scope: str, config: list[str], ckpt: Path | None, seed: int, out: Path
) -> list[list[str]]:
    """``evaluate run`` of one policy on every split of ``scope`` (:data:`SCOPES`)."""
    commands = []
    for name, split in SCOPES[scope].items():
        command = _python("omni_r1.evaluate", "run", *config)
        if ckpt is not None:
            command += ["--ckpt", str(ckpt)]
        command += ["--max_new_tokens", str(settings.evaluation["max_new_tokens"]), "--device", "cpu", "--overwrite"]
        commands.append(command + _split_flags(settings, split, out / name, seed))
    return commands


def _reference_evaluation(settings: Settings, scope: str, out: Path, spread: bool = False) -> list[list[str]]:
    """:mod:`omni_r1.mini_repro.reference_eval` on every split of ``scope``, read through the SFT config (its
    reference moments, or ``spread`` ones)."""
    config = ["--config", str(settings.experiment / "sft.yaml"), *(["--keyframes", "spread"] if spread else [])]
    return [
        _python(
            "omni_r1.mini_repro.reference_eval", *config, *_split_flags(settings, split, out / name, REFERENCE_SEED)
        )
        for name, split in SCOPES[scope].items()
    ]


def _constant_evaluation(settings: Settings, scope: str, out: Path) -> list[list[str]]:
    """Every constant answer of :data:`CONSTANTS` on the audio split of ``scope``."""
    split = SCOPES[scope]["audio"]
    config = ["--config", str(settings.experiment / "sft.yaml")]
    return [
        _python(
            "omni_r1.mini_repro.reference_eval",
            *config,
            "--constant",
            f"the {colour} shape",
            *_split_flags(settings, split, out / colour / "audio", REFERENCE_SEED),
        )
        for colour in CONSTANTS
    ]


def plan(settings: Settings) -> list[Job]:
    """Every job of the run, in the order they are preferred when several can start."""
    exp, jobs = settings.experiment, []
    evals = []
    for seed in settings.seeds:
        root = settings.out / f"seed{seed}"
        sft, grpo = root / "sft", root / "grpo"
        policy = settings.policy.format(seed=seed)
        sft_config = [
            "--config",
            str(exp / "sft.yaml"),
            "--model.init_args.policy.init_args.model_name_or_path",
            policy,
        ]

        first = root / "sft_referring"

        def fit_referring(seed: int = seed, first: Path = first, config: list[str] = sft_config) -> list[list[str]]:
            config = ["--config", str(exp / "sft_referring.yaml"), *config[2:]]
            command = _python("omni_r1.fit", *config, *data_flags(settings, seed, {"revos": "revos"}))
            command += ["--trainer.default_root_dir", str(first), *_resume(first)]
            saved = first / "logs" / "version_0" / "config.yaml"
            last = first / "checkpoints" / "last.ckpt"
            export = ["--ckpt", str(last), "--config", str(saved), "--out", str(first / "policy")]
            return [command, _python("omni_r1.export", *export)]

        def fit_sft(seed: int = seed, sft: Path = sft, first: Path = first) -> list[list[str]]:
            config = ["--config", str(exp / "sft.yaml")]
            config += ["--model.init_args.policy.init_args.model_name_or_path", str(first / "policy")]
            command = _python("omni_r1.fit", *config, *data_flags(settings, seed))
            return [command + ["--trainer.default_root_dir", str(sft), *_resume(sft)]]

        def export(sft: Path = sft) -> list[list[str]]:
            config = sft / "logs" / "version_0" / "config.yaml"
            best = sft / "checkpoints" / "best.ckpt"
            return [
                _python("omni_r1.export", "--ckpt", str(best), "--config", str(config), "--out", str(sft / "policy"))
            ]

        def sweep(seed: int = seed, sft: Path = sft, grpo: Path = grpo, grid: str = MAIN_GRID) -> list[list[str]]:
            command = _python("omni_r1.sweep", "--config", str(exp / "grpo.yaml"), "--grid", str(exp / f"{grid}.yaml"))
            command += ["--out", str(grpo), *data_flags(settings, seed)]
            return [command + ["--model.init_args.policy.init_args.model_name_or_path", str(sft / "policy")]]

        jobs.append(Job(f"sft_referring/seed{seed}", "SFT", first / "policy", fit_referring))
        jobs.append(Job(f"sft/seed{seed}", "SFT", sft, fit_sft, [f"sft_referring/seed{seed}"]))
        jobs.append(Job(f"export/seed{seed}", "export", sft / "policy", export, [f"sft/seed{seed}"]))
        # One sweep folder holds every point; an extra grid runs after the main one, so a point both hold (Table 4's
        # full reward, same overrides) is skipped by the sweep rather than trained twice at once.
        sweep_jobs = {MAIN_GRID: f"grpo/seed{seed}"}
        jobs.append(Job(sweep_jobs[MAIN_GRID], "GRPO", grpo / "main", sweep, [f"export/seed{seed}"]))
        for grid in settings.grids:  # one after the other: a seed's sweeps share the folder and its summary.csv
            previous = list(sweep_jobs.values())[-1]
            sweep_jobs[grid] = f"grpo-{grid}/seed{seed}"
            jobs.append(Job(sweep_jobs[grid], "GRPO", grpo / grid, partial(sweep, grid=grid), [previous]))
        best = sft / "checkpoints" / "best.ckpt"
        policies: list[tuple[str, list[str], Path | None, list[str]]] = [
            (UNTRAINED, sft_config, None, []),
            (SFT, sft_config, best, [f"sft/seed{seed}"]),
        ]
        for name, grid in settings.grpo_runs().items():
            run, trained_by = grpo / name, sweep_jobs[grid]
            policies.append(
                (name, ["--config", str(run / "run.yaml")], run / "checkpoints" / "last.ckpt", [trained_by])
            )
        for scope in SCOPES:
            for name, config, ckpt, deps in policies:
                folder = root / scope / name

                def commands(
                    scope: str = scope,
                    config: list[str] = config,
                    ckpt: Path | None = ckpt,
                    s: int = seed,
                    o: Path = folder,
                ) -> list[list[str]]:
                    return _evaluation(settings, scope, config, ckpt, s, o)

                evals.append(Job(f"{scope}/{name}/seed{seed}", "evaluation", folder, commands, deps, ok=(0, 1)))
    once: dict[str, Callable[[str, Path], list[list[str]]]] = {  # need no training: one job per scope
        "reference": partial(_reference_evaluation, settings),
        "reference_spread": partial(_reference_evaluation, settings, spread=True),
        "constant": partial(_constant_evaluation, settings),
    }
    for scope in SCOPES:
        for name, make in once.items():
            folder = settings.out / name / scope
            job = Job(f"{scope}/{name}", "evaluation", folder, partial(make, scope, folder), ok=(0, 1))
            evals.append(job)
    return jobs + evals


def policy_eval_dirs(settings: Settings, scope: str = "eval") -> dict[str, dict[int, Path]]:
    """Per policy (untrained, SFT, each GRPO subset), per seed, the folder its evaluations of ``scope``
    (:data:`SCOPES`) are in; the reference answers have one folder (under :data:`REFERENCE_SEED`), as they do not
    depend on a seed."""
    names = [UNTRAINED, SFT, *settings.grpo_policies()]
    dirs = {name: {seed: settings.out / f"seed{seed}" / scope / name for seed in settings.seeds} for name in names}
    dirs[REFERENCE] = {REFERENCE_SEED: settings.out / "reference" / scope}
    dirs[SPREAD] = {REFERENCE_SEED: settings.out / "reference_spread" / scope}
    return dirs


def write_marker(job: Job, seconds: float, cpu_seconds: float | None = None) -> None:
    """``DONE.json``: the job finished, in ``seconds`` of wall time and ``cpu_seconds`` of CPU time."""
    job.folder.mkdir(parents=True, exist_ok=True)
    record = {"job": job.name, "stage": job.stage, "seconds": round(seconds, 1)}
    if cpu_seconds is not None:
        record["cpu_seconds"] = round(cpu_seconds, 1)
    job.marker.write_text(json.dumps(record) + "\n")
