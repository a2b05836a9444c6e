"""docs/producer.md says what the code does: its settings table and its exit statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from producer import outcome
from producer.config import StreamConfig
from producer.variants import VARIANTS
from streamlib.settings import SettingField, setting_fields
from tests.test_docs_settings import same_default

PAGE = Path(__file__).resolve().parents[2] / "docs" / "producer.md"
ROW = re.compile(
    r"^\| `(?P<name>STREAM_[A-Z_]+)` \|\s*`?(?P<fallback>[A-Z_]*)`?\s*\| (?P<default>[^|]*) \|"
)


def documented() -> dict[str, tuple[str, str]]:
    """Setting -> (fallback variable, default) from the settings table."""
    rows = {}
    for line in PAGE.read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = (match["fallback"], match["default"].strip().strip("`"))
    return rows


@pytest.mark.parametrize("row", setting_fields(StreamConfig), ids=lambda row: row.env)
def test_every_setting_is_documented_with_its_fallback_and_default(row: SettingField) -> None:
    table = documented()
    assert row.env in table, f"docs/producer.md has no row for {row.env}"
    fallback, default = table[row.env]
    assert fallback == " ".join(row.fallback_env)
    assert same_default(default, row), (row.env, default, row.default_text)


def test_the_exit_statuses_and_variants_are_documented() -> None:
    text = PAGE.read_text()
    codes = [v for k, v in vars(outcome).items() if k.startswith("EXIT_") and isinstance(v, int)]
    for code in codes:
        assert f"| `{code}` |" in text
    for name, path in VARIANTS.items():
        assert f"| `{name}` | `{path}` |" in text
