"""Running the jobs of :mod:`omni_r1.mini_repro.plan`: a few at a time, each after its dependencies.

Each job's commands run as subprocesses with one torch thread (``OMP_NUM_THREADS=1``): on a small shared CPU,
several single-threaded processes are much faster than one multi-threaded one, whose threads wait on each other.
A job's output goes to ``<folder>/job.log``; a failed job stops the jobs that need it, not the others.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import IO

from omni_r1.mini_repro.plan import Job, write_marker

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@dataclass
class Outcome:
    """What happened to one job: ``finished``, ``skipped`` (done before), ``failed`` or ``blocked`` (a dependency
    failed), with its wall time and, when it failed, the end of its log."""

    job: Job
    status: str
    seconds: float = 0.0
    error: str = ""


def _run(command: list[str], log: IO[str], env: dict[str, str]) -> tuple[int, float]:
    """Exit status and CPU seconds (user + system, the command's own and its children's) of one command."""
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def run_job(job: Job, env: dict[str, str]) -> Outcome:
    """Run ``job``'s commands in order; the marker (wall and CPU seconds) is written only when every one exited
    with an accepted status. CPU time tells what a job costs on a machine shared with other work."""
    job.folder.mkdir(parents=True, exist_ok=True)
    log = job.folder / "job.log"
    start, cpu = time.monotonic(), 0.0
    with log.open("a") as handle:
        for command in job.commands():
            handle.write("$ " + " ".join(command) + "\n")
            handle.flush()
            code, used = _run(command, handle, env)
            cpu += used
            if code not in job.ok:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
                return Outcome(job, "failed", time.monotonic() - start, f"exit status {code}; see {log}\n{tail}")
    seconds = time.monotonic() - start
    write_marker(job, seconds, cpu)
    return Outcome(job, "finished", seconds)


def run_jobs(jobs: list[Job], slots: int, announce=print) -> list[Outcome]:
    """Run every job not done yet, at most ``slots`` at once, each when its dependencies have finished."""
    env = {**os.environ, **SINGLE_THREAD}
    outcomes: dict[str, Outcome] = {job.name: Outcome(job, "skipped") for job in jobs if job.done}
    pending = [job for job in jobs if job.name not in outcomes]
    running: dict[Future, Job] = {}
    with ThreadPoolExecutor(max_workers=max(1, slots)) as pool:
        while pending or running:
            for job in list(pending):
                states = [outcomes[d].status if d in outcomes else None for d in job.deps]
                if any(s in ("failed", "blocked") for s in states):
                    outcomes[job.name] = Outcome(job, "blocked", error=f"needs {job.deps}")
                    pending.remove(job)
                elif all(s in ("finished", "skipped") for s in states) and len(running) < slots:
                    announce(f"start  {job.name}")
                    running[pool.submit(run_job, job, env)] = job
                    pending.remove(job)
            if not running:
                if pending:  # nothing can start: a dependency is missing from the plan
                    for job in pending:
                        outcomes[job.name] = Outcome(job, "blocked", error=f"unknown dependency in {job.deps}")
                    pending = []
                continue
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                outcome = future.result()
                outcomes[job.name] = outcome
                line = f"{outcome.status:6} {job.name} ({outcome.seconds:.0f} s)"
                announce(line + (f"\n{outcome.error}" if outcome.error else ""))
    return [outcomes[job.name] for job in jobs]
