"""Run the real GroupConsumer and sink, and SIGKILL this process right after
the sink's first commit: the worst moment, before the batch is acknowledged.

    python -m tests.support.crash_after_commit REDIS_URL STREAM GROUP CONSUMER SINK

Exits by SIGKILL (status -9) if it stored a batch; 0 if there was none.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from consumer.handler import QuoteHandler
from consumer.records import Author, Item, Quote
from consumer.sinks import Sink, open_sink
from streamlib import GroupConsumer, StreamSettings, client_from_url


class CrashAfterCommit:
    """A sink that dies as soon as the real sink has committed."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.description = sink.description

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        self.sink.store(quotes, authors, items)  # committed now...
        os.kill(os.getpid(), signal.SIGKILL)  # ...and never acknowledged

    def close(self) -> None:
        self.sink.close()


def main(redis_url: str, stream: str, group: str, consumer: str, sink_url: str) -> None:
    settings = StreamSettings(
        redis_url=redis_url, stream=stream, group=group, consumer=consumer, batch_size=500
    )
    handler = QuoteHandler(CrashAfterCommit(open_sink(sink_url)))
    GroupConsumer(client_from_url(redis_url), settings, handler).run(burst=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
