"""Exit codes (0 ok, 1 usage, 2 unreachable, 3 not found) and a password never shown."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis
from click.testing import CliRunner

from streamlib import GroupConsumer, StreamSettings
from streamlib.cli import cli
from streamlib.connection import client_from_url
from streamlib.durations import parse_duration_ms
from streamlib.errors import ConfigError
from streamlib.testing import LocalRedis, free_port
from tests.streamlib.cli.conftest import POISON, Run, as_json, parts, produce

SECRET = "s3cret-Pa55"


def test_usage_errors_exit_1(run: Run, client: redis.Redis) -> None:
    for args in (
        ["nope"],
        ["pending", "--count", "0"],
        ["reclaim"],
        ["pending", "--min-idle", "5x"],
    ):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
    bad_url = CliRunner().invoke(cli, ["info", "--redis-url", "http://x"])
    assert bad_url.exit_code == 1 and "scheme" in bad_url.stderr


def test_missing_stream_or_group_exits_3(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    for args in (["info"], ["pending"], ["consumers"], ["reclaim", "--min-idle", "1"]):
        result = run(*args)
        assert result.exit_code == 3, (args, result.output)
        assert f"stream {settings.stream!r} not found" in result.stderr
    produce(client, settings, 1)
    for args in (["pending"], ["consumers", "--json"], ["consumers", "prune", "--idle", "1s"]):
        result = run(*args)
        assert result.exit_code == 3, (args, result.output)
        assert f"group {settings.group!r} not found" in result.stderr
        assert result.stdout == ""


def test_unreachable_redis_exits_2() -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    result = CliRunner().invoke(cli, ["info", "--redis-url", url, "--timeout", "0.2", "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "did not answer" in result.stderr
    assert SECRET not in result.output


def test_env_vars_select_the_target(client: redis.Redis, settings: StreamSettings) -> None:
    produce(client, settings, 2)
    env = {"REDIS_URL": settings.redis_url, "STREAM": settings.stream, "GROUP": "other"}
    result = CliRunner().invoke(cli, ["info", "--json"], env=env)
    assert as_json(result)["length"] == 2
    assert CliRunner().invoke(cli, ["pending"], env=env).exit_code == 3  # no group "other"


@pytest.mark.parametrize(
    "durations",
    [
        ("250", 250),
        ("250ms", 250),
        ("30s", 30_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
    ],
)
def test_durations(durations: tuple[str, int]) -> None:
    text, ms = durations
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("bad", ["", "1.5s", "-1", "5 weeks", "s"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration_ms(bad)


def _with_acl_user(factory: Callable[..., LocalRedis]) -> str:
    server = factory(extra_args=["--user", "ops", "on", f">{SECRET}", "~*", "&*", "+@all"])
    return f"redis://ops:{SECRET}@127.0.0.1:{server.port}/0"


def _with_requirepass(factory: Callable[..., LocalRedis]) -> str:
    # LocalRedis.start() PINGs without a password, so requirepass is set once it runs.
    server = factory()
    admin = client_from_url(server.url)
    admin.config_set("requirepass", SECRET)
    admin.close()
    return f"redis://:{SECRET}@127.0.0.1:{server.port}/0"


@pytest.mark.parametrize("make_url", [_with_acl_user, _with_requirepass])
def test_password_never_printed(
    redis_factory: Callable[..., LocalRedis],
    make_url: Callable[[Callable[..., LocalRedis]], str],
) -> None:
    url = make_url(redis_factory)
    c = client_from_url(url)
    settings = StreamSettings(redis_url=url, stream="s", group="g", consumer="c", block_ms=10)
    produce(c, settings, 3)
    c.xadd("s", POISON)
    GroupConsumer(c, settings, lambda batch: None).run(burst=True)
    dead_id = c.xrange("s:dead")[0][0].decode()
    c.close()

    runner = CliRunner()
    base = ["--redis-url", url, "--stream", "s", "--group", "g"]
    outputs = []
    for args in (
        ["info"],
        ["info", "--json"],
        ["pending", "--details", "--json"],
        ["consumers"],
        ["dead", "list", "--json"],
        ["dead", "show", dead_id],
        ["tail", "--json"],
        ["trim", "--acked", "--dry-run", "--json"],
        ["pending", "--group", "missing"],  # exit 3, error on stderr
    ):
        result = runner.invoke(cli, [*args, *base])
        assert result.exit_code in (0, 3), (args, result.output)
        outputs.append(result.output)
    info = as_json(runner.invoke(cli, ["info", "--json", *base]))
    assert info["redis_url"].endswith(f":***@127.0.0.1:{url.rsplit(':', 1)[1]}")

    wrong = url.replace(SECRET, SECRET + "-wrong")
    refused = runner.invoke(cli, ["info", *base[2:], "--redis-url", wrong])
    assert refused.exit_code == 2 and "refused the credentials" in refused.stderr
    outputs.append(refused.output)
    assert not any(SECRET in out for out in outputs)


def test_missing_stream_or_group_across_partitions_exits_3(
    run4: Run, client: redis.Redis, settings4: StreamSettings
) -> None:
    for args in (
        ["info"], ["pending"], ["consumers"], ["reclaim", "--min-idle", "1"], ["tail"],
        ["trim", "--acked"], ["group", "destroy", "--yes"],
    ):  # fmt: skip
        result = run4(*args)
        assert result.exit_code == 3, (args, result.output)
        assert "none of its 4 partitions exists" in result.stderr
    produce(client, settings4, 8)
    for args in (["pending"], ["consumers", "prune", "--idle", "1s"], ["group", "setid", "0"]):
        result = run4(*args)
        assert result.exit_code == 3, (args, result.output)
        assert f"group {settings4.group!r} not found on any of the 4 partitions" in result.stderr


def test_env_vars_select_the_partitions(client: redis.Redis, settings4: StreamSettings) -> None:
    produce(client, settings4, 8)
    env = {
        "REDIS_URL": settings4.redis_url,
        "STREAM": settings4.stream,
        "PARTITIONS": str(settings4.partitions),
    }
    doc = as_json(CliRunner().invoke(cli, ["info", "--json"], env=env))
    assert [p["stream"] for p in doc["partitions"]] == [p.stream for p in parts(settings4)]
    assert doc["length"] == 8
    bad = CliRunner().invoke(cli, ["info", "--partition", "4"], env=env)
    assert bad.exit_code == 1 and "between 0 and 3" in bad.stderr
