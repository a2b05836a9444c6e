"""The ``operator`` role: every ``streamctl`` command works with exactly its rule.

A real server gets an ``operator`` ACL user with ``acl.rules("operator", ...)``;
the state (entries, a pending batch, dead letters, groups) is built by the
default user, and then each command runs through click's CliRunner with the
operator's URL. A command that needed a right the rule lacks fails (NOPERM is
exit 1); a right the rule should not have is caught by the forbidden list.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result

from streamlib import GroupConsumer, Message, StreamProducer, StreamSettings
from streamlib.cli import cli
from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis
from tests.streamlib.cli.conftest import POISON
from tests.support.acl import add_role_user, is_noperm
from tests.support.helpers import quote

PASSWORD = "operator-Secret-3"
STREAM = "quotes"
DEAD = "quotes:dead"
GROUP = "quotes-consumers"


@pytest.fixture
def server(redis_factory: Callable[..., LocalRedis]) -> LocalRedis:
    return redis_factory()


@pytest.fixture
def admin(server: LocalRedis) -> redis.Redis:
    """The default (all-powerful) user: builds the state the operator inspects."""
    return client_from_url(server.url)


def build_state(admin: redis.Redis, url: str) -> None:
    """10 acked entries, 2 dead letters, then 5 more of which 3 are pending with ``stuck``.

    The consumer ``c1`` that drained the first 12 left the group when it was done.
    """
    StreamProducer(admin, STREAM).send_many([quote(n) for n in range(10)])
    admin.xadd(STREAM, POISON)  # type: ignore[arg-type]
    admin.xadd(STREAM, POISON)  # type: ignore[arg-type]
    settings = StreamSettings(redis_url=url, stream=STREAM, group=GROUP, consumer="c1")

    def handle(batch: Sequence[Message]) -> None:
        return None

    GroupConsumer(admin, settings, handle).run(burst=True)
    StreamProducer(admin, STREAM).send_many([quote(n) for n in range(10, 15)])
    admin.xreadgroup(GROUP, "stuck", {STREAM: ">"}, count=3)


def streamctl(url: str, *args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(cli, [*args, "--redis-url", url], input=input)
    assert "NOPERM" not in result.output and "no permissions" not in result.output, result.output
    return result


def ok_json(url: str, *args: str) -> Any:
    result = streamctl(url, *args, "--json")
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.stdout)


def test_every_streamctl_command_works_as_operator(server: LocalRedis, admin: redis.Redis) -> None:
    url = add_role_user(server, "operator", PASSWORD)
    build_state(admin, server.url)
    dead_ids = [i.decode() for i, _ in admin.xrange(DEAD)]
    assert len(dead_ids) == 2

    info = ok_json(url, "info")
    assert info["length"] == 17 and info["dead_letters"]["length"] == 2
    assert info["memory_bytes"] and info["groups"][0]["oldest_pending_id"]
    assert streamctl(url, "info").exit_code == 0
    assert ok_json(url, "pending")["pending"] == 3
    assert len(ok_json(url, "pending", "--details")["entries"]) == 3
    names = {c["name"] for c in ok_json(url, "consumers")["consumers"]}
    assert names == {"stuck"}

    # reclaim (an EVAL calling XAUTOCLAIM), then prune (an EVAL calling XPENDING, XGROUP).
    time.sleep(0.01)
    moved = ok_json(url, "reclaim", "--min-idle", "1", "--to", "rescuer")["moved"]
    assert len(moved) == 3
    assert ok_json(url, "consumers", "prune", "--idle", "1", "--dry-run")["dry_run"]
    time.sleep(0.01)
    pruned = ok_json(url, "consumers", "prune", "--idle", "1")["consumers"]
    assert {d["name"] for d in pruned if d["action"] == "deleted"} == {"stuck"}

    # Dead letters: list, show, replay (XADD main + XDEL dead), purge (XTRIM dead).
    assert ok_json(url, "dead", "list")["length"] == 2
    assert ok_json(url, "dead", "show", dead_ids[0])["id"] == dead_ids[0]
    assert len(ok_json(url, "dead", "replay", dead_ids[0])["replayed"]) == 1
    assert ok_json(url, "dead", "purge", "--yes")["removed"] == 1
    assert admin.xlen(DEAD) == 0

    # tail, trim, group create / setid / destroy.
    assert len(ok_json(url, "tail", "--count", "3")["entries"]) == 3
    assert streamctl(url, "tail").exit_code == 0
    assert ok_json(url, "trim", "--acked", "--dry-run")["dry_run"]
    assert ok_json(url, "trim", "--acked")["removed"] == 12  # everything before the pending 3
    created = ok_json(url, "group", "create", "--group", "audit", "--id", "$")
    assert created["created"]
    again = ok_json(url, "group", "create", "--group", "audit", "--no-mkstream")
    assert again["created"] is False
    assert ok_json(url, "group", "setid", "0", "--group", "audit", "--yes")["after"]
    assert ok_json(url, "group", "destroy", "--group", "audit", "--yes")["destroyed"]
    assert ok_json(url, "pending")["pending"] == 3  # the real group is untouched


def test_the_operator_can_do_nothing_more(server: LocalRedis, admin: redis.Redis) -> None:
    url = add_role_user(server, "operator", PASSWORD)
    build_state(admin, server.url)
    admin.set("unrelated", "x")
    op = client_from_url(url)
    delete_script = "return redis.call('DEL', KEYS[1])"
    forbidden: list[Callable[[], object]] = [
        lambda: op.flushall(),
        lambda: op.config_get("*"),
        lambda: op.keys("*"),
        lambda: op.get("unrelated"),
        lambda: op.xrange("other"),
        lambda: op.xadd("other", {"a": "1"}),
        lambda: op.delete(STREAM),
        lambda: op.xreadgroup(GROUP, "op", {STREAM: ">"}),
        lambda: op.xack(STREAM, GROUP, "0-1"),
        lambda: op.xadd(DEAD, {"a": "1"}),  # only consumers dead-letter
        lambda: op.xdel(STREAM, "0-1"),  # XDEL only on the dead-letter stream
        lambda: op.execute_command("XSETID", STREAM, "9999999999999-0"),
        lambda: op.eval(delete_script, 1, STREAM),  # a script is checked like its caller
        lambda: op.eval("return redis.call('GET', 'unrelated')", 0),
        lambda: op.execute_command("SCRIPT", "FLUSH"),
        lambda: op.execute_command("ACL", "LIST"),
        lambda: op.client_list(),
        lambda: op.execute_command("SHUTDOWN", "NOSAVE"),
    ]
    for n, call in enumerate(forbidden):
        with pytest.raises(redis.ResponseError) as info:
            call()
        assert is_noperm(info.value), (n, info.value)
    assert admin.exists(STREAM) and admin.get("unrelated") == b"x"
