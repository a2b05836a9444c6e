"""The batch handler: envelopes -> validated records -> one sink call.

Quotes and authors go to their own tables; records of any other type are
stored as generic items (``records.Item``). Invalid records are *rejected*
(dead-lettered with the reason, never retried). If the sink raises, the
handler raises, and nothing of the batch is acknowledged: an ``OutageError``
(the database away) makes the consumer hold the batch and try it again until
the sink answers; a ``RecordError`` (the database refused a record) makes it
split the batch to find that record, store the others and dead-letter it
alone.

``types`` restricts what this replica stores: entries of other types are
acknowledged and skipped, as a Kafka consumer commits past the messages it
filters out. The filter belongs to the whole consumer group: a group shares
one position in the stream, so replicas of one group must use the same
``types``, and a second set of types needs a second group.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

from streamlib import BatchResult, Message

from .records import Author, InvalidRecord, Item, Quote, to_record
from .sinks import Sink

log = logging.getLogger(__name__)


class QuoteHandler:
    """A ``streamlib.Handler`` storing quotes, authors and other records in ``sink``."""

    def __init__(self, sink: Sink, types: Collection[str] | None = None) -> None:
        self.sink = sink
        #: The record types stored; ``None``: all.
        self.types = frozenset(types) if types else None
        #: Entries acknowledged without being stored (their type is not in ``types``).
        self.skipped = 0
        self._skipped_types: set[str] = set()

    def __call__(self, batch: Sequence[Message]) -> BatchResult | None:
        quotes: list[Quote] = []
        authors: list[Author] = []
        items: list[Item] = []
        rejected: dict[str, str] = {}
        for message in batch:
            if self.types is not None and not self._wanted(message):
                continue
            try:
                record = to_record(message)
            except InvalidRecord as exc:
                rejected[message.id] = str(exc)
                continue
            if isinstance(record, Quote):
                quotes.append(record)
            elif isinstance(record, Author):
                authors.append(record)
            else:
                items.append(record)
        if quotes or authors or items:
            self.sink.store(quotes, authors, items)
        return BatchResult(rejected=rejected) if rejected else None

    def _wanted(self, message: Message) -> bool:
        kind = message.envelope.type
        assert self.types is not None
        if kind in self.types:
            return True
        self.skipped += 1
        if kind not in self._skipped_types:
            self._skipped_types.add(kind)
            log.info("skipping entries of type %r: not in --types (acknowledged, not stored)", kind)
        return False
