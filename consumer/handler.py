"""The batch handler: envelopes -> validated records -> one sink call.

Invalid records and unknown types are *rejected* (dead-lettered with the
reason, never retried). If the sink raises, the handler raises, and nothing
of the batch is acknowledged: an ``OutageError`` (the database away) makes
the consumer hold the batch and try it again until the sink answers; a
``RecordError`` (the database refused a record) makes it split the batch
to find that record, store the others and dead-letter it alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from streamlib import BatchResult, Message

from .records import Author, InvalidRecord, Quote, to_record
from .sinks import Sink

log = logging.getLogger(__name__)


class QuoteHandler:
    """A ``streamlib.Handler`` storing quotes and authors in ``sink``."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def __call__(self, batch: Sequence[Message]) -> BatchResult | None:
        quotes: list[Quote] = []
        authors: list[Author] = []
        rejected: dict[str, str] = {}
        for message in batch:
            try:
                record = to_record(message)
            except InvalidRecord as exc:
                rejected[message.id] = str(exc)
                continue
            if isinstance(record, Quote):
                quotes.append(record)
            else:
                authors.append(record)
        if quotes or authors:
            self.sink.store(quotes, authors)
        return BatchResult(rejected=rejected) if rejected else None
