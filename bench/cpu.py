"""Where a benchmark's CPU went: seconds of CPU per process over a window,
against the machine's cores, so a figure can say whether the machine had any
left to give.

Read from the kernel's own accounting (psutil), not sampled: it adds up the
time every thread of each process spent on a core, user and system."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class CpuShare:
    name: str
    cpu_s: float
    wall_s: float

    @property
    def cores(self) -> float:
        """Mean cores the process kept busy over the window."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def us_per(self, count: int) -> float:
        return self.cpu_s * 1e6 / count if count else 0.0


class CpuMeter:
    """``start()`` then ``stop()`` around the window; the processes are named
    by pid (this process by default); a process that ended in between counts
    what it had used when last seen."""

    def __init__(self, processes: dict[str, int | None] | None = None) -> None:
        named = {"bench (load + reader)": os.getpid()} | (processes or {})
        self._processes = {
            name: psutil.Process(pid) for name, pid in named.items() if pid is not None
        }
        self._start: dict[str, float] = {}
        self._start_idle = 0.0
        self._t0 = 0.0
        self.shares: list[CpuShare] = []
        self.idle_cores = 0.0

    @staticmethod
    def _used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            return float("nan")
        return float(times.user + times.system)

    def start(self) -> None:
        self._start = {name: self._used(p) for name, p in self._processes.items()}
        self._start_idle = float(psutil.cpu_times().idle)
        self._t0 = time.monotonic()

    def stop(self) -> list[CpuShare]:
        wall = time.monotonic() - self._t0
        self.shares = [
            CpuShare(name, self._used(p) - self._start[name], wall)
            for name, p in self._processes.items()
        ]
        self.idle_cores = (float(psutil.cpu_times().idle) - self._start_idle) / wall
        return self.shares

    def report(self, per: int, what: str) -> str:
        """The window's table: each process's mean cores and CPU per ``what``."""
        cores = psutil.cpu_count() or 1
        wall = self.shares[0].wall_s if self.shares else 0.0
        lines = [f"CPU over {wall:.1f} s on {cores} cores ({per:,} {what}):"]
        for share in self.shares:
            lines.append(
                f"  {share.name:<24} {share.cores:5.2f} cores  "
                f"{share.us_per(per):7.1f} µs per {what.rstrip('s')}"
            )
        busy = sum(s.cores for s in self.shares)
        lines.append(
            f"  {'all of the above':<24} {busy:5.2f} cores; machine idle {self.idle_cores:.2f}"
        )
        return "\n".join(lines)
