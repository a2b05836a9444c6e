"""A quote's ``data``, decoded and validated every way on offer, side by side.

``python -m bench.decoders [--quick] [--instructions] [--out FILE]`` prints JSON:

- ``decode``: the ``data`` field's JSON bytes to Python objects, nothing else:
  the standard library, orjson, msgspec to dicts and lists, msgspec straight
  into a ``msgspec.Struct`` (tracked by the cyclic GC or not, tags as a list
  or a tuple).
- ``record``: a stream entry's fields (the flat list Redis sends) to the
  consumer service's ``Quote``: the service as it is (``codec.decode_fields``,
  the ``Message``, ``records.to_record``), the same with msgspec's untyped
  decoder in orjson's place, and msgspec decoding into a ``Struct`` that
  carries the service's rules (see ``StrictQuote``) before the same ``Quote``
  is built, or kept as the record itself.
- ``gc``: what a batch of 500 held alive costs the cyclic collector, for each
  way of the ``record`` group: objects the collector tracks per entry (as
  built, and after a collection, which untracks tuples of strings), and
  collections per 1,000 entries over many batches at the default thresholds.

Times are microseconds per quote, timeit-style: the variants interleaved in
one process, several repeats, the collector off while timed (``min`` is the
number to compare on a shared machine; ``median`` shows the noise). With
``--instructions`` each variant also runs under ``valgrind --tool=callgrind``
on ``N`` and ``3N`` quotes: instructions per quote are the difference over
``2N`` (start-up cancels out), deterministic where the times are not. The
``gc-on`` instruction counts run the record group with the collector on, a
batch of 500 held while the next is built, as the consumer holds its batch.

The quotes are ``workload.quote_envelopes``: crawl-like, each its own key,
0 to 3 tags, both URLs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import msgspec
import orjson

from consumer.records import Quote, _storable_text, to_record
from streamlib import Envelope, Message, codec
from streamlib.constants import ENVELOPE_VERSION, MAX_FIELD_BYTES

# Each record variant returns ``[messages, records]``: what the consumer holds
# while its handler stores a batch (the batch's messages, the handler's records).

#: Quotes per batch, as the consumer reads them (XREADGROUP COUNT 500).
BATCH = 500
#: Distinct entries measured (cycled through).
DISTINCT = 1_000

_new_tuple = tuple.__new__

# --- msgspec's types ---------------------------------------------------------------


class QuoteData(msgspec.Struct):
    """The quote's fields, types only; tracked by the cyclic GC (msgspec's default)."""

    text: str
    author: str
    tags: list[str] | None = None
    author_url: str | None = None
    page_url: str | None = None


class QuoteDataNoGC(msgspec.Struct, gc=False):
    """``QuoteData`` never tracked by the cyclic GC (its tags list still is)."""

    text: str
    author: str
    tags: list[str] | None = None
    author_url: str | None = None
    page_url: str | None = None


class QuoteDataTuple(msgspec.Struct, gc=False):
    """``QuoteDataNoGC`` with tags as a tuple (what ``Quote`` holds)."""

    text: str
    author: str
    tags: tuple[str, ...] | None = None
    author_url: str | None = None
    page_url: str | None = None


#: No NUL anywhere (PostgreSQL text can't hold one); lone surrogates never get
#: this far: msgspec's parser rejects them, as orjson's does.
Storable = Annotated[str, msgspec.Meta(pattern=r"\A[^\x00]*\Z")]
#: Storable, and not empty or only whitespace (``str.strip`` and the pattern's
#: ``\s`` agree on what whitespace is: both are ``Py_UNICODE_ISSPACE``).
Required = Annotated[str, msgspec.Meta(pattern=r"\A[^\x00]*[^\x00\s][^\x00]*\Z")]


class StrictQuote(msgspec.Struct, gc=False):
    """The service's quote rules (docs/consumer.md, Records) as msgspec constraints.

    ``text`` and ``author`` non-empty, not only whitespace; ``tags`` a list of
    strings, missing or ``null`` for none; the URLs strings or absent; no NUL
    in any of them; unknown fields ignored. What differs from
    ``records.to_record``: the reason's wording (msgspec's ``Expected `str`
    matching regex ... - at `$.text``` against ``invalid quote: 'text' must
    be a non-empty string``), and which problem is named first (msgspec's is
    the first in the JSON text, the service's the first in its field order).
    """

    text: Required
    author: Required
    tags: tuple[Storable, ...] | None = None
    author_url: Storable | None = None
    page_url: Storable | None = None


class QuoteRecord(msgspec.Struct, gc=False):
    """``StrictQuote`` as the stored record itself: the key and stream id set after decoding."""

    text: Required
    author: Required
    tags: tuple[Storable, ...] | None = None
    author_url: Storable | None = None
    page_url: Storable | None = None
    key: str = ""
    stream_id: str = ""


# --- the data ----------------------------------------------------------------------

#: One stream entry as the consumer reads it: its id and its flat fields.
Entry = tuple[bytes, list[bytes]]


def make_entries(count: int = DISTINCT) -> list[Entry]:
    """``count`` crawl-like quote entries, as Redis sends them (ids and flat field lists)."""
    from .workload import quote_envelopes

    out: list[Entry] = []
    for i, envelope in enumerate(quote_envelopes(count)):
        fields = codec.wire_fields(envelope)
        flat = [
            part for name in codec.FIELD_NAMES for part in (name.encode(), fields[name.encode()])
        ]
        out.append((f"{1_700_000_000_000 + i}-0".encode(), flat))
    return out


def save_entries(entries: Sequence[Entry], path: Path) -> None:
    """Write ``entries`` for a child process (all fields are UTF-8)."""
    rows = [[sid.decode(), [f.decode() for f in flat]] for sid, flat in entries]
    path.write_text(json.dumps(rows))


def load_entries(path: Path) -> list[Entry]:
    """The entries ``save_entries`` wrote."""
    return [
        (sid.encode(), [f.encode() for f in flat]) for sid, flat in json.loads(path.read_text())
    ]


def data_of(entries: Sequence[Entry]) -> list[bytes]:
    """The ``data`` field of each entry: the decode group's input."""
    return [flat[9] for _, flat in entries]


# --- the decode group: data bytes -> objects -----------------------------------------

Variant = Callable[[Sequence[Any]], list[Any]]


def _decode_with(fn: Callable[[bytes], Any]) -> Variant:
    def run(batch: Sequence[bytes]) -> list[Any]:
        return [fn(raw) for raw in batch]

    return run


def _noop(batch: Sequence[Any]) -> list[Any]:
    """The loop alone, for the instruction counts' floor."""
    return [raw for raw in batch]


DECODE: dict[str, Variant] = {
    "loop only (no decode)": _noop,
    "json.loads (stdlib)": _decode_with(json.loads),
    "orjson.loads": _decode_with(orjson.loads),
    "msgspec.json.decode (dict)": _decode_with(msgspec.json.Decoder().decode),
    "msgspec Struct, tags list": _decode_with(msgspec.json.Decoder(QuoteData).decode),
    "msgspec Struct gc=False, tags list": _decode_with(msgspec.json.Decoder(QuoteDataNoGC).decode),
    "msgspec Struct gc=False, tags tuple": _decode_with(
        msgspec.json.Decoder(QuoteDataTuple).decode
    ),
}

# --- the record group: entry fields -> Quote -----------------------------------------


def service_records(batch: Sequence[Entry]) -> list[Any]:
    """The service as it is: ``decode_fields``, the ``Message``, ``to_record``; all held."""
    messages: list[Message] = []
    records: list[Any] = []
    for sid, flat in batch:
        message = _new_tuple(Message, (sid.decode(), codec.decode_fields(flat), 1))
        messages.append(message)
        records.append(to_record(message))
    return [messages, records]


def _untyped_records(loads: Callable[[bytes], Any]) -> Variant:
    """The service as it is, with ``loads`` in place of orjson's for the codec's data."""

    def run(batch: Sequence[Entry]) -> list[Any]:
        saved, codec._loads = codec._loads, loads
        try:
            return service_records(batch)
        finally:
            codec._loads = saved

    return run


def _typed(decoder: msgspec.json.Decoder[Any], flat: list[bytes]) -> tuple[str, Any, int]:
    """The envelope's straight line, ``data`` decoded (and validated) by ``decoder``.

    A ``msgspec.ValidationError`` is the rejection; a real service would word
    it (or run the checked path again) for the dead letter.
    """
    n_v, version, n_type, raw_type, n_key, raw_key, n_ts, raw_ts, n_data, raw_data = flat
    if not (
        n_v == b"v"
        and n_type == b"type"
        and n_key == b"key"
        and n_ts == b"ts"
        and n_data == b"data"
        and version == b"1"
        and raw_type == b"quote"  # the decoder is chosen by the type
        and raw_key
        and raw_ts
        and len(raw_type) + len(raw_key) + len(raw_ts) + len(raw_data) <= MAX_FIELD_BYTES
    ):
        raise ValueError("off the straight line: not measured here")
    return raw_key.decode(), decoder.decode(raw_data), int(raw_ts)


def _storable_quote(q: Any) -> bool:
    """The service's string rules (``records._well_formed_quote``'s) on a typed Struct."""
    text, author, tags, author_url, page_url = q.text, q.author, q.tags, q.author_url, q.page_url
    return bool(
        text
        and author
        and not text.isspace()
        and not author.isspace()
        and _storable_text(text)
        and _storable_text(author)
        and (author_url is None or _storable_text(author_url))
        and (page_url is None or _storable_text(page_url))
        and (tags is None or all(map(_storable_text, tags)))
    )


def _struct_to_quote(
    decoder: msgspec.json.Decoder[Any], check: Callable[[Any], bool] | None = None
) -> Variant:
    """The data decoded into a Struct, ``check``ed, then the service's ``Quote`` built of it."""

    def run(batch: Sequence[Entry]) -> list[Any]:
        messages: list[Message] = []
        records: list[Any] = []
        for sid, flat in batch:
            key, q, ts = _typed(decoder, flat)
            if check is not None and not check(q):
                raise ValueError("rejected: not measured here")
            stream_id = sid.decode()
            envelope = _new_tuple(Envelope, ("quote", key, q, ts, ENVELOPE_VERSION))
            messages.append(_new_tuple(Message, (stream_id, envelope, 1)))
            tags = q.tags
            record = _new_tuple(
                Quote,
                (
                    key,
                    q.text,
                    q.author,
                    () if tags is None else tuple(tags),
                    q.author_url,
                    q.page_url,
                    stream_id,
                ),
            )
            records.append(record)
        return [messages, records]

    return run


def struct_as_record(batch: Sequence[Entry]) -> list[Any]:
    """The data decoded into ``QuoteRecord``, which is the record (no ``Quote``); all held."""
    decoder = _RECORD_DECODER
    messages: list[Message] = []
    records: list[Any] = []
    for sid, flat in batch:
        key, q, ts = _typed(decoder, flat)
        q.key = key
        q.stream_id = stream_id = sid.decode()
        envelope = _new_tuple(Envelope, ("quote", key, q, ts, ENVELOPE_VERSION))
        messages.append(_new_tuple(Message, (stream_id, envelope, 1)))
        records.append(q)
    return [messages, records]


_RECORD_DECODER = msgspec.json.Decoder(QuoteRecord)

RECORD: dict[str, Variant] = {
    "service: orjson + to_record": service_records,
    "service with msgspec untyped decode + to_record": _untyped_records(
        msgspec.json.Decoder().decode
    ),
    "msgspec Struct gc=False, types only -> Quote": _struct_to_quote(
        msgspec.json.Decoder(QuoteDataTuple)
    ),
    "msgspec Struct gc=False, types + the service's string checks -> Quote": _struct_to_quote(
        msgspec.json.Decoder(QuoteDataTuple), _storable_quote
    ),
    "msgspec StrictQuote (service rules as Meta patterns) -> Quote": _struct_to_quote(
        msgspec.json.Decoder(StrictQuote)
    ),
    "msgspec QuoteRecord (service rules as Meta patterns), Struct is the record": struct_as_record,
}

GROUPS: dict[str, dict[str, Variant]] = {"decode": DECODE, "record": RECORD}


def inputs(entries: Sequence[Entry], group: str) -> list[Any]:
    """What ``group``'s variants take: data bytes or whole entries."""
    return data_of(entries) if group == "decode" else list(entries)


# --- timing ------------------------------------------------------------------------


def _batches(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


def time_all(
    entries: Sequence[Entry], *, repeats: int, rounds: int
) -> dict[str, dict[str, dict[str, float]]]:
    """µs per quote of every variant: ``repeats`` interleaved samples of ``rounds`` passes."""
    work = {
        (group, name): (fn, _batches(inputs(entries, group)))
        for group, variants in GROUPS.items()
        for name, fn in variants.items()
    }
    per_pass = len(entries)
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in work}
    was_enabled = gc.isenabled()
    gc.disable()  # as timeit does; the collector's share is measured on its own (gc_effect)
    try:
        for _ in range(repeats):
            for key, (fn, batches) in work.items():
                held: Any = None
                t0 = time.perf_counter()
                for _ in range(rounds):
                    for batch in batches:
                        held = fn(batch)
                samples[key].append((time.perf_counter() - t0) / (rounds * per_pass) * 1e6)
                del held
    finally:
        if was_enabled:
            gc.enable()
    out: dict[str, dict[str, dict[str, float]]] = {g: {} for g in GROUPS}
    for (group, name), values in samples.items():
        out[group][name] = {
            "min_us": round(min(values), 3),
            "median_us": round(statistics.median(values), 3),
            "repeats": len(values),
        }
    return out


# --- the cyclic collector ------------------------------------------------------------


def gc_effect(entries: Sequence[Entry], *, batches: int) -> dict[str, dict[str, float]]:
    """Per record variant: tracked objects an entry held, and collections per 1,000 entries."""
    batch = list(entries[:BATCH])
    out: dict[str, dict[str, float]] = {}
    counts = {0: 0, 1: 0, 2: 0}
    paused = [0.0]
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            counts[info["generation"]] += 1
            started[0] = time.perf_counter()
        else:
            paused[0] += time.perf_counter() - started[0]

    for name, fn in RECORD.items():
        fn(batch)  # warm: caches, interned names
        gc.collect()
        gc.disable()
        before = len(gc.get_objects())
        count0 = gc.get_count()[0]
        held = fn(batch)
        built = len(gc.get_objects()) - before
        counted = gc.get_count()[0] - count0
        gc.collect()
        survived = len(gc.get_objects()) - before
        del held
        gc.collect()
        for g in counts:
            counts[g] = 0
        paused[0] = 0.0
        gc.enable()
        gc.callbacks.append(on_gc)
        try:
            held = None
            for i in range(batches):
                held = fn(entries[(i % 2) * BATCH : (i % 2 + 1) * BATCH])
            del held
        finally:
            gc.callbacks.remove(on_gc)
        per_k = 1_000 / (batches * BATCH)
        out[name] = {
            "tracked_per_entry_built": round(built / BATCH, 2),
            "gc_count_per_entry": round(counted / BATCH, 2),
            "tracked_per_entry_after_collect": round(survived / BATCH, 2),
            "gen0_per_1k": round(counts[0] * per_k, 2),
            "gen1_per_1k": round(counts[1] * per_k, 2),
            "gen2_per_1k": round(counts[2] * per_k, 2),
            "gc_pause_us_per_entry": round(paused[0] / (batches * BATCH) * 1e6, 3),
        }
    return out


# --- instructions (callgrind) --------------------------------------------------------


def run_child(group: str, name: str, count: int, data: Path, collector: bool) -> None:
    """The measured loop of one variant, for callgrind: ``count`` quotes in batches."""
    entries = load_entries(data)
    items = _batches(inputs(entries, group))
    fn = GROUPS[group][name]
    gc.collect()
    if not collector:
        gc.disable()
    held: Any = None
    for i in range(count // BATCH):
        held = fn(items[i % len(items)])
    del held


def _callgrind_total(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="qs-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same start-up work in every run
        )
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no total")


def instructions(entries: Sequence[Entry], count: int) -> dict[str, dict[str, float]]:
    """Instructions per quote of every variant ((3N - N) / 2N), the record group with GC on too."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="qs-decoders-") as tmp:
        data = Path(tmp) / "entries.json"
        save_entries(entries, data)
        runs = [(g, n, False) for g, vs in GROUPS.items() for n in vs]
        runs += [("record", n, True) for n in RECORD]
        for group, name, collector in runs:
            totals = []
            for n in (count, 3 * count):
                argv = [sys.executable, "-m", "bench.decoders", "--child", group, name]
                argv += ["--count", str(n), "--data", str(data)]
                totals.append(_callgrind_total(argv + (["--gc"] if collector else [])))
            label = "gc-on" if collector else group
            out.setdefault(label, {})[name] = round((totals[1] - totals[0]) / (2 * count))
            print(f"{label}: {name}: {out[label][name]} instructions/quote", file=sys.stderr)
    return out


# --- main --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decoders", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repeats (seconds)")
    parser.add_argument("--instructions", action="store_true", help="callgrind counts too")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    parser.add_argument("--child", nargs=2, metavar=("GROUP", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=2_000, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--gc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(*args.child, count=args.count, data=args.data, collector=args.gc)
        return 0
    entries = make_entries()
    check_agreement(entries)
    repeats, rounds = (3, 2) if args.quick else (15, 10)
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "msgspec": msgspec.__version__,
        "orjson": orjson.__version__,
        "quotes": len(entries),
        "mean_data_bytes": round(sum(map(len, data_of(entries))) / len(entries), 1),
        "repeats": repeats,
        "loadavg": os.getloadavg(),
        "us_per_quote": time_all(entries, repeats=repeats, rounds=rounds),
        "gc": gc_effect(entries, batches=20 if args.quick else 200),
    }
    if args.instructions:
        result["instructions_per_quote"] = instructions(entries, 1_000 if args.quick else 2_000)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


def check_agreement(entries: Sequence[Entry]) -> None:
    """Every record variant builds the service's records from the same entries (or fails)."""
    want = service_records(entries)[1]
    for name, fn in RECORD.items():
        got = fn(entries)[1]
        if isinstance(got[0], QuoteRecord):
            got = [
                Quote(r.key, r.text, r.author, r.tags or (), r.author_url, r.page_url, r.stream_id)
                for r in got
            ]
        if got != want:
            raise AssertionError(f"{name} builds other records than the service")


if __name__ == "__main__":
    sys.exit(main())
