from __future__ import annotations

import pytest
from click.testing import CliRunner

from streamlib import ConfigError, ConnectionOptions, StreamSettings, mask_url
from streamlib.connection import validate_url
from streamlib.settings import load, setting_fields

SECRET = "s3cr3t-Pa55"


def test_defaults_follow_the_design() -> None:
    s = StreamSettings()
    assert s.redis_url == "redis://localhost:6379/0"
    assert (s.stream, s.group) == ("quotes", "quotes-consumers")
    assert s.dead_letters == "quotes:dead"
    assert s.max_deliveries == 5
    host, _, pid = s.consumer.rpartition("-")
    assert host and pid.isdigit()


def test_from_env_reads_every_variable_and_overrides_win() -> None:
    env = {
        "REDIS_URL": "redis://r:6380/1",
        "STREAM": "s",
        "GROUP": "grp",
        "CONSUMER": "me",
        "BATCH_SIZE": "7",
        "BLOCK_MS": "9",
        "MIN_IDLE_MS": "1000",
        "MAX_DELIVERIES": "2",
    }
    s = StreamSettings.from_env(env, group="flag-group", batch_size=None)
    assert s.redis_url == "redis://r:6380/1"
    assert (s.stream, s.group, s.consumer) == ("s", "flag-group", "me")
    assert (s.batch_size, s.block_ms, s.min_idle_ms, s.max_deliveries) == (7, 9, 1000, 2)
    assert s.dead_letters == "s:dead"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BATCH_SIZE": "ten"}, "BATCH_SIZE='ten' is not a whole number"),
        ({"BATCH_SIZE": "0"}, "batch_size must be between 1 and 100000"),
        ({"MAX_DELIVERIES": "0"}, "max_deliveries must be >= 1"),
        ({"STREAM": " "}, "stream must be a non-empty string"),
        ({"REDIS_URL": "http://x"}, "scheme must be one of"),
        ({"REDIS_URL": "redis://h:99999"}, "invalid Redis URL"),
        ({"STREAM": "a", "DEAD_LETTER_STREAM": "a"}, "must differ"),
    ],
)
def test_bad_configuration_is_a_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StreamSettings.from_env(env)


def test_replace_keeps_dead_letter_stream_derived() -> None:
    s = StreamSettings(stream="a").replace(stream="b")
    assert s.dead_letters == "b:dead"
    custom = StreamSettings(stream="a", dead_letter_stream="dlq").replace(stream="b")
    assert custom.dead_letters == "dlq"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"redis://user:{SECRET}@host:6379/0", "redis://user:***@host:6379/0"),
        (f"redis://:{SECRET}@host/0", "redis://:***@host/0"),
        (f"rediss://u:{SECRET}@[::1]:6380", "rediss://u:***@[::1]:6380"),
        (f"unix://u:{SECRET}@/run/redis.sock?db=1", "unix://u:***@/run/redis.sock?db=1"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_password_is_masked_in_repr_and_errors() -> None:
    s = StreamSettings(redis_url=f"redis://u:{SECRET}@h:1/0")
    assert SECRET not in repr(s)
    assert SECRET not in str(s.masked())
    assert "u:***@h:1" in repr(s)
    with pytest.raises(ConfigError) as info:
        validate_url(f"ftp://u:{SECRET}@h")
    assert SECRET not in str(info.value)


def test_the_field_table_gives_each_setting_its_variable_default_and_help() -> None:
    rows = {row.name: row for row in setting_fields(StreamSettings)}
    assert rows["batch_size"].env == "BATCH_SIZE"
    assert rows["batch_size"].kind is int
    assert rows["batch_size"].default_text == str(StreamSettings().batch_size)
    assert rows["dead_letter_stream"].kind is str
    assert rows["consumer"].default_text == "<hostname>-<pid>"
    assert rows["min_idle_ms"].flag == "--min-idle-ms"
    # Credentials are read by the same loader, never shown with a default.
    assert {r.env for r in setting_fields(ConnectionOptions)} >= {
        "REDIS_PASSWORD",
        "REDIS_PASSWORD_FILE",
    }


def test_load_reads_the_environment_then_explicit_values_then_defaults() -> None:
    env = {"BATCH_SIZE": "9", "BLOCK_MS": "", "REDIS_PASSWORD": "pw"}
    s = StreamSettings.from_env(env, block_ms=None, max_deliveries=3)
    assert (s.batch_size, s.block_ms, s.max_deliveries) == (9, 2000, 3)
    assert s.connection.password == "pw"
    assert load(ConnectionOptions, {"REDIS_USERNAME": "u"}).username == "u"
    with pytest.raises(ConfigError, match="unknown settings: colour"):
        load(ConnectionOptions, {}, colour="red")


def test_help_texts_come_from_the_table() -> None:
    from consumer.__main__ import main

    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "Entries per read. [default: 500; env BATCH_SIZE]" in text
    assert "[default: sqlite:///quotes.db; env SINK]" in text


def test_a_setting_falls_back_to_other_variables_in_order() -> None:
    import dataclasses

    from streamlib.settings import setting

    @dataclasses.dataclass(frozen=True)
    class Where:
        url: str = setting("d", env="APP_URL", fallback_env=("URL", "OLD_URL"), help="h")
        port: int = setting(1, env="APP_PORT", fallback_env=("PORT",), help="h")

    assert load(Where, {}) == Where("d", 1)
    assert load(Where, {"OLD_URL": "old", "URL": "", "PORT": "2"}) == Where("old", 2)
    assert load(Where, {"OLD_URL": "old", "URL": "u", "APP_URL": "app"}).url == "app"
    assert load(Where, {"URL": "u"}, url="flag").url == "flag"
    with pytest.raises(ConfigError, match="PORT='x' is not a whole number"):
        load(Where, {"PORT": "x"})
    assert setting_fields(Where)[0].fallback_env == ("URL", "OLD_URL")


@pytest.mark.parametrize(
    ("raw", "value"), [("on", True), ("YES", True), ("1", True), ("off", False), ("False", False)]
)
def test_a_yes_no_setting_reads_the_usual_words(raw: str, value: bool) -> None:
    assert StreamSettings().read_ahead is True
    assert StreamSettings.from_env({"READ_AHEAD": raw}).read_ahead is value


def test_a_yes_no_setting_refuses_anything_else() -> None:
    with pytest.raises(ConfigError, match="READ_AHEAD='sometimes' is not one of 1/true/yes/on/"):
        StreamSettings.from_env({"READ_AHEAD": "sometimes"})


def test_a_yes_no_setting_is_a_flag_pair_that_wins_over_the_environment() -> None:
    import click

    from streamlib.cli.base import settings_options

    @click.command()
    @settings_options(StreamSettings, "read_ahead")
    def show(read_ahead: bool | None) -> None:
        env = {"READ_AHEAD": "off"}
        click.echo(StreamSettings.from_env(env, read_ahead=read_ahead).read_ahead)

    runner = CliRunner()
    assert runner.invoke(show, []).output == "False\n"  # not given: the environment's
    assert runner.invoke(show, ["--read-ahead"]).output == "True\n"
    assert runner.invoke(show, ["--no-read-ahead"]).output == "False\n"
    assert "--read-ahead / --no-read-ahead" in runner.invoke(show, ["--help"]).output
