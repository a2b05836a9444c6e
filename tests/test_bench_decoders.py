"""bench/decoders.py: runs quickly, prints valid JSON, and compares like with like.

Its msgspec schemas claim the consumer service's quote rules; here they are
held to ``records.to_record`` on the records that rule each way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from bench import decoders
from consumer.records import InvalidRecord, to_record
from streamlib import Envelope, Message

GOOD: dict[str, Any] = {"text": "“A quote.”", "author": "Jane Austen"}


def service_accepts(raw: bytes) -> bool:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False  # streamlib dead-letters it as a decode error
    try:
        to_record(Message("1-0", Envelope("quote", "k", data)))
    except InvalidRecord:
        return False
    return True


def strict_accepts(raw: bytes) -> bool:
    try:
        msgspec.json.decode(raw, type=decoders.StrictQuote)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return False
    return True


def checked_accepts(raw: bytes) -> bool:
    try:
        quote = msgspec.json.decode(raw, type=decoders.QuoteDataTuple)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return False
    return decoders._storable_quote(quote)


@pytest.mark.parametrize(
    "data",
    [
        GOOD,
        {**GOOD, "tags": ["a", "b"], "author_url": "u", "page_url": "p", "extra": 1},
        {**GOOD, "tags": None},
        {**GOOD, "tags": []},
        {**GOOD, "text": ""},
        {**GOOD, "author": " \t\n\x1c"},
        {**GOOD, "text": None},
        {"author": "Jane Austen"},
        {**GOOD, "text": 5},
        {**GOOD, "text": "a\x00b"},
        {**GOOD, "tags": "love"},
        {**GOOD, "tags": ["love", 3]},
        {**GOOD, "tags": ["lo\x00ve"]},
        {**GOOD, "author_url": 7},
        {**GOOD, "page_url": "p\x00"},
        {**GOOD, "author_url": None},
    ],
)
def test_the_msgspec_schemas_accept_what_the_service_accepts(data: dict[str, Any]) -> None:
    raw = orjson.dumps(data)
    assert strict_accepts(raw) == service_accepts(raw)
    assert checked_accepts(raw) == service_accepts(raw)


def test_a_lone_surrogate_is_refused_by_every_fast_decoder() -> None:
    raw = b'{"text": "\\ud800", "author": "a"}'
    assert not service_accepts(raw)
    assert not strict_accepts(raw)
    assert not checked_accepts(raw)


def test_quick_run_prints_json_with_every_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "decoders.json"
    assert decoders.main(["--quick", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    for group, variants in decoders.GROUPS.items():
        assert set(printed["us_per_quote"][group]) == set(variants)
        assert all(v["min_us"] > 0 for v in printed["us_per_quote"][group].values())
    assert set(printed["gc"]) == set(decoders.RECORD)
    service = printed["gc"]["service: orjson + to_record"]
    assert service["tracked_per_entry_built"] > 0
