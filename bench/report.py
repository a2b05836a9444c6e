"""Write a run's results: ``latest.json``, ``latest.md`` (table and targets), ``latest.png``."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .registry import CaseResult
from .runner import Outcome


def find(results: list[CaseResult], case: str, **params: Any) -> CaseResult | None:
    """The result of ``case`` whose params include ``params``."""
    for r in results:
        if r.case == case and all(r.params.get(k) == v for k, v in params.items()):
            return r
    return None


def _rate(r: CaseResult | None) -> float | None:
    return None if r is None else r.msgs_per_s["median"]


def _lat(r: CaseResult | None, key: str) -> float | None:
    return None if r is None or r.latency_ms is None else r.latency_ms[key]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def _vs_loop(r: CaseResult | None) -> float | None:
    """A case's rate over the hand-tuned loop's measured just before each run (median).

    Targets compare cases through it, not through the ``raw`` case's rows:
    the host's speed moves within a run, and the ``raw`` case ran minutes
    earlier. ``None`` if the case has no such measurement.
    """
    if r is None or not r.extra.get("vs_loop"):
        return None
    return float(statistics.median(r.extra["vs_loop"]))


#: The hand-tuned loop's rate (one process, msgs/s) on the host the absolute
#: targets were set on: a sink's rate over the loop's times this is its rate
#: at that speed. The sinks' targets are about the code, not the host.
REFERENCE_LOOP = 230_000


def _at_reference_speed(r: CaseResult | None) -> float | None:
    """A sink's rate on a host whose hand-tuned loop makes ``REFERENCE_LOOP`` msgs/s."""
    ratio = _vs_loop(r)
    return None if ratio is None else ratio * REFERENCE_LOOP


Target = tuple[str, Callable[[list[CaseResult]], float | None], Callable[[float], bool] | None, str]

#: The targets: what, how it is measured, when it is met (``None``: reported,
#: no threshold), how to print it.
TARGETS: list[Target] = [
    *(
        (
            f"streamlib x{n} >= 0.85 x hand-tuned loop x{n} (run just before each run)",
            lambda rs, n=n: _vs_loop(find(rs, "streamlib", processes=n)),
            lambda v: v >= 0.85,
            "{:.2f} x",
        )
        for n in (1, 2, 4)
    ),
    (
        "streamlib x1 >= 50 x naive list design (each against the loop run beside it)",
        lambda rs: _ratio(
            _vs_loop(find(rs, "streamlib", processes=1)), _vs_loop(find(rs, "naive-consumer"))
        ),
        lambda v: v >= 50,
        "{:.0f} x",
    ),
    (
        "streamlib x1 >= 2.5 x FastStream batch (each against the loop run beside it)",
        lambda rs: _ratio(
            _vs_loop(find(rs, "streamlib", processes=1)),
            _vs_loop(find(rs, "faststream", batch=True)),
        ),
        lambda v: v >= 2.5,
        "{:.2f} x",
    ),
    (
        "streamlib x4 >= 1.6 x streamlib x1",
        lambda rs: _ratio(
            _rate(find(rs, "streamlib", processes=4)), _rate(find(rs, "streamlib", processes=1))
        ),
        lambda v: v >= 1.6,
        "{:.2f} x",
    ),
    (
        "end to end at full speed >= 0.9 x the consumer's own rate (streamlib x1)",
        lambda rs: _ratio(
            _rate(find(rs, "e2e", paced=False)), _rate(find(rs, "streamlib", processes=1))
        ),
        lambda v: v >= 0.9,
        "{:.2f} x",
    ),
    (
        "end to end at full speed: median latency < 20 ms",
        lambda rs: _lat(find(rs, "e2e", paced=False), "p50"),
        lambda v: v < 20,
        "{:.2f} ms",
    ),
    (
        "paced 2,000 msgs/s: median latency < 1 ms",
        lambda rs: _lat(find(rs, "e2e", paced=True), "p50"),
        lambda v: v < 1,
        "{:.3f} ms",
    ),
    (
        "paced 2,000 msgs/s: p99 latency < 5 ms",
        lambda rs: _lat(find(rs, "e2e", paced=True), "p99"),
        lambda v: v < 5,
        "{:.3f} ms",
    ),
    (
        "SQLite sink >= 50,000 quotes/s per consumer, at the reference speed "
        f"(its rate x {REFERENCE_LOOP:,} / the hand-tuned loop's just before it)",
        lambda rs: _at_reference_speed(find(rs, "sink", sink="sqlite")),
        lambda v: v >= 50_000,
        "{:,.0f} quotes/s",
    ),
    (
        "PostgreSQL sink >= 60,000 quotes/s per consumer, at the reference speed "
        f"(its rate x {REFERENCE_LOOP:,} / the hand-tuned loop's just before it)",
        lambda rs: _at_reference_speed(find(rs, "sink", sink="postgresql")),
        lambda v: v >= 60_000,
        "{:,.0f} quotes/s",
    ),
    (
        "PostgreSQL end to end: 4 replicas' quotes/s against 1 replica's (reported, no target)",
        lambda rs: _ratio(
            _rate(find(rs, "pg-replicas", replicas=4)), _rate(find(rs, "pg-replicas", replicas=1))
        ),
        None,
        "{:.2f} x",
    ),
    (
        "Scrapy: project pipeline >= 3 x one RPUSH per item (pipelines fed items alone)",
        lambda rs: _ratio(
            _rate(find(rs, "scrapy", pipeline="project", fed="alone")),
            _rate(find(rs, "scrapy", pipeline="rpush", fed="alone")),
        ),
        lambda v: v >= 3,
        "{:.2f} x",
    ),
    (
        "Scrapy: project pipeline not the bottleneck (>= 0.9 x the crawl with no pipeline)",
        lambda rs: _ratio(
            _rate(find(rs, "scrapy", pipeline="project", fed="crawl")),
            _rate(find(rs, "scrapy", pipeline="none", fed="crawl")),
        ),
        lambda v: v >= 0.9,
        "{:.2f} x",
    ),
    (
        "consumer RSS flat within 10% over the long run",
        lambda rs: (lambda r: None if r is None else r.extra.get("rss_growth_pct", [None])[0])(
            find(rs, "memory")
        ),
        lambda v: abs(v) <= 10,
        "{:+.1f} %",
    ),
]


def check_targets(results: list[CaseResult]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met.

    ``met`` is ``None`` when the value was not measured, or is only reported.
    """
    out = []
    for text, value_of, ok, fmt in TARGETS:
        value = value_of(results)
        out.append(
            {
                "target": text,
                "value": value,
                "measured": "not measured" if value is None else fmt.format(value),
                "met": None if value is None or ok is None else bool(ok(value)),
            }
        )
    return out


def _fmt(v: float | None, spec: str) -> str:
    return "" if v is None else format(v, spec)


def _redis_cpu(r: CaseResult) -> str:
    """Redis CPU %: the total, and each node's share when there are several."""
    total = _fmt(r.redis_cpu_pct, ".0f")
    nodes = r.redis_cpu_pct_per_node or []
    if len(nodes) < 2:
        return total
    return f"{total} ({' / '.join(format(n, '.0f') for n in nodes)})"


def markdown(outcome: Outcome, targets: list[dict[str, Any]]) -> str:
    """The results table, the targets and the machine, as Markdown."""
    m = outcome.meta
    lines = [
        f"Profile `{m['profile']['name']}`, {m['seconds']} s; "
        f"{m['nproc']} x {m['cpu_model']}, Python {m['python']}, Redis {m['redis_server']}, "
        f"redis-py {m['redis_py']} + hiredis {m['hiredis']}, orjson {m['orjson']}; "
        f"load average at start {m['loadavg_start'][0]:.2f}, at end {m['loadavg_end'][0]:.2f}; "
        f"commit {m['git']}.",
        "",
        "| case | messages | runs | msgs/s median | min - max | p50 ms | p99 ms "
        "| client CPU % | Redis CPU % (per node) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in outcome.results:
        s = r.msgs_per_s
        lat = r.latency_ms or {}
        lines.append(
            f"| {r.name} | {r.messages:,} | {r.runs} | {s['median']:,.0f} | "
            f"{s['min']:,.0f} - {s['max']:,.0f} | {_fmt(lat.get('p50'), '.3f')} | "
            f"{_fmt(lat.get('p99'), '.3f')} | {_fmt(r.cpu_pct, '.0f')} | "
            f"{_redis_cpu(r)} |"
        )
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    for t in targets:
        met = {True: "yes", False: "**no**", None: "-"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    notes = [f"- {r.name}: {r.note}" for r in outcome.results if r.note]
    notes += [f"- `{k}` not run: {why}" for k, why in outcome.skipped.items()]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


#: The cases whose latency is from the envelope's production to the XACK (the chart's).
ACKED_LATENCY = ("naive-e2e", "e2e", "e2e-unthrottled")


def _short(r: CaseResult) -> str:
    """A short label for the latency chart."""
    who = "naive list" if r.case.startswith("naive") else "streamlib"
    if r.params.get("paced"):
        return f"{who}\npaced {r.params['rate']:,}/s"
    return f"{who}\nfull speed"


def plot(results: list[CaseResult], path: Path) -> bool:
    """Throughput against consumer processes, and latency.

    ``False`` (no file) without matplotlib, or when the run has neither the
    consumer cases it plots nor their latencies (``--only`` some other case).
    """
    plotted = ("raw", "streamlib", "faststream", "naive-consumer")
    lat = [r for r in results if r.latency_ms and r.case in ACKED_LATENCY]
    if not lat and not any(r.case in plotted for r in results):
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), width_ratios=(1.1, 1))
    for case, label in (("raw", "hand-tuned raw loop"), ("streamlib", "streamlib GroupConsumer")):
        rows = sorted(
            (r for r in results if r.case == case and r.kind == "consumer"),
            key=lambda r: r.params["processes"],
        )
        if not rows:
            continue
        xs = [r.params["processes"] for r in rows]
        med = [r.msgs_per_s["median"] for r in rows]
        err = [
            [m - r.msgs_per_s["min"] for m, r in zip(med, rows, strict=True)],
            [r.msgs_per_s["max"] - m for m, r in zip(med, rows, strict=True)],
        ]
        ax1.errorbar(xs, med, yerr=err, marker="o", capsize=4, label=label)
    tuned = find(results, "streamlib-gc-policy")
    if tuned is not None:
        ax1.plot([1], [tuned.msgs_per_s["median"]], "k^", label="streamlib x1, service's GC policy")
    for case, label, kw, colour in (
        ("faststream", "FastStream batch of 500", {"batch": True}, "tab:green"),
        ("naive-consumer", "naive list design", {}, "tab:red"),
    ):
        r = find(results, case, **kw)
        if r is not None:
            ax1.axhline(
                r.msgs_per_s["median"], linestyle="--", linewidth=1, color=colour, label=label
            )
    ax1.set_xlabel("consumer processes")
    ax1.set_ylabel("messages per second (median, min-max)")
    ax1.set_xticks([1, 2, 4])
    ax1.set_ylim(bottom=0)
    ax1.set_title("Consumer throughput, pre-filled stream")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    if lat:
        names = [_short(r) for r in lat]
        ys = range(len(lat))
        ax2.barh([y - 0.2 for y in ys], [r.latency_ms["p50"] for r in lat], 0.4, label="p50")
        ax2.barh([y + 0.2 for y in ys], [r.latency_ms["p99"] for r in lat], 0.4, label="p99")
        ax2.set_yticks(list(ys), names, fontsize=8)
        ax2.set_xscale("log")
        ax2.set_xlabel("latency, envelope ts to ack (ms, log scale)")
        ax2.set_title("Latency")
        ax2.legend(fontsize=8)
        ax2.grid(alpha=0.3, axis="x")
        ax2.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(outcome: Outcome, out: Path) -> dict[str, Path]:
    """Write the three files into ``out``; returns their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    targets = check_targets(outcome.results)
    doc = {
        "meta": outcome.meta,
        "cases": [dataclasses.asdict(r) for r in outcome.results],
        "targets": targets,
        "skipped": outcome.skipped,
    }
    paths = {"json": out / "latest.json", "md": out / "latest.md"}
    paths["json"].write_text(json.dumps(doc, indent=2, default=str) + "\n")
    paths["md"].write_text(markdown(outcome, targets))
    png = out / "latest.png"
    if plot(outcome.results, png):
        paths["png"] = png
    else:
        png.unlink(missing_ok=True)  # an older run's plot would not match these tables
    return paths
