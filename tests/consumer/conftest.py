"""Fixtures of the consumer service tests: a real PostgreSQL, fresh sinks.

PostgreSQL: ``TEST_POSTGRES_DSN`` if set, else 127.0.0.1:5432 database
``test`` with trust auth as ``postgres`` or ``root``. Locally a missing
server skips the tests that need it; under CI (``CI`` set) it fails them.
Each test gets its own schema (dropped afterwards) through the connection's
``search_path``, so parallel runs and other suites never see its tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote as urlquote

import psycopg
import pytest

IN_CI = bool(os.environ.get("CI"))

CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs PostgreSQL ``postgres`` (``-m "not postgres"``)."""
    for item in items:
        if {"postgres_dsn", "pg_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A DSN of a PostgreSQL server that answered, or skip (fail under CI)."""
    candidates = [os.environ["TEST_POSTGRES_DSN"]] if os.environ.get("TEST_POSTGRES_DSN") else []
    candidates += CANDIDATES
    errors = []
    for dsn in candidates:
        try:
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return dsn
        except psycopg.Error as exc:
            errors.append(f"{dsn}: {exc}")
    reason = "no PostgreSQL answered: " + "; ".join(errors)
    if IN_CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


@pytest.fixture
def pg_url(postgres_dsn: str) -> Iterator[str]:
    """A sink URL whose tables live in a fresh schema, dropped after the test."""
    schema = f"qs_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_dsn else "?"
    yield f"{postgres_dsn}{sep}options={urlquote(f'-c search_path={schema}')}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
