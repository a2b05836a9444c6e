"""Benchmark: one Redis node versus a three-master Redis Cluster, same consumers.

    .venv/bin/python bench/cluster.py [--entries 30000] [--consumers 4] [--partitions 6]

Three set-ups, each with fresh private servers on loopback:

  single/P=1   one redis-server, one plain stream (today's deployment)
  single/P=6   one redis-server, six partitions (the partition layer's own cost)
  cluster/P=6  three cluster masters, six partitions spread over them

For each: the producer sends every entry (PartitionedProducer / StreamProducer,
batches of 500) and then ``--consumers`` ``quotes-consumer --burst`` processes
drain the stream into one SQLite file (``--sink`` to change). Prints a table
and writes ``bench/results/cluster.json``. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlib import (  # noqa: E402
    Envelope,
    PartitionedProducer,
    StreamProducer,
    client_from_url,
    fingerprint,
)
from streamlib.testing import (  # noqa: E402
    LocalCluster,
    LocalRedis,
)

CONSUMER = str(Path(sys.executable).with_name("quotes-consumer"))


def envelope(n: int) -> Envelope:
    text, author = f"Benchmark quote {n}.", f"Author {n % 50}"
    data = {"text": text, "author": author, "tags": ["bench"], "url": "http://x/"}
    return Envelope(type="quote", key=fingerprint(text, author), data=data)


def run_case(name: str, url: str, partitions: int, args: argparse.Namespace, tmp: Path) -> dict:
    client = client_from_url(url)
    items = [envelope(n) for n in range(args.entries)]
    start = time.monotonic()
    if partitions > 1:
        PartitionedProducer(client, "bench", partitions, batch_size=500).send_many(items)
    else:
        StreamProducer(client, "bench", batch_size=500).send_many(items)
    produce_s = time.monotonic() - start
    client.close()

    sink = args.sink or f"sqlite:///{tmp / (name.replace('/', '-') + '.db')}"
    command = [CONSUMER, "--redis-url", url, "--stream", "bench", "--group", "bench"]
    command += ["--partitions", str(partitions), "--sink", sink, "--burst"]
    command += ["--progress-interval", "0", "--log-level", "WARNING"]
    start = time.monotonic()
    procs = [subprocess.Popen([*command, "--consumer", f"c{i}"]) for i in range(args.consumers)]
    codes = [p.wait(timeout=900) for p in procs]
    consume_s = time.monotonic() - start
    stored = None
    if sink.startswith("sqlite:///"):
        with sqlite3.connect(sink.removeprefix("sqlite:///")) as db:
            stored = db.execute("SELECT count(*) FROM quotes").fetchone()[0]
    return {
        "case": name,
        "partitions": partitions,
        "entries": args.entries,
        "consumers": args.consumers,
        "produce_s": round(produce_s, 3),
        "produce_per_s": round(args.entries / produce_s),
        "consume_s": round(consume_s, 3),
        "consume_per_s": round(args.entries / consume_s),
        "stored": stored,
        "exit_codes": codes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=30_000)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--sink", default=None, help="default: a fresh SQLite file per case")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster.json"))
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="qs-bench-cluster-") as folder:
        tmp = Path(folder)
        with LocalRedis(data_dir=tmp / "single") as single:
            results.append(run_case("single/P=1", single.url, 1, args, tmp))
            single.stop()
        with LocalRedis(data_dir=tmp / "single6") as single:
            results.append(
                run_case(f"single/P={args.partitions}", single.url, args.partitions, args, tmp)
            )
        with LocalCluster(tmp / "cluster") as cluster:
            results.append(
                run_case(f"cluster/P={args.partitions}", cluster.url, args.partitions, args, tmp)
            )

    header = (
        f"{'case':<14} {'produce/s':>10} {'consume/s':>10} {'consume s':>10} {'stored':>8}"
        "  exit codes"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['case']:<14} {r['produce_per_s']:>10} {r['consume_per_s']:>10} "
            f"{r['consume_s']:>10} {r['stored']!s:>8}  {r['exit_codes']}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
