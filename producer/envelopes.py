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
import functools
from typing import Any

from producer.items import AuthorItem, QuoteItem
from streamlib import Envelope, fingerprint


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of ``cls`` (a subclass's extra ones included), once per class."""
    return tuple(f.name for f in dataclasses.fields(cls))


def _data(item: Any) -> dict[str, Any]:
    data = {}
    for name in _field_names(item.__class__):
        value = getattr(item, name)
        data[name] = list(value) if type(value) is list else value
    return data


def to_envelope(item: Any) -> Envelope:
    """The envelope of a validated ``QuoteItem`` or ``AuthorItem``."""
    if isinstance(item, QuoteItem):
        return Envelope("quote", fingerprint(item.text, item.author), _data(item))
    if isinstance(item, AuthorItem):
        return Envelope("author", fingerprint(item.name), _data(item))
    raise TypeError(f"no envelope for {type(item).__name__}")
