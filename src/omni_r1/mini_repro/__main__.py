"""``python -m omni_r1.mini_repro run|report``: the paper's claim in miniature, on a CPU.

    python -m omni_r1.mini_repro run [--out runs/mini_repro] [--seeds 0 1 2] [--jobs 2] [--table4] [--grid variants]
    python -m omni_r1.mini_repro report [--out runs/mini_repro] [--table4] [--grid variants]

``run`` writes the sounding-shapes task (:mod:`omni_r1.data.synthetic.sounding_layouts`) under ``OUT/data``, then
for every seed trains (b) SFT on its reference answers and (c) GRPO from SFT's best checkpoint with the
hierarchical reward and the weight-free Detail system in the loop, and evaluates (a) the untrained policy, (b) and
(c) on the held-out splits and on in-distribution ones (see :mod:`omni_r1.mini_repro.plan`; every stage is one of
the kit's own commands), next to the reference answers (the ceiling). ``--table4`` adds the reward-subset runs of
Table 4 and ``--grid NAME`` the points of any other grid of the experiment folder (``variants``: GRPO settings tried
besides the main one). Both write, under ``OUT``: ``table.md``, ``chart.png`` and ``chart_seen.png`` (Tables 1-2
in miniature: mean ± 95 % interval over seeds, held out and in distribution), ``results.json`` and
``results_seen.json`` (every figure of every seed) and per extra grid ``NAME.md``, ``NAME.png`` and
``NAME_seen.png`` (``table4.md`` ...), each grid's points beside SFT and the main GRPO run.
A stopped run started again skips what finished and resumes the stage it stopped in from its checkpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

from omni_r1.mini_repro.plan import (
    CONSTANTS,
    MAIN_GRPO,
    REFERENCE,
    SCOPES,
    SFT,
    SPREAD,
    UNTRAINED,
    Settings,
    plan,
    policy_eval_dirs,
)
from omni_r1.mini_repro.report import bar_chart, markdown_table, ordering, paired, summarise
from omni_r1.mini_repro.results import policy_figures

GRPO_LABEL = "SFT→GRPO"
REFERENCE_LABEL = "reference answers (what SFT imitates)"  # not a policy: the ground truth's rewrite through S2
SPREAD_LABEL = "references, K0 moments spread over the visible frames"
TIMINGS = "timings.json"
GRID_TITLES = {  # the heading of an extra grid's table; another grid is headed by its name
    "table4": "Table 4 in miniature",
    "variants": "GRPO variants (tried besides the main run; reported, not selected)",
}


def prepare(settings: Settings) -> None:
    """Write the task's data once and build each seed's tiny model, before jobs run side by side."""
    from omni_r1.data.synthetic.sounding_layouts import write_sounding_task
    from omni_r1.models.hub import resolve_pretrained

    write_sounding_task(settings.data_dir, **settings.data)
    for seed in settings.seeds:
        resolve_pretrained(settings.policy.format(seed=seed))


def _figures(settings: Settings, scope: str = "eval") -> dict[str, dict[int, dict[str, float]]]:
    """Per policy, per seed, the figures of every finished evaluation of ``scope`` (see :data:`SCOPES`)."""
    splits = SCOPES[scope]
    out: dict[str, dict[int, dict[str, float]]] = {}
    for policy, folders in policy_eval_dirs(settings, scope).items():
        for seed, folder in folders.items():
            if all((folder / name / "scores.json").is_file() for name in splits):
                out.setdefault(policy, {})[seed] = policy_figures(folder, settings.data_dir, splits)
    return out


def best_constant(settings: Settings, scope: str) -> tuple[str, float] | None:
    """The constant answer (one description for every audio prompt) with the highest audio J&F on ``scope``'s
    audio split, and that J&F; ``None`` before those evaluations ran."""
    scores = {}
    for colour in CONSTANTS:
        path = settings.out / "constant" / scope / colour / "audio" / "scores.json"
        if path.is_file():
            scores[f"the {colour} shape"] = float(json.loads(path.read_text())["JF"])
    if not scores:
        return None
    name = max(scores, key=scores.__getitem__)
    return name, scores[name]


def _policies_table(
    settings: Settings, figures: dict[str, dict[int, dict[str, float]]], title: str, scope: str = "eval"
) -> tuple[dict[str, Any], list[str]]:
    """The summary and the markdown lines of one Tables 1-2 table (untrained, SFT, SFT→GRPO, the ceiling)."""
    rows = (
        (UNTRAINED, UNTRAINED),
        (SFT, SFT),
        (MAIN_GRPO, GRPO_LABEL),
        (REFERENCE, REFERENCE_LABEL),
        (SPREAD, SPREAD_LABEL),
    )
    summary = summarise({label: list(figures[key].values()) for key, label in rows if key in figures})
    lines = [f"{title}; mean ± 95 % interval (Student t) over seeds {list(settings.seeds)}.", ""]
    lines.append(markdown_table(summary))
    order = [UNTRAINED, SFT, GRPO_LABEL]
    lines += [f"- {ordering(summary, order, key)}" for key in ("overall/JF", "referring/JF", "temporal/JF", "audio/JF")]
    if SFT in figures and MAIN_GRPO in figures:
        keys = ("overall/JF", "referring/JF", "temporal/JF", "audio/JF", "keyframes/hit")
        lines.append(f"- {GRPO_LABEL} − SFT, paired by seed: {paired(figures[SFT], figures[MAIN_GRPO], keys)}")
    constant = best_constant(settings, scope)
    if constant is not None:
        name, value = constant
        beats = {label: f"{summary[label]['audio/JF']}" for label in (SFT, GRPO_LABEL) if label in summary}
        lines.append(
            f"- best constant answer on the audio prompts ({name!r} for every prompt): audio J&F {value:.1f}; "
            + ", ".join(f"{label} {v}" for label, v in beats.items())
        )
    if REFERENCE_LABEL in summary:
        lines.append(
            f"- {REFERENCE_LABEL}: what the same Detail system and scoring give the answers SFT imitates (made from "
            f"the ground truth: the target's colour, on 1 to K0 frames where it is visible); {SPREAD_LABEL}: the same "
            "description with the moments a visibility-aware annotator could spread (not what SFT is taught)."
        )
    return summary, lines


def _stage_times(settings: Settings) -> dict[str, dict[str, float]]:
    """Per stage, the finished jobs' count, wall seconds and CPU seconds (from the jobs' markers)."""
    times: dict[str, dict[str, float]] = {}
    for marker in sorted(settings.out.glob("*/**/DONE.json")):
        record = json.loads(marker.read_text())
        if "stage" in record:
            stage = times.setdefault(record["stage"], {"jobs": 0, "wall": 0.0, "cpu": 0.0})
            stage["jobs"] += 1
            stage["wall"] += float(record["seconds"])
            stage["cpu"] += float(record.get("cpu_seconds", math.nan))
    return times


def _read_timings(settings: Settings) -> list[dict[str, Any]]:
    """Every ``run`` that finished a job, in order (a file holding one record, as older runs wrote, is one)."""
    path = settings.out / TIMINGS
    if not path.is_file():
        return []
    records = json.loads(path.read_text())
    return [records] if isinstance(records, dict) else list(records)


def write_report(settings: Settings) -> str:
    """Write ``table.md``, ``chart.png``, ``results.json`` (and Table 4's files); returns the markdown."""
    figures, seen = _figures(settings), _figures(settings, "eval_seen")
    (settings.out / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    (settings.out / "results_seen.json").write_text(json.dumps(seen, indent=2) + "\n")
    seen_summary, lines = _policies_table(
        settings, seen, "In distribution, the main table (new clips of the training pairs; no null split)", "eval_seen"
    )
    summary, held_lines = _policies_table(
        settings, figures, "Generalisation: held-out splits (new clips, colour/kind pairs training never shows)"
    )
    if figures:
        lines += ["", *held_lines]
    timings = _read_timings(settings)
    stage_times = _stage_times(settings)
    if stage_times:
        lines += ["", "| stage | jobs | wall s (sum) | CPU s (sum) |", "|---|---|---|---|"]
        for stage, t in sorted(stage_times.items()):
            cpu_text = "n/a" if math.isnan(t["cpu"]) else f"{t['cpu']:.0f}"
            lines.append(f"| {stage} | {t['jobs']:.0f} | {t['wall']:.0f} | {cpu_text} |")
        cpu = sum(t["cpu"] for t in stage_times.values())
        if not math.isnan(cpu):
            lines.append(f"\nCPU time of every job together: {cpu:.0f} s, i.e. {cpu / 2 / 60:.1f} min on 2 free cores.")
    for record in timings:
        what = ", ".join(["main", *record.get("grids", [])])
        lines.append(
            f"Run ({what}): {record['wall_seconds']:.0f} s wall time after set-up ({record['setup_seconds']:.0f} s), "
            f"{record['jobs']} jobs at once."
        )
    text = "\n".join(lines) + "\n"
    (settings.out / "table.md").write_text(text)
    if summary:
        bar_chart(summary, settings.out / "chart.png", "sounding shapes, held-out splits")
    if seen_summary:
        bar_chart(seen_summary, settings.out / "chart_seen.png", "sounding shapes, in distribution")
    for grid in settings.grids:
        parts = _grid_tables(settings, grid, figures, seen)
        (settings.out / f"{grid}.md").write_text("\n\n".join(parts) + "\n")
        text += "\n" + "\n\n".join(parts) + "\n"
    return text


def _grid_tables(
    settings: Settings,
    grid: str,
    figures: dict[str, dict[int, dict[str, float]]],
    seen: dict[str, dict[int, dict[str, float]]],
) -> list[str]:
    """An extra grid's tables (held out, in distribution) and charts: SFT (every point's start), the main GRPO run
    and the grid's points, in the grid's order."""
    title = GRID_TITLES.get(grid, grid)
    points = settings.grid_points(grid)
    rows = [SFT, *([] if MAIN_GRPO in points else [MAIN_GRPO]), *points]
    parts = []
    for scoped, suffix, where in ((figures, "", "held-out splits"), (seen, "_seen", "in distribution")):
        table = summarise({p: list(scoped[p].values()) for p in rows if p in scoped})
        parts.append(
            f"{title}, {where} (SFT: the start of every run)\n\n"
            + markdown_table(table, "reward" if grid == "table4" else "GRPO run")
        )
        if table:
            bar_chart(table, settings.out / f"{grid}{suffix}.png", f"{title}, {where}")
    return parts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m omni_r1.mini_repro", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("run", "run every stage not done yet, then report"), ("report", "tables only")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--out", default="runs/mini_repro", help="run folder (default: runs/mini_repro)")
        sub.add_argument("--experiment", default="experiments/mini_repro", help="folder of experiment.yaml")
        sub.add_argument("--seeds", type=int, nargs="+", help="seeds (default: experiment.yaml's)")
        sub.add_argument("--table4", action="store_true", help="also the reward subsets of Table 4 (--grid table4)")
        sub.add_argument(
            "--grid",
            action="append",
            default=[],
            help="also the GRPO points of EXPERIMENT/NAME.yaml (repeatable; e.g. variants)",
        )
        if name == "run":
            sub.add_argument("--jobs", type=int, help="jobs at once (default: experiment.yaml's)")
            sub.add_argument("--dry_run", action="store_true", help="list the jobs and their commands only")
    return parser


def main(args: list[str] | None = None) -> int:
    """Returns 0 when every job finished (or had finished before), 1 when some failed."""
    options = build_parser().parse_args(args)
    settings = Settings.read(
        options.experiment,
        options.out,
        seeds=options.seeds,
        jobs=getattr(options, "jobs", None),
        grids=[*(["table4"] if options.table4 else []), *options.grid],
    )
    if options.command == "report":
        print(write_report(settings))
        return 0
    jobs = plan(settings)
    if options.dry_run:
        for job in jobs:
            state = "done" if job.done else "to run"
            print(f"{job.name} [{state}] after {job.deps or 'nothing'}")
            if not job.done and not job.deps:
                for command in job.commands():
                    print("  " + " ".join(command))
        return 0
    from omni_r1.mini_repro.jobs import run_jobs

    settings.out.mkdir(parents=True, exist_ok=True)
    begin = time.monotonic()
    prepare(settings)
    setup = time.monotonic() - begin
    outcomes = run_jobs(jobs, settings.jobs, announce=lambda line: print(line, flush=True))
    wall = time.monotonic() - begin - setup
    if any(o.status == "finished" for o in outcomes):
        record = {"setup_seconds": round(setup, 1), "wall_seconds": round(wall, 1), "jobs": settings.jobs}
        record["grids"] = list(settings.grids)
        records = [*_read_timings(settings), record]  # a later run (Table 4 after the main one) adds its own
        (settings.out / TIMINGS).write_text(json.dumps(records, indent=2) + "\n")
    print(write_report(settings))
    failed = [o.job.name for o in outcomes if o.status in ("failed", "blocked")]
    if failed:
        print(f"not done: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
