"""Worker processes that start their measured work together, behind a barrier.

Each worker function does its set-up (imports, connections), calls ``gate()``
to wait for the others and the parent, then measures its own window with a
``Stopwatch`` and returns a plain dict. Processes are spawned, not forked, so
no client or file handle leaks from the runner into a worker.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from typing import Any

import psutil

_CTX = mp.get_context("spawn")

Gate = Callable[[], None]
WorkerFunc = Callable[..., dict[str, Any]]
#: Runs in a thread of the parent while the workers run; stop when the event is set.
Monitor = Callable[[Sequence[BaseProcess], threading.Event], None]


class Stopwatch:
    """Wall (monotonic, comparable across processes on Linux) and CPU time of this process."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.cpu0 = time.process_time()

    def report(self, count: int, **extra: Any) -> dict[str, Any]:
        """The worker's result: window, CPU seconds, entries done, extras."""
        return {
            "start": self.start,
            "end": time.monotonic(),
            "cpu_s": time.process_time() - self.cpu0,
            "count": count,
            **extra,
        }


def _entry(
    func: WorkerFunc, args: tuple[Any, ...], barrier: Barrier, results: Any, index: int
) -> None:
    def gate() -> None:
        barrier.wait(timeout=120)

    try:
        results.put((index, func(*args, gate=gate), None))
    except BaseException:
        barrier.abort()
        results.put((index, None, traceback.format_exc()))


class WorkerError(RuntimeError):
    """A worker process failed; the message holds its traceback."""


class CpuMeter:
    """CPU seconds (user + system) that some processes use from ``start()`` on.

    The runner measures redis-server with it: the one node, or each master of
    a cluster.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.procs = [psutil.Process(pid) for pid in pids]
        self.start()

    def start(self) -> None:
        """Take the reference reading."""
        self.base = [_cpu(p) for p in self.procs]

    def used(self) -> list[float]:
        """CPU seconds of each process since ``start()``, in the order of the pids."""
        return [_cpu(p) - b for p, b in zip(self.procs, self.base, strict=True)]


def run_together(
    workers: Sequence[tuple[WorkerFunc, tuple[Any, ...]]],
    *,
    timeout: float,
    redis_pids: Sequence[int] = (),
    monitor: Monitor | None = None,
) -> tuple[list[dict[str, Any]], list[float]]:
    """Run ``workers`` (function, args) in processes.

    Returns their reports and the CPU seconds each of ``redis_pids`` used
    while they ran (empty without pids).
    """
    barrier = _CTX.Barrier(len(workers) + 1)
    results = _CTX.Queue()
    procs = [
        _CTX.Process(target=_entry, args=(func, args, barrier, results, i), daemon=True)
        for i, (func, args) in enumerate(workers)
    ]
    for p in procs:
        p.start()
    stop_monitor = threading.Event()
    watcher: threading.Thread | None = None
    try:
        meter = CpuMeter(redis_pids)
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            _collect(results, len(procs), timeout=10)  # raises the worker's traceback
            raise WorkerError("a worker broke the start barrier") from None
        meter.start()
        if monitor is not None:
            watcher = threading.Thread(target=monitor, args=(procs, stop_monitor), daemon=True)
            watcher.start()
        reports = _collect(results, len(procs), timeout)
        redis_cpu = meter.used()
    finally:
        stop_monitor.set()
        if watcher is not None:
            watcher.join()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    return reports, redis_cpu


def _collect(results: Any, n: int, timeout: float) -> list[dict[str, Any]]:
    reports: list[dict[str, Any] | None] = [None] * n
    deadline = time.monotonic() + timeout
    for _ in range(n):
        try:
            index, report, error = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkerError(f"workers did not finish within {timeout:g}s") from None
        if error is not None:
            raise WorkerError(error)
        reports[index] = report
    return [r for r in reports if r is not None]


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine since boot, all cores, every process.

    Busy is all but idle and I/O wait; time the hypervisor gave to other
    guests (steal) counts as busy: this machine could not use it.
    """
    t = psutil.cpu_times()
    return float(
        sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))
    )


def window(reports: Sequence[dict[str, Any]]) -> float:
    """Seconds from the first worker's start to the last one's end."""
    return max(r["end"] for r in reports) - min(r["start"] for r in reports)
