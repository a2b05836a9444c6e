"""The option tables in the docs say what the settings tables say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumer.service import ServiceOptions
from streamlib import StreamSettings
from streamlib.settings import SettingField, setting_fields

DOCS = Path(__file__).resolve().parents[1] / "docs"
ROW = re.compile(r"^\| `(?P<flag>--[a-z-]+)` \| `?(?P<env>[A-Z_]*)`? \| (?P<default>[^|]*) \|")


def documented(page: str) -> dict[str, tuple[str, str]]:
    """Flag -> (variable, default) from the option table of a docs page."""
    rows = {}
    for line in (DOCS / page).read_text().splitlines():
        match = ROW.match(line)
        if match:
            rows[match["flag"]] = (match["env"], match["default"].strip().strip("`"))
    return rows


def same_default(shown: str, row: SettingField) -> bool:
    try:
        return float(shown) == float(row.default_text)
    except ValueError:
        return shown == row.default_text


@pytest.mark.parametrize(
    "row",
    setting_fields(StreamSettings) + setting_fields(ServiceOptions),
    ids=lambda row: row.name,
)
def test_docs_consumer_lists_every_setting_with_its_variable_and_default(
    row: SettingField,
) -> None:
    table = documented("consumer.md")
    assert row.flag in table, f"docs/consumer.md has no row for {row.flag}"
    env, default = table[row.flag]
    assert env == row.env
    assert same_default(default, row), (row.flag, default, row.default_text)
