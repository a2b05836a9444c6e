"""Items of any kind to envelopes: a record type and a stable idempotency key.

Any item itemadapter knows (``dict``, ``scrapy.Item``, dataclass, attrs)
becomes one envelope:

- **type**: the first class in the item's MRO named in ``item_types``
  (by dotted path or bare class name), else the class name; ``dict`` items
  (unless ``"dict"`` is mapped) take the spider's name;
- **key**: ``fingerprint`` of the type's ``key_fields`` values (strings as they
  are, anything else as sorted JSON), or, for a type without key fields, of
  the whole item as sorted JSON. A re-crawl so gives every record the key it
  had before;
- **data**: the item as a dict (lists copied, so a spider changing an item
  after yielding it can't change what is sent).

``QuoteItem`` and ``AuthorItem`` are ``quote`` keyed on text and author, and
``author`` keyed on name (``DEFAULT_ITEM_TYPES``, ``DEFAULT_KEY_FIELDS``).
An item whose key fields are blank, or that JSON can't hold, raises
``UnusableItem``: it can't be sent without losing its identity or its data.
Dataclass items are read straight from their fields, several times faster
than ``ItemAdapter.asdict`` for the same dict.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from itemadapter import ItemAdapter

from streamlib import Envelope, fingerprint, jsonutil

#: Item classes and their record types, unless the settings say otherwise.
DEFAULT_ITEM_TYPES: Mapping[str, str] = {
    "producer.items.QuoteItem": "quote",
    "producer.items.AuthorItem": "author",
}
#: The fields whose values make a record's identity, per record type.
DEFAULT_KEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "quote": ("text", "author"),
    "author": ("name",),
}


class UnusableItem(ValueError):
    """An item that can't become an envelope; ``reasons`` are short stats names."""

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        super().__init__(message)
        self.reasons = tuple(reasons)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The dataclass fields of ``cls`` (a subclass's extra ones included), once per class."""
    return tuple(f.name for f in dataclasses.fields(cls))


def item_data(item: Any) -> dict[str, Any]:
    """The item as a plain dict, lists copied."""
    cls = item.__class__
    if cls is dict:
        return {k: list(v) if type(v) is list else v for k, v in item.items()}
    if dataclasses.is_dataclass(item):
        data = {}
        for name in _field_names(cls):
            value = getattr(item, name)
            data[name] = list(value) if type(value) is list else value
        return data
    if not ItemAdapter.is_item(item):
        raise UnusableItem(f"{cls.__name__} is not an item itemadapter knows", ["not_an_item"])
    return ItemAdapter(item).asdict()


def blank(value: Any) -> bool:
    """Empty, ``None`` or only whitespace."""
    return not value if type(value) is not str else (not value or value.isspace())


def _key_part(value: Any) -> str:
    if type(value) is str:
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class ItemKinds:
    """Decides each item's record type and key (see the module docstring)."""

    def __init__(
        self,
        item_types: Mapping[str, str] | None = None,
        key_fields: Mapping[str, Sequence[str]] | None = None,
        *,
        dict_type: str = "dict",
    ) -> None:
        self.item_types = {**DEFAULT_ITEM_TYPES, **(item_types or {})}
        self.key_fields = {
            kind: tuple(fields)
            for kind, fields in {**DEFAULT_KEY_FIELDS, **(key_fields or {})}.items()
        }
        self.dict_type = dict_type
        self._types: dict[type, str] = {}

    def type_of(self, item: Any) -> str:
        """The record type of ``item`` (cached per class)."""
        cls = item.__class__
        found = self._types.get(cls)
        if found is None:
            found = self._types[cls] = self._resolve(cls)
        return found

    def _resolve(self, cls: type) -> str:
        for klass in cls.__mro__[:-1]:  # without object
            for name in (f"{klass.__module__}.{klass.__qualname__}", klass.__qualname__):
                if name in self.item_types:
                    return self.item_types[name]
        return self.dict_type if cls is dict or issubclass(cls, dict) else cls.__name__

    def check(self, item: Any) -> str:
        """The item's type, after checking its key fields are not blank (``UnusableItem``)."""
        kind = self.type_of(item)
        fields = self.key_fields.get(kind, ())
        if fields:
            _require(kind, fields, item_data(item))
        return kind

    def envelope(self, item: Any) -> Envelope:
        """The envelope of ``item``; ``UnusableItem`` when it has no identity or no JSON form."""
        kind = self.type_of(item)
        data = item_data(item)
        fields = self.key_fields.get(kind, ())
        values = _require(kind, fields, data) if fields else [data]
        try:
            key = fingerprint(*map(_key_part, values))
            if fields:
                jsonutil.dumps(data)  # the whole item must go on the wire too
        except (TypeError, ValueError) as exc:
            raise UnusableItem(f"{kind} is not JSON-serialisable: {exc}", ["unencodable"]) from None
        return Envelope(kind, key, data)


def _require(kind: str, fields: tuple[str, ...], data: Mapping[str, Any]) -> list[Any]:
    """The values of the key ``fields``; ``UnusableItem`` naming the blank ones."""
    values = [data.get(name) for name in fields]
    missing = [name for name, value in zip(fields, values, strict=True) if blank(value)]
    if missing:
        raise UnusableItem(
            f"{kind} missing {', '.join(missing)}", [f"missing_{m}" for m in missing]
        )
    return values
