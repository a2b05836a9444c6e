"""Envelope -> record validation (pure functions, no servers)."""

from __future__ import annotations

import pytest

from consumer.records import (
    Author,
    InvalidRecord,
    Item,
    Quote,
    _checked_quote,
    _well_formed_quote,
    to_record,
)
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


def test_other_types_are_items_with_their_data_as_it_came() -> None:
    data = {"text": "t", "likes": 3, "tags": ["a", {"b": None}]}
    assert to_record(message("tweet", data)) == Item("tweet", "k1", data, "1-0")


def test_an_authors_goodreads_link() -> None:
    data = {"name": "Jane", "goodreads_url": "http://goodreads.com/author/show/1.Jane"}
    record = to_record(message("author", data))
    assert isinstance(record, Author)
    assert record.goodreads_url == "http://goodreads.com/author/show/1.Jane"
    empty = to_record(message("author", {"name": "Jane", "goodreads_url": ""}))
    assert isinstance(empty, Author) and empty.goodreads_url is None


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
        ("tweet", {"text": "a\x00b"}, "invalid tweet: 'data' contains a NUL character"),
        ("tweet", {"n": [{"\ud800": 1}]}, "invalid tweet: 'data' is not valid Unicode"),
        ("quote", {"text": "a\x00b", "author": "a"}, "'text' contains a NUL character"),
        ("quote", {"text": "t", "author": "a", "tags": ["\x00"]}, "'tags' contains a NUL"),
        ("author", {"name": "n", "url": "\ud800"}, "invalid author: 'url' is not valid Unicode"),
    ],
)
def test_invalid_records_say_why(type_: str, data: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRecord, match=reason.replace("(", r"\(")):
        to_record(message(type_, data))


GOOD_QUOTES: list[dict[str, object]] = [
    {"text": "t", "author": "a"},
    {
        "text": "“Hi.”",
        "author": "Zoë",
        "tags": ["a", "b\nc", ""],
        "author_url": "",
        "page_url": "p",
    },
    {"text": " x ", "author": "a", "tags": None, "author_url": None, "page_url": None, "url": 5},
    {"text": "😀", "author": "a", "tags": ["\u2028"], "extra": [1]},
    {"text": "“x”", "author": "Zoë", "tags": ["é", "a"], "author_url": "é", "page_url": "😀"},
]
BAD_QUOTES: list[dict[str, object]] = [
    {},
    {"text": "", "author": "a"},
    {"text": "\u2028 \t", "author": "a"},
    {"text": "t", "author": " "},
    {"text": b"t", "author": "a"},
    {"text": "t", "author": "a", "tags": ("x",)},
    {"text": "t", "author": "a", "tags": ["x", None]},
    {"text": "t", "author": "a", "tags": "xy"},
    {"text": "t", "author": "a", "author_url": 0},
    {"text": "t", "author": "a", "page_url": False},
    {"text": "t", "author": "a", "page_url": ["p"]},
    {"text": "t\x00", "author": "a"},
    {"text": "t", "author": "a", "tags": ["ok", "\udfff"]},
    {"text": "t", "author": "a", "author_url": "\ud83d"},
    {"text": "t", "author": "a", "page_url": "p\x00"},
    {"text": "t", "author": "a\ud800"},
    {"text": "“t”\x00", "author": "a"},
    {"text": "t", "author": "Zoë\ud800"},
    {"text": "t", "author": "a", "author_url": "é\x00"},
    {"text": "t", "author": "a", "page_url": "é\udc00"},
    {"text": "t", "author": "a", "tags": ["é\x00"]},
    {"text": "t", "author": "a", "tags": ["é", "\ud800é"]},
]


@pytest.mark.parametrize("data", GOOD_QUOTES)
def test_a_well_formed_quote_takes_the_one_pass_check(data: dict[str, object]) -> None:
    fast = _well_formed_quote(data, "k1", "1-0")
    assert fast is not None
    assert fast == _checked_quote(data, "k1", "1-0")


@pytest.mark.parametrize("data", BAD_QUOTES)
def test_a_bad_quote_fails_the_one_pass_check_and_the_detailed_one(
    data: dict[str, object],
) -> None:
    assert _well_formed_quote(data, "k1", "1-0") is None
    with pytest.raises(InvalidRecord):
        _checked_quote(data, "k1", "1-0")
