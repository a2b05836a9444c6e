"""Items to envelopes: the record type and its stable idempotency key.

A quote's identity is its text and author (``fingerprint(text, author)``), an
author's is their name (``fingerprint(name)``, the name on their own page), so
a re-crawl gives every record the key it had before.

The pipeline's per-item path: the ``data`` of our own item classes is read
straight from their dataclass fields (lists copied, so a spider changing an
item after yielding it can't change what is sent) instead of through
``ItemAdapter.asdict``, which gives the same dict several times slower.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from producer.items import AuthorItem, QuoteItem
from streamlib import Envelope, fingerprint

_QUOTE_FIELDS = tuple(f.name for f in dataclasses.fields(QuoteItem))
_AUTHOR_FIELDS = tuple(f.name for f in dataclasses.fields(AuthorItem))


def _data(item: Any, names: tuple[str, ...]) -> dict[str, Any]:
    data = {}
    for name in names:
        value = getattr(item, name)
        data[name] = list(value) if type(value) is list else value
    return data


def to_envelope(item: Any) -> Envelope:
    """The envelope of a validated ``QuoteItem`` or ``AuthorItem``."""
    kind = type(item)
    if kind is QuoteItem:
        return Envelope("quote", fingerprint(item.text, item.author), _data(item, _QUOTE_FIELDS))
    if kind is AuthorItem:
        return Envelope("author", fingerprint(item.name), _data(item, _AUTHOR_FIELDS))
    if isinstance(item, QuoteItem):  # a subclass: its extra fields too
        return Envelope("quote", fingerprint(item.text, item.author), _asdict(item))
    if isinstance(item, AuthorItem):
        return Envelope("author", fingerprint(item.name), _asdict(item))
    raise TypeError(f"no envelope for {type(item).__name__}")


def _asdict(item: Any) -> dict[str, Any]:
    return _data(item, tuple(f.name for f in dataclasses.fields(item)))
