"""Records the consumer stores, and their validation from an envelope.

Quotes and authors are modelled field by field (their own tables). Every
other type is a generic ``Item``: its ``data`` is stored as it came, in one
table for all such types (or as its JSON line). A record that fails
validation is *rejected*: it goes to the dead-letter stream with the
``InvalidRecord`` reason and is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from streamlib import Message

QUOTE = "quote"
AUTHOR = "author"

#: ``tuple.__new__``: builds a named tuple from its values without calling its ``__new__``.
_new_tuple = tuple.__new__


class InvalidRecord(ValueError):
    """An envelope that can't become a record; ``str()`` is the reason."""


# Named tuples, not dataclasses: the consumer builds one per entry, and a
# quote is built in 0.14 us by ``_new_tuple`` against 0.96 us for a frozen
# dataclass, whose ``__init__`` sets each field through ``object.__setattr__``.


class Quote(NamedTuple):
    """One quote, keyed on the envelope's ``key`` (fields in the ``quotes`` table's order)."""

    key: str
    text: str
    author: str
    tags: tuple[str, ...]
    author_url: str | None
    page_url: str | None
    stream_id: str


class Author(NamedTuple):
    """One author page, keyed on the envelope's ``key``."""

    key: str
    name: str
    born_date: str | None
    born_location: str | None
    description: str | None
    url: str | None
    stream_id: str
    goodreads_url: str | None = None


class Item(NamedTuple):
    """A record of a type the service does not model, keyed on type and key."""

    type: str  # the envelope's name, builtin shadowed on purpose
    key: str
    #: The envelope's ``data`` as it came (a JSON object).
    data: Mapping[str, Any]
    stream_id: str


Record = Quote | Author | Item


def to_record(message: Message) -> Record:
    """The record in ``message``, or ``InvalidRecord`` saying what is wrong."""
    envelope = message.envelope
    data = envelope.data
    if envelope.type == QUOTE:
        return _well_formed_quote(data, envelope.key, message.id) or _checked_quote(
            data, envelope.key, message.id
        )
    if envelope.type == AUTHOR:
        return Author(
            key=envelope.key,
            name=_required(data, "name", AUTHOR),
            born_date=_optional(data, "born_date", AUTHOR),
            born_location=_optional(data, "born_location", AUTHOR),
            description=_optional(data, "description", AUTHOR),
            url=_optional(data, "url", AUTHOR),
            stream_id=message.id,
            goodreads_url=_optional(data, "goodreads_url", AUTHOR) or None,
        )
    _storable_json(data, envelope.type)
    return Item(envelope.type, envelope.key, data, message.id)


def _checked_quote(data: Mapping[str, Any], key: str, stream_id: str) -> Quote:
    """The quote in ``data``, checked field by field: ``InvalidRecord`` names the first problem."""
    return Quote(
        key=key,
        text=_required(data, "text", QUOTE),
        author=_required(data, "author", QUOTE),
        tags=_tags(data),
        author_url=_optional(data, "author_url", QUOTE),
        page_url=_optional(data, "page_url", QUOTE),
        stream_id=stream_id,
    )


def _well_formed_quote(data: Mapping[str, Any], key: str, stream_id: str) -> Quote | None:
    """The quote when ``data`` passes every check, tested in one pass; else ``None``.

    The common case, cheaply: the type and emptiness tests inline, one
    storability test per string (``_storable_text``), no reasons worded.
    ``None`` sends ``to_record`` through the field-by-field checks
    (``_checked_quote``), which find the first problem and word its reason
    (or build the same quote, were this test too strict).
    """
    text, author = data.get("text"), data.get("author")
    tags, author_url, page_url = data.get("tags"), data.get("author_url"), data.get("page_url")
    if tags is None:
        tags = []
    if not (
        isinstance(text, str)
        and isinstance(author, str)
        and isinstance(tags, list)
        and (author_url is None or isinstance(author_url, str))
        and (page_url is None or isinstance(page_url, str))
        and text
        and author
        and not text.isspace()
        and not author.isspace()
        and _storable_text(text)
        and _storable_text(author)
        and (author_url is None or _storable_text(author_url))
        and (page_url is None or _storable_text(page_url))
    ):
        return None
    for tag in tags:
        if not (isinstance(tag, str) and _storable_text(tag)):
            return None
    return _new_tuple(Quote, (key, text, author, tuple(tags), author_url, page_url, stream_id))


def _required(data: Mapping[str, Any], name: str, kind: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRecord(f"invalid {kind}: {name!r} must be a non-empty string")
    return _storable(value, name, kind)


def _optional(data: Mapping[str, Any], name: str, kind: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRecord(f"invalid {kind}: {name!r} must be a string or absent")
    return value if value is None else _storable(value, name, kind)


def _tags(data: Mapping[str, Any]) -> tuple[str, ...]:
    tags = data.get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidRecord("invalid quote: 'tags' must be a list of strings")
    return tuple(_storable(t, "tags", QUOTE) for t in tags)


def _storable_json(value: Any, kind: str) -> None:
    """Every string in ``value`` (keys too) storable by every sink (see ``_storable``)."""
    if isinstance(value, str):
        _storable(value, "data", kind)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _storable(str(key), "data", kind)
            _storable_json(item, kind)
    elif isinstance(value, list):
        for item in value:
            _storable_json(item, kind)


def _storable(value: str, name: str, kind: str) -> str:
    """``value`` if every sink can store it; a record no sink takes would fail its whole batch.

    PostgreSQL text can't hold NUL, and no sink can encode a lone surrogate
    (which the standard library's JSON parser lets through).
    """
    if "\x00" in value:
        raise InvalidRecord(f"invalid {kind}: {name!r} contains a NUL character")
    if not _storable_text(value):
        raise InvalidRecord(f"invalid {kind}: {name!r} is not valid Unicode")
    return value


def _storable_text(value: str) -> bool:
    """Whether every sink can store ``value`` (see ``_storable``), as a yes or no."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
