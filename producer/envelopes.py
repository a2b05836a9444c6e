"""Items to envelopes: the record type and its stable idempotency key.

A quote's identity is its text and author (``fingerprint(text, author)``), an
author's is their name (``fingerprint(name)``, the name on their own page), so
a re-crawl gives every record the key it had before.
"""

from __future__ import annotations

from typing import Any

from itemadapter import ItemAdapter

from producer.items import AuthorItem, QuoteItem
from streamlib import Envelope, fingerprint


def to_envelope(item: Any) -> Envelope:
    """The envelope of a validated ``QuoteItem`` or ``AuthorItem``."""
    data = ItemAdapter(item).asdict()
    if isinstance(item, QuoteItem):
        return Envelope(type="quote", key=fingerprint(item.text, item.author), data=data)
    if isinstance(item, AuthorItem):
        return Envelope(type="author", key=fingerprint(item.name), data=data)
    raise TypeError(f"no envelope for {type(item).__name__}")
