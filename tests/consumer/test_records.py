"""Envelope -> record validation (pure functions, no servers)."""

from __future__ import annotations

import pytest

from consumer.records import Author, InvalidRecord, Quote, to_record
from streamlib import Envelope, Message


def message(type_: str, data: dict[str, object], key: str = "k1") -> Message:
    return Message(id="1-0", envelope=Envelope(type=type_, key=key, data=data))


def test_quote_with_every_field() -> None:
    data = {
        "text": "“Hi.”",
        "author": "A. Author",
        "tags": ["a", "b"],
        "author_url": "http://x/author/A",
        "page_url": "http://x/page/1/",
        "extra": "ignored",
    }
    assert to_record(message("quote", data)) == Quote(
        key="k1",
        text="“Hi.”",
        author="A. Author",
        tags=("a", "b"),
        author_url="http://x/author/A",
        page_url="http://x/page/1/",
        stream_id="1-0",
    )


@pytest.mark.parametrize("extra", [{}, {"tags": None}, {"tags": []}])
def test_quote_without_tags_or_urls(extra: dict[str, object]) -> None:
    record = to_record(message("quote", {"text": "t", "author": "a", **extra}))
    assert isinstance(record, Quote)
    assert record.tags == () and record.author_url is None and record.page_url is None


def test_author() -> None:
    data = {"name": "Jane", "born_date": "May 1, 1900", "description": " d "}
    assert to_record(message("author", data)) == Author(
        key="k1",
        name="Jane",
        born_date="May 1, 1900",
        born_location=None,
        description=" d ",
        url=None,
        stream_id="1-0",
    )


@pytest.mark.parametrize(
    ("type_", "data", "reason"),
    [
        ("quote", {"author": "a"}, "invalid quote: 'text' must be a non-empty string"),
        (
            "quote",
            {"text": "  ", "author": "a"},
            "invalid quote: 'text' must be a non-empty string",
        ),
        ("quote", {"text": "t"}, "invalid quote: 'author' must be a non-empty string"),
        ("quote", {"text": "t", "author": 3}, "invalid quote: 'author' must be a non-empty string"),
        ("quote", {"text": "t", "author": "a", "tags": "x"}, "'tags' must be a list of strings"),
        ("quote", {"text": "t", "author": "a", "tags": [1]}, "'tags' must be a list of strings"),
        ("quote", {"text": "t", "author": "a", "page_url": 5}, "'page_url' must be a string"),
        ("author", {"born_date": "x"}, "invalid author: 'name' must be a non-empty string"),
        ("tweet", {"text": "t"}, "unknown record type 'tweet'"),
        ("quote", {"text": "a\x00b", "author": "a"}, "'text' contains a NUL character"),
        ("quote", {"text": "t", "author": "a", "tags": ["\x00"]}, "'tags' contains a NUL"),
        ("author", {"name": "n", "url": "\ud800"}, "invalid author: 'url' is not valid Unicode"),
    ],
)
def test_invalid_records_say_why(type_: str, data: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason.replace("(", r"\(")):
        to_record(message(type_, data))
