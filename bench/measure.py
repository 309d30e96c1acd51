"""Run a command several times; report the median wall time and median peak memory (RSS) of the whole process."""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    wall_s: float  # median
    peak_rss_mb: float  # median
    runs: int


def run_once(cmd: Sequence[str], cwd: str | None = None) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_ENV)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS, not the session's
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


# Python as users run it: writing bytecode caches (a sandbox's PYTHONDONTWRITEBYTECODE=1 would make every run
# compile this project's sources again, ~0.15 s that no user pays)
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(cmd: Sequence[str], runs: int = 5, cwd: str | None = None) -> Measurement:
    run_once(cmd, cwd)  # warm-up, not counted: bytecode caches written, files in the page cache
    return _summary([run_once(cmd, cwd) for _ in range(runs)])


def measure_pair(a: Sequence[str], b: Sequence[str], runs: int = 5,
                 cwd: str | None = None) -> tuple[Measurement, Measurement]:
    """Two commands run alternately (a, b, a, b, ...), so that a change in the machine's load hits both alike;
    `a` runs first once more as the warm-up (b may read what a wrote)."""
    run_once(a, cwd)
    run_once(b, cwd)
    samples_a, samples_b = [], []
    for _ in range(runs):
        samples_a.append(run_once(a, cwd))
        samples_b.append(run_once(b, cwd))
    return _summary(samples_a), _summary(samples_b)


def _summary(samples: list[tuple[float, float]]) -> Measurement:
    walls, rss = zip(*samples, strict=True)
    return Measurement(statistics.median(walls), statistics.median(rss), len(samples))
