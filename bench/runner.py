"""Start a private Redis, run the chosen cases in order, hand the results to the report."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis

from . import machine, stats, workload
from .profiles import Profile
from .registry import CASES, CaseResult, Run, Skip

log = logging.getLogger("bench")


@dataclasses.dataclass
class Context:
    """What a case gets: the private Redis, the profile, a scratch folder."""

    server: LocalRedis
    client: redis.Redis
    profile: Profile
    scratch: Path
    _prefilled: dict[int, str] = dataclasses.field(default_factory=dict)
    _names: Any = dataclasses.field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        """The private Redis's URL."""
        return self.server.url

    @property
    def redis_pids(self) -> list[int]:
        """redis-server's pid (none if it is not running), to measure its CPU."""
        return [self.server.process.pid] if self.server.process else []

    def name(self, prefix: str) -> str:
        """A key or group name not used before in this run."""
        return f"bench:{prefix}:{next(self._names)}"

    def prefilled(self, count: int) -> str:
        """A stream holding ``count`` envelopes, filled once and shared by read-only cases."""
        if count not in self._prefilled:
            stream = self.name(f"prefilled-{count}")
            t0 = time.monotonic()
            workload.prefill(self.client, stream, count)
            log.info("pre-filled %s with %d entries in %.1fs", stream, count, time.monotonic() - t0)
            self._prefilled[count] = stream
        return self._prefilled[count]

    def release(self, count: int) -> None:
        """Delete the pre-filled stream of ``count`` entries (to free Redis's memory)."""
        stream = self._prefilled.pop(count, None)
        if stream is not None:
            self.drop(stream)

    def drop(self, *keys: str) -> None:
        """Delete keys a case made (streams, lists)."""
        if keys:
            self.client.delete(*keys)


def measure(
    runs: Sequence[Run],
    *,
    name: str,
    case: str,
    kind: str,
    params: dict[str, Any] | None = None,
    note: str = "",
) -> CaseResult:
    """Fold repeated ``runs`` into one result line."""
    latencies = [x for r in runs for x in r.latencies_ms]
    redis_cpu = [[100 * s / r.seconds for s in r.redis_cpu_s] for r in runs if r.redis_cpu_s]
    extra: dict[str, Any] = {}
    for r in runs:
        for k, v in r.extra.items():
            extra.setdefault(k, []).append(v)
    return CaseResult(
        name=name,
        case=case,
        kind=kind,
        messages=runs[0].messages,
        runs=len(runs),
        msgs_per_s=stats.spread([r.rate for r in runs]),
        latency_ms=stats.latency_summary(latencies),
        cpu_pct=statistics.median(100 * r.cpu_s / r.seconds for r in runs),
        redis_cpu_pct=statistics.median(sum(n) for n in redis_cpu) if redis_cpu else None,
        redis_cpu_pct_per_node=[statistics.median(n) for n in zip(*redis_cpu, strict=True)]
        if redis_cpu
        else None,
        params=params or {},
        extra=extra,
        note=note,
    )


def repeat(times: int, once: Callable[[], Run], label: str) -> list[Run]:
    """Run ``once`` ``times`` times, logging each rate."""
    runs = []
    for i in range(times):
        run = once()
        log.info("  %s run %d/%d: %.0f msgs/s", label, i + 1, times, run.rate)
        runs.append(run)
    return runs


@dataclasses.dataclass
class Outcome:
    """Everything a run produced, for the report."""

    meta: dict[str, Any]
    results: list[CaseResult]
    skipped: dict[str, str]


def run(profile: Profile, only: Sequence[str] = ()) -> Outcome:
    """Run the cases (all, or those whose key starts with one of ``only``)."""
    from . import cases  # noqa: F401 - registers the cases

    chosen = sorted(
        (c for c in CASES.values() if not only or any(c.key.startswith(o) for o in only)),
        key=lambda c: c.order,
    )
    results: list[CaseResult] = []
    skipped: dict[str, str] = {}
    started = time.time()
    with LocalRedis() as server, tempfile.TemporaryDirectory(prefix="qs-bench-") as tmp:
        client = client_from_url(server.url)
        ctx = Context(server=server, client=client, profile=profile, scratch=Path(tmp))
        meta = machine.describe(client)
        for spec in chosen:
            log.info("case %s: %s", spec.key, spec.title)
            t0 = time.monotonic()
            try:
                results.extend(spec.func(ctx))
            except Skip as exc:
                skipped[spec.key] = str(exc)
                log.warning("case %s skipped: %s", spec.key, exc)
            except Exception as exc:  # one broken case must not lose the others
                skipped[spec.key] = f"failed: {type(exc).__name__}: {exc}"
                log.error("case %s failed:\n%s", spec.key, traceback.format_exc())
            log.info("case %s took %.1fs", spec.key, time.monotonic() - t0)
        client.close()
    meta.update(
        profile=dataclasses.asdict(profile),
        started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        seconds=round(time.time() - started, 1),
        loadavg_end=os.getloadavg(),
    )
    return Outcome(meta=meta, results=results, skipped=skipped)
