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
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS, not the session's
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0  # ru_maxrss is in KiB on Linux


def measure(cmd: Sequence[str], runs: int = 5, cwd: str | None = None) -> Measurement:
    walls, rss = zip(*(run_once(cmd, cwd) for _ in range(runs)), strict=True)
    return Measurement(statistics.median(walls), statistics.median(rss), runs)
