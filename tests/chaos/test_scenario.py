"""The chaos scenario: faults at seeded random moments, and nothing is lost.

A persistent Redis, a paced producer and four ``quotes-consumer`` replicas
into one sink (a SQLite file, or the scenario's own PostgreSQL server: the
scenario runs once with each); meanwhile the injector SIGKILLs replicas
(replacing them under the same or a new name), SIGSTOPs one past min-idle,
restarts Redis on its AOF, shuts it down for seconds, kills the producer
mid-batch and writes poison entries; with PostgreSQL it also crashes the
database for longer than max-deliveries x min-idle while quotes arrive.
Then: every key stored exactly once, nothing pending, lag 0, only the poison
in the dead letters (an outage dead-letters nothing), and every replica that
was not killed exits 0.

Rerun a seed with ``--chaos-seed N`` (or ``CHAOS_SEED=N``); a larger run
with ``--chaos-size 200000`` (or ``CHAOS_SIZE``).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import pytest

from streamlib import parse_dead_letter
from tests.chaos.conftest import REPORT_LINES
from tests.chaos.world import (
    GROUP,
    POISON_REASON,
    STREAM,
    ChaosWorld,
    PostgresStore,
    SQLiteStore,
    Store,
    schedule,
)
from tests.support.helpers import quote, wait_for
from tests.support.postgres import PostgresUnavailable

HERE = Path(__file__).parent
IN_CI = bool(os.environ.get("CI"))
#: Producer pace: the CI size is produced over about 25 s, while the faults land.
RATE = 800.0


def make_store(kind: str, tmp_path: Path) -> Store:
    """The sink of one run; PostgreSQL needs its server binaries (skipped locally, failed in CI)."""
    if kind == "sqlite":
        return SQLiteStore(tmp_path)
    try:
        return PostgresStore()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"CI needs this: {exc}")
        pytest.skip(str(exc))


@pytest.mark.chaos
@pytest.mark.timeout(900)
@pytest.mark.parametrize("sink", ["sqlite", "postgresql"])
def test_nothing_is_lost_under_faults(
    chaos_seed: int, chaos_size: int, tmp_path: Path, sink: str
) -> None:
    started = f"chaos {sink} seed {chaos_seed} size {chaos_size} (rerun: --chaos-seed {chaos_seed})"
    print(started)
    REPORT_LINES.append(started)  # in the summary even if the run fails
    store = make_store(sink, tmp_path)
    rng = random.Random(chaos_seed)
    produce_seconds = chaos_size / RATE
    faults = schedule(rng, kills=max(4, int(produce_seconds // 6)), extra=store.faults)
    # Fit the faults (gaps, SIGSTOPs, outages) into 80 % of the production
    # window, so that they land while entries flow.
    busy = sum(f.duration for f in faults)
    stretch = max(0.3, (0.8 * produce_seconds - busy) / sum(f.delay for f in faults))
    world = ChaosWorld(tmp_path, size=chaos_size, rate=RATE, store=store)
    context = f"{sink}, seed {chaos_seed}, size {chaos_size}"
    try:
        world.start()
        began = time.monotonic()
        for fault in faults:
            time.sleep(fault.delay * stretch)  # the experiment's timing, drawn from the seed
            world.inject(fault)
            assert not world.crashed(), f"{context}: " + "\n".join(world.crashed())
        last_fault = time.monotonic()

        def drained() -> bool:
            assert not world.crashed(), f"{context}: " + "\n".join(world.crashed())
            return world.drained()

        try:
            wait_for(drained, timeout=300, interval=0.05, what="the producer and the group")
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}\n{world.logs_tail()}") from None
        drain_seconds = time.monotonic() - last_fault
        duration = time.monotonic() - began

        live = [r for r in world.every if r not in world.killed]
        for replica in live:  # a replacement started last may still be importing
            replica.expect(
                lambda r=replica: "joining group" in r.log(), timeout=60, what="the replica to run"
            )
        for replica in live:
            replica.terminate()
        statuses = [r.wait(60) for r in live]
        assert statuses == [0] * len(live), f"{context}: {statuses}\n{world.logs_tail()}"

        report = check_and_count(world, chaos_seed, chaos_size)
    finally:
        world.close()
    report |= {
        "faults": dict(sorted(world.injected.items())),
        "faults_mid_batch": dict(sorted(world.mid_batch.items())),
        "faults_mid_commit": dict(sorted(world.mid_commit.items())),
        "faults_total": sum(world.injected.values()),
        "drain_seconds_after_last_fault": round(drain_seconds, 1),
        "duration_seconds": round(duration, 1),
    }
    write_report(report, tmp_path)


def check_and_count(world: ChaosWorld, seed: int, size: int) -> dict[str, object]:
    """The end assertions; returns the scenario's numbers."""
    context = f"{world.store.kind}, seed {seed}, size {size}"
    expected = {quote(n).key for n in range(size)}
    stored = world.store.keys()
    assert len(stored) == len(set(stored)), f"{context}: a key stored twice"
    missing, extra = expected - set(stored), set(stored) - expected
    assert not missing and not extra, f"{context}: {len(missing)} missing, {len(extra)} extra"

    info = world.retry(lambda c: c.xinfo_groups(STREAM))
    ours = next(g for g in info if g["name"] == GROUP.encode())
    assert (ours["pending"], ours["lag"]) == (0, 0), f"{context}: {ours}"

    dead = [parse_dead_letter(i, f) for i, f in world.retry(lambda c: c.xrange(f"{STREAM}:dead"))]
    assert sorted(d.orig_id for d in dead) == sorted(world.poison_ids), (
        f"{context}: dead letters {[(d.orig_id, d.reason) for d in dead]}"
    )
    assert {d.reason for d in dead} <= {POISON_REASON}

    # The sink outage was met: replicas held their batches (and said so once).
    held = sum("sink down" in r.log() for r in world.every)
    if world.injected["postgres_outage"]:
        assert held >= 1, f"{context}: no replica met the PostgreSQL outage"

    entries = world.retry(lambda c: c.xlen(STREAM))
    stats = world.replica_stats()
    handled = sum(s.get("handled", 0) for s in stats)
    return {
        "sink": world.store.kind,
        "seed": seed,
        "size": size,
        "replicas_that_held_through_a_sink_outage": held,
        "entries": entries,
        "keys_stored": len(stored),
        "producer_resent": entries - size - len(world.poison_ids),
        "poison": len(world.poison_ids),
        "dead_letters": len(dead),
        "replicas_started": len(world.every),
        "replicas_killed": len(world.killed),
        # Killed replicas count up to their last progress line (1 s): lower bounds.
        # Redis 7.0 may lose the group's read counter in an AOF reload (nil).
        "entries_read_after_restarts": ours["entries-read"],
        "redeliveries_observed": sum(s.get("redelivered", 0) for s in stats),
        "reclaimed": sum(s.get("reclaimed", 0) for s in stats),
        # Upserts that hit an existing key: at least every re-sent entry (each
        # acked, so stored), and at least what the replicas' counters show.
        "duplicates_suppressed_by_sink": max(
            handled - len(stored), entries - size - len(world.poison_ids)
        ),
    }


def write_report(report: dict[str, object], tmp_path: Path) -> None:
    """One line for the terminal, and the JSON in the tmp dir and ``last-run-<sink>.json``."""
    text = json.dumps(report, indent=2)
    path = tmp_path / "chaos-report.json"
    path.write_text(text)
    (HERE / f"last-run-{report['sink']}.json").write_text(text)
    line = (
        f"chaos sink={report['sink']} seed={report['seed']} entries={report['entries']} "
        f"keys={report['keys_stored']} "
        f"faults={report['faults_total']} {report['faults']} "
        f"mid_batch={report['faults_mid_batch']} mid_commit={report['faults_mid_commit']} "
        f"redeliveries>={report['redeliveries_observed']} "
        f"duplicates_suppressed>={report['duplicates_suppressed_by_sink']} "
        f"drain_after_last_fault={report['drain_seconds_after_last_fault']}s "
        f"total={report['duration_seconds']}s json={path}"
    )
    print(line)
    REPORT_LINES.append(line)
