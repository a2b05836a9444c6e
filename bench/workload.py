"""What flows through every case: small quote envelopes, as the spider makes them."""

from __future__ import annotations

import functools
import itertools
import random
import time
from collections.abc import Iterator

import redis

from streamlib import Envelope, encode, fingerprint

_PROSE = (
    "the world as we have created it is a process of our thinking it cannot be changed "
    "without changing our thinking life is what happens while you are busy making other "
    "plans imperfection is beauty madness is genius and it is better to be absolutely "
    "ridiculous than absolutely boring"
)
_WORDS = _PROSE.split()
_AUTHORS = ("Albert Einstein", "J.K. Rowling", "Jane Austen", "Marilyn Monroe", "André Gide")
_TAGS = ("change", "deep-thoughts", "thinking", "world", "life", "love", "humor", "books")

#: Distinct quotes cycled through; enough that keys and texts vary.
DISTINCT = 1_000


@functools.cache
def quotes() -> list[tuple[str, dict[str, object]]]:
    """``DISTINCT`` (key, data) pairs of ~120-byte quotes, the same on every run."""
    rng = random.Random(42)
    out: list[tuple[str, dict[str, object]]] = []
    for i in range(DISTINCT):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 18))).capitalize()
        author = _AUTHORS[i % len(_AUTHORS)]
        data = {
            "text": f"“{text}.”",
            "author": author,
            "tags": rng.sample(_TAGS, 2),
            "url": f"http://127.0.0.1/page/{i // 10 + 1}/",
        }
        out.append((fingerprint(text, author), data))
    return out


def envelopes(count: int, *, start: int = 0, stamp: bool = False) -> Iterator[Envelope]:
    """``count`` quote envelopes; with ``stamp``, data carries ``sent_ns`` (wall clock).

    ``ts`` (ms, the envelope's own field) and ``sent_ns`` are taken at the same
    instant; ``sent_ns`` only adds the sub-millisecond digits for latency.
    """
    qs = quotes()
    for i in range(start, start + count):
        key, data = qs[i % DISTINCT]
        if stamp:
            now = time.time_ns()
            yield Envelope("quote", key, {**data, "sent_ns": now}, ts=now // 1_000_000)
        else:
            yield Envelope("quote", key, data)


def prefill(client: redis.Redis, stream: str, count: int, chunk: int = 1_000) -> None:
    """XADD ``count`` envelopes to ``stream`` (pipelined; not a measured path)."""
    encoded = [encode(e) for e in envelopes(DISTINCT)]
    fields = itertools.cycle(encoded)
    left = count
    while left > 0:
        n = min(chunk, left)
        with client.pipeline(transaction=False) as pipe:
            for _ in range(n):
                pipe.xadd(stream, next(fields))  # type: ignore[arg-type]
            pipe.execute()
        left -= n


def fresh_group(client: redis.Redis, stream: str, group: str) -> None:
    """A new group on ``stream`` from id 0 (so it sees every entry)."""
    client.xgroup_create(stream, group, id="0", mkstream=True)


def drop_group(client: redis.Redis, stream: str, group: str) -> None:
    """Destroy ``group`` (its pending list goes with it)."""
    client.xgroup_destroy(stream, group)


def paced(count: int, rate: float | None) -> Iterator[int]:
    """Yield 0..count-1, each no earlier than its slot at ``rate`` per second (``None``: at once).

    The sleep here is the pacing itself (an open-loop schedule), not a wait for
    some other process: late slots are not made up by bursting ahead of time.
    """
    if rate is None:
        yield from range(count)
        return
    start = time.monotonic()
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield i


def quote_envelopes(count: int) -> Iterator[Envelope]:
    """``count`` quote envelopes as a crawl makes them, each a different quote (its own key).

    Each is the envelope the Scrapy pipeline makes of a ``QuoteItem`` (text,
    author, tags, author_url, page_url: every column of the sinks filled),
    by the pipeline's own ``ItemKinds``. Keys are distinct, so a sink
    inserts ``count`` new rows (a first crawl).
    """
    # Imported here, in the process that fills the stream: the pipeline's
    # modules bring Scrapy, which the measured workers must not carry.
    from producer.envelopes import ItemKinds
    from producer.items import QuoteItem

    kinds = ItemKinds()
    rng = random.Random(7)
    for i in range(count):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(10, 18))).capitalize()
        author = _AUTHORS[i % len(_AUTHORS)]
        item = QuoteItem(
            text=f"“{words} ({i}).”",
            author=author,
            tags=rng.sample(_TAGS, rng.randint(0, 3)),
            author_url=f"http://127.0.0.1:8000/author/{author.replace(' ', '-')}/",
            page_url=f"http://127.0.0.1:8000/page/{i // 10 + 1}/",
        )
        yield kinds.envelope(item)


def prefill_quotes(client: redis.Redis, stream: str, count: int, chunk: int = 1_000) -> None:
    """XADD ``count`` distinct ``quote_envelopes`` to ``stream`` (pipelined; not measured)."""
    source = quote_envelopes(count)
    left = count
    while left > 0:
        n = min(chunk, left)
        with client.pipeline(transaction=False) as pipe:
            for _ in range(n):
                pipe.xadd(stream, encode(next(source)))  # type: ignore[arg-type]
            pipe.execute()
        left -= n
