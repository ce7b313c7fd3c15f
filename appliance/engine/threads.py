"""How many threads llama.cpp may use.

llama.cpp's worker threads spin while they wait for each other. On an oversubscribed machine throughput collapses
(measured on 2 cores: about 150 → under 1 token/s when another heavy process runs). So the thread count is taken
from the cores that are actually free right now, never from the core count alone. ``APPLIANCE_THREADS`` overrides.
"""

from __future__ import annotations

import os
import time


def _cpu_times() -> tuple[float, float]:
    with open("/proc/stat", encoding="ascii") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return idle, sum(fields)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_cores(sample_s: float = 0.15) -> int:
    """Cores idle over a short sample (at least 1)."""
    n = usable_cores()
    try:
        idle0, total0 = _cpu_times()
        time.sleep(sample_s)
        idle1, total1 = _cpu_times()
    except OSError:
        return n
    total = total1 - total0
    if total <= 0:
        return n
    idle_cores = (idle1 - idle0) / total * (os.cpu_count() or n)
    return max(1, min(n, int(idle_cores + 0.35)))


def choose_threads(requested: int | None = None) -> int:
    """Explicit request, else $APPLIANCE_THREADS, else the free cores."""
    if requested and requested > 0:
        return requested
    env = os.environ.get("APPLIANCE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return free_cores()
