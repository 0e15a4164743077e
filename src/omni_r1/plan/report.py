"""Human-readable sizes and the planner's table."""

from __future__ import annotations

import re

from omni_r1.plan.estimate import PHASES, MemoryPlan

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "k": 2**10,
    "kib": 2**10,
    "m": 2**20,
    "mib": 2**20,
    "g": 2**30,
    "gib": 2**30,
    "t": 2**40,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes of ``"24GiB"``, ``"80G"`` (binary, like ``nvidia-smi``), ``"24GB"`` (decimal) or a plain number.

    Raises:
        ValueError: anything else, naming the accepted forms.
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"memory size {text!r}: expected a number with an optional unit, e.g. 24GiB, 80G, 24GB")
    return int(float(match.group(1)) * _UNITS[unit])


def human(value: int) -> str:
    """``value`` bytes in the largest binary unit that keeps it at least 1 (``"23.41 GiB"``, ``"1.3 MiB"``)."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:.2f} {unit}"
    return f"{value} B"


def render(plan: MemoryPlan, gpu_memory: int | None, source: str) -> str:
    """The breakdown table, the peaks and the ``fits: yes/no`` verdict."""
    s, st = plan.settings, plan.settings.strategy
    sharding = st.world_size > 1 and (st.shard_params or st.shard_grads or st.shard_optimizer)
    head = "per GPU" + (f" ({st.world_size} shards)" if sharding else "")
    width = max(len(i.name) for i in plan.items) + 2
    lines = [
        f"memory plan: {source}",
        f"  {s.module} on {s.model_name_or_path} ({'4-bit ' if s.quantization else ''}{s.dtype}"
        f"{', LoRA' if s.lora else ''}), {s.prompts_per_step} prompt(s) x {s.num_generations} per step, "
        f"strategy {st.name}, world size {st.world_size}, precision {s.precision}",
        "",
        f"{'phase':<11} {'item':<{width}} {'single GPU':>12}" + (f"  {head:>20}" if sharding else ""),
    ]
    for phase in PHASES:
        for item in (i for i in plan.items if i.phase == phase):
            row = f"{phase:<11} {item.name:<{width}} {human(item.bytes):>12}"
            lines.append(row + (f"  {human(item.sharded_bytes):>20}" if sharding else ""))
    peak = f"{'peak':<11} {'persistent + ' + plan.peak_phase() + ' + overhead':<{width}} {human(plan.peak()):>12}"
    lines += ["", peak + (f"  {human(plan.peak(sharded=True)):>20}" if sharding else "")]
    lines += [f"note: {note}" for note in plan.notes]
    if gpu_memory is not None:
        if sharding:
            verdict = "yes" if plan.peak() <= gpu_memory else "no"
            lines.append(f"fits before sharding: {verdict}")
        fits = plan.peak(sharded=True) <= gpu_memory
        lines.append(f"fits: {'yes' if fits else 'no'} (per-GPU peak {human(plan.peak(True))} of {human(gpu_memory)})")
    return "\n".join(lines)
