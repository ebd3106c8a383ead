"""Wall time and peak resident memory of one benchmark step, and the machine they ran on.

Peak memory is the kernel's high-water mark of this process's resident set (VmHWM), reset before
each step by writing 5 to /proc/self/clear_refs (Linux 4.0+), so each step's figure is its own
peak, including what earlier steps left in memory that the step needs (its inputs). Where the
reset is not allowed, the figure is the process's peak so far (ru_maxrss) and says so.
No tracemalloc: it slows numpy-heavy code several times and misses memory LightGBM allocates.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import platform
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_gb() -> float:
    """Resident memory now (GB)."""
    kib = _status_kib("VmRSS")
    return (kib or 0) / 1024 / 1024


def reset_peak() -> bool:
    """Reset the resident high-water mark; False where the kernel does not allow it."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_gb() -> float:
    """Resident high-water mark since the last reset (GB); the process's peak without one."""
    kib = _status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024 / 1024


@dataclass(frozen=True)
class StepFigures:
    step: str
    seconds: float
    peak_gb: float  # resident high-water mark during the step
    start_gb: float  # resident memory when the step began (its inputs, what came before)
    peak_is_own: bool  # False: the reset was refused, peak_gb is the process's peak so far

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(step: str, work: Callable[[], T]) -> tuple[T, StepFigures]:
    """Run `work` once: its result and its wall time and memory."""
    gc.collect()
    start = rss_gb()
    own = reset_peak()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    return result, StepFigures(step, seconds, max(peak_gb(), start), start, own)


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores, memory, CPU model, Python, load at start."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kib / 1024 / 1024, 1),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def in_fresh_process(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in a freshly spawned process, so that its memory figures are its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(work, *args).result()


def growth(
    cost_small: float, cost_large: float, size_small: float, size_large: float
) -> float | None:
    """log(cost ratio) / log(size ratio): 1.0 is linear (None where it cannot be told)."""
    if min(cost_small, cost_large) <= 0 or size_small <= 0 or size_large == size_small:
        return None
    return math.log(cost_large / cost_small) / math.log(size_large / size_small)
