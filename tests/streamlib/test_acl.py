"""Each role works with exactly its ACL rule, and can do nothing more."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from streamlib import (
    BatchResult,
    GroupConsumer,
    Message,
    PartitionedConsumer,
    PartitionedProducer,
    StreamProducer,
    StreamSettings,
    acl,
    connect,
    parse_dead_letter,
)
from streamlib.cli import cli
from streamlib.flow import GroupLag, LagLimits, Throttle
from streamlib.testing import LocalRedis
from tests.support.helpers import quote, wait_for, wait_until

PASSWORD = "role-Secret-7"


@pytest.fixture
def server(redis_factory: Callable[..., LocalRedis]) -> LocalRedis:
    return redis_factory()


def user_client(server: LocalRedis, role: str, stream: str, dead: str) -> redis.Redis:
    admin = connect(server.url)
    admin.execute_command(
        "ACL", "SETUSER", role, "reset", "on", f">{PASSWORD}", *acl.rules(role, stream, dead)
    )
    return connect(f"redis://{role}:{PASSWORD}@127.0.0.1:{server.port}/0", timeout=5)


def test_producer_can_add_and_read_lag_but_not_read_entries_or_ack(server: LocalRedis) -> None:
    admin = connect(server.url)
    admin.xgroup_create("quotes", "g", id="0", mkstream=True)
    producer = user_client(server, "producer", "quotes", "quotes:dead")
    assert len(StreamProducer(producer, "quotes").send_many([quote(n) for n in range(3)])) == 3
    assert producer.xinfo_groups("quotes")[0]["lag"] == 3  # backpressure's read
    forbidden = [
        lambda: producer.xrange("quotes"),
        lambda: producer.xread({"quotes": "0"}),
        lambda: producer.xreadgroup("g", "p", {"quotes": ">"}),
        lambda: producer.xack("quotes", "g", "0-1"),
        lambda: producer.xadd("other", {"a": "1"}),
        lambda: producer.delete("quotes"),
        lambda: producer.xtrim("quotes", minid="0-1"),
        lambda: producer.flushall(),
    ]
    for call in forbidden:
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()
    assert admin.xlen("quotes") == 3


def test_consumer_runs_the_whole_loop_with_its_rule_only(server: LocalRedis) -> None:
    admin = connect(server.url)
    StreamProducer(admin, "quotes").send_many([quote(n) for n in range(20)])
    admin.xadd("quotes", {"poison": "1"})
    client = user_client(server, "consumer", "quotes", "quotes:dead")
    settings = StreamSettings(
        redis_url=server.url, stream="quotes", consumer="c1", min_idle_ms=50, max_deliveries=1
    )
    calls: list[int] = []

    def handler(batch: Sequence[Message]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("first batch fails: retried via XAUTOCLAIM")

    consumer = GroupConsumer(client, settings, handler)
    consumer.run(burst=True)
    other = GroupConsumer(client, settings.replace(consumer="c2"), handler)
    wait_for(
        lambda: other.run(burst=True) and admin.xpending("quotes", settings.group)["pending"] == 0,
        what="reclaim and dead letters under the consumer's ACL",
    )
    assert admin.xlen("quotes:dead") >= 1  # poison (and the over-delivered) moved with XADD
    forbidden = [
        lambda: client.xadd("quotes", {"a": "1"}),  # no writing to the main stream
        lambda: client.xtrim("quotes", minid="0-1"),
        lambda: client.xrange("quotes:dead"),
        lambda: client.delete("quotes"),
        lambda: client.xreadgroup("g", "c", {"other": ">"}),
        lambda: client.flushall(),
    ]
    for call in forbidden:
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()


def test_consumer_renews_its_lease_and_dead_letters_as_written_with_its_rule_only(
    server: LocalRedis,
) -> None:
    # A batch held past min-idle is renewed (the lease's script: EVALSHA,
    # SCRIPT LOAD, XPENDING, XCLAIM), and a rejected entry is read again
    # (XRANGE) for its dead letter, both with the consumer's rule only.
    admin = connect(server.url)
    StreamProducer(admin, "quotes").send_many([quote(n) for n in range(3)])
    client = user_client(server, "consumer", "quotes", "quotes:dead")
    settings = StreamSettings(redis_url=server.url, stream="quotes", min_idle_ms=300)
    renewed: list[bool] = []

    def hold_then_reject(batch: Sequence[Message]) -> BatchResult:
        # Renewed every 0.1 s: two renewals are due within a second.
        renewed.append(wait_until(lambda: consumer._lease.renewals >= 2, timeout=10))
        return BatchResult(rejected={batch[0].id: "refused"})

    consumer = GroupConsumer(client, settings, hold_then_reject)
    consumer.run(burst=True)
    assert renewed == [True]
    stats = consumer.stats
    assert (stats.reclaimed, stats.acked, stats.dead_lettered) == (0, 2, 1)
    letter = parse_dead_letter(*admin.xrange("quotes:dead")[0])
    assert letter.fields == admin.xrange("quotes")[0][1]


def test_consumer_and_producer_work_over_partitions_with_their_rules_only(
    server: LocalRedis,
) -> None:
    admin = connect(server.url)
    rules = {role: acl.rules(role, "quotes", "quotes:dead", 3) for role in acl.ROLES}
    assert "~{quotes:2}" in rules["consumer"] and "~quotes" not in rules["consumer"]
    assert rules["consumer"][-1] == "(~{quotes:0}:dead ~{quotes:1}:dead ~{quotes:2}:dead +xadd)"
    for role, tokens in rules.items():
        admin.execute_command("ACL", "SETUSER", role, "reset", "on", f">{PASSWORD}", *tokens)
    url = f"redis://{{role}}:{PASSWORD}@127.0.0.1:{server.port}/0"
    producer = connect(url.format(role="producer"), timeout=5)
    PartitionedProducer(producer, "quotes", 3).send_many([quote(n) for n in range(30)])
    admin.xadd("{quotes:1}", {"poison": "1"})
    settings = StreamSettings(redis_url=url.format(role="consumer"), partitions=3, consumer="c1")
    consumer = connect(settings.redis_url, timeout=5)
    stored: list[str] = []
    replica = PartitionedConsumer(
        settings, lambda batch: stored.extend(m.id for m in batch), client_factory=lambda: consumer
    )
    replica.run(burst=True)
    assert len(stored) == 30
    assert admin.xlen("{quotes:1}:dead") == 1  # the poison entry, dead-lettered in its slot
    for call in (
        lambda: consumer.xadd("{quotes:0}", {"a": "1"}),  # no writing to a partition
        lambda: consumer.xrange("{quotes:0}:dead"),
        lambda: consumer.xreadgroup("g", "c", {"quotes": ">"}),  # nor the unpartitioned name
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()


def test_rules_escape_glob_characters_and_refuse_unknown_roles() -> None:
    assert "~weird\\*name" in acl.rules("producer", "weird*name", "weird*name:dead")
    assert acl.setuser_line("p", "producer", "quotes", "quotes:dead").startswith(
        "ACL SETUSER p reset on >PASSWORD resetkeys"
    )
    with pytest.raises(ValueError, match="unknown role"):
        acl.rules("admin", "quotes", "quotes:dead")


def test_docs_show_exactly_the_rules_the_code_grants() -> None:
    """docs/security.md documents each role's rule: code and docs can't drift apart."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    documented = {line.split()[2]: line for line in doc.splitlines() if line.startswith("ACL ")}
    assert set(documented) == set(acl.ROLES)
    for role in acl.ROLES:
        assert documented[role] == acl.setuser_line(role, role, "quotes", "quotes:dead")


def test_acl_file_from_streamctl_loads_in_redis_with_the_default_user_off(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passwords = {"producer": "p w#1", "consumer": "c:2", "operator": "o/3"}
    for role, password in passwords.items():
        monkeypatch.setenv(f"REDIS_{role.upper()}_PASSWORD", password)
    users, ping = tmp_path / "users.acl", tmp_path / "healthcheck.password"
    result = CliRunner().invoke(
        cli, ["acl", "file", str(users), "--healthcheck-password-file", str(ping)]
    )
    assert result.exit_code == 0, result.output
    text = users.read_text()
    assert not any(p in text for p in passwords.values())  # hashes only
    assert oct(ping.stat().st_mode & 0o777) == "0o600"
    again = CliRunner().invoke(
        cli, ["acl", "file", str(users), "--healthcheck-password-file", str(ping)]
    )
    assert again.exit_code == 0 and users.read_text() == text  # the same healthcheck password

    server = redis_factory(extra_args=["--aclfile", str(users)])
    url = f"redis://127.0.0.1:{server.port}/0"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(url).ping()  # the default user is off
    for role, password in passwords.items():
        client = redis.Redis.from_url(url, username=role, password=password)
        assert client.ping()  # logged in with the password from the environment
        client.close()
        [line] = [x for x in text.splitlines() if x.startswith(f"user {role} ")]
        assert line.endswith(" ".join(acl.rules(role, "quotes", "quotes:dead")))
    producer = redis.Redis.from_url(url, username="producer", password=passwords["producer"])
    producer.xadd("quotes", {"a": "1"})
    with pytest.raises(redis.exceptions.NoPermissionError):
        producer.xrange("quotes")  # the loaded rule is the role's, not more
    partitioned = CliRunner().invoke(cli, ["acl", "file", str(users), "--partitions", "2"])
    assert partitioned.exit_code == 0, partitioned.output
    [line] = [x for x in users.read_text().splitlines() if x.startswith("user consumer ")]
    assert line.endswith(" ".join(acl.rules("consumer", "quotes", "quotes:dead", 2)))
    assert "{quotes:1}:dead" in line
    checker = redis.Redis.from_url(url, username="healthcheck", password=ping.read_text().strip())
    assert checker.ping()
    with pytest.raises(redis.exceptions.NoPermissionError):
        checker.xlen("quotes")


def test_the_producer_role_reads_the_lag_from_an_acl_file_on_every_partition(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    """Flow control as the producer: XINFO GROUPS on each partition, and nothing more."""
    users = tmp_path / "users.acl"
    rules = {role: acl.rules(role, "quotes", "quotes:dead", 3) for role in acl.ROLES}
    users.write_text(acl.acl_file({role: (PASSWORD, r) for role, r in rules.items()}))
    server = redis_factory(extra_args=["--aclfile", str(users)])
    url = f"redis://{{}}:{PASSWORD}@127.0.0.1:{server.port}/0"
    operator, producer = connect(url.format("operator")), connect(url.format("producer"))
    for i in range(3):
        operator.xgroup_create(f"{{quotes:{i}}}", "g", id="0", mkstream=True)
    PartitionedProducer(producer, "quotes", 3).send_many([quote(n) for n in range(30)])
    lag = GroupLag(producer, "quotes", "g", partitions=3)
    throttle = Throttle(lag, LagLimits(high=30, low=10))
    assert throttle.check() and throttle.lag == 30 and lag.unknown_kind == ""
    gated = PartitionedProducer(producer, "quotes", 3, group="g", max_lag=100)
    assert len(gated.send_many([quote(n) for n in range(30, 60)])) == 30
    assert all(p.gate is not None and p.gate.readings for p in gated.producers)
    for call in (
        lambda: producer.xinfo_stream("{quotes:0}"),  # XINFO GROUPS only
        lambda: producer.xinfo_consumers("{quotes:0}", "g"),
        lambda: producer.xpending("{quotes:0}", "g"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            call()


def test_acl_file_needs_every_roles_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_PRODUCER_PASSWORD", "p")
    monkeypatch.delenv("REDIS_CONSUMER_PASSWORD", raising=False)
    monkeypatch.delenv("REDIS_OPERATOR_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["acl", "file", str(tmp_path / "users.acl")])
    assert result.exit_code == 1
    assert "REDIS_CONSUMER_PASSWORD, REDIS_OPERATOR_PASSWORD" in result.output
    assert not (tmp_path / "users.acl").exists()
    with pytest.raises(ValueError, match="needs a password"):
        acl.acl_file({"producer": ("", acl.rules("producer", "quotes", "quotes:dead"))})


def test_a_restart_from_the_aof_keeps_the_group_under_the_acl_file(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    """The group's reads and dead letters are transactions in the AOF: none is lost."""
    users = tmp_path / "users.acl"
    rules = {role: acl.rules(role, "quotes", "quotes:dead") for role in acl.ROLES}
    users.write_text(acl.acl_file({role: (PASSWORD, r) for role, r in rules.items()}))
    server = redis_factory(persistent=True, extra_args=["--aclfile", str(users)])
    url = f"redis://{{}}:{PASSWORD}@127.0.0.1:{server.port}/0"
    StreamProducer(connect(url.format("producer")), "quotes").send_many(
        [quote(n) for n in range(10)]
    )
    consumer = connect(url.format("consumer"))
    settings = StreamSettings(redis_url=server.url, stream="quotes", consumer="c1", batch_size=4)

    def reject_one(batch: Sequence[Message]) -> BatchResult:
        consumer_loop.stop()  # after the first batch of 4: 1 dead letter, 3 acknowledged
        return BatchResult(rejected={batch[0].id: "refused"})

    consumer_loop = GroupConsumer(consumer, settings, reject_one)
    consumer_loop.run()
    consumer.xreadgroup(settings.group, "holder", {"quotes": ">"}, count=2)  # 2 stay pending

    def state() -> tuple[object, ...]:
        operator = connect(url.format("operator"))
        [group] = operator.xinfo_groups("quotes")
        pending = [
            (p["message_id"], p["consumer"], p["times_delivered"])
            for p in operator.xpending_range("quotes", settings.group, "-", "+", 100)
        ]
        dead = operator.xlen("quotes:dead")
        operator.close()
        return group["last-delivered-id"], group["consumers"], pending, dead

    before = state()
    assert before[1:] != (0, [], 0)  # something to lose: read ids, a holder, a dead letter
    server.stop()  # SIGTERM: a clean shutdown, the AOF is complete
    server.start()
    assert state() == before
