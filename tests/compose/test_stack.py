"""docker-compose.yml on a real Docker engine, as a user runs it, with its faults.

The steps run in order on one stack (each test starts where the previous left
it), every wait bounded:

1. the build context holds only what the image needs (``.dockerignore``);
2. ``--profile offline up --build --scale consumer=4`` and ``run --rm
   producer`` against the sample site: every quote and author stored once in
   PostgreSQL, 4 consumers, nothing pending, lag 0; ``streamctl`` as the
   operator works, as a consumer it is refused;
   then the ``monitoring`` profile: Prometheus finds the 4 replicas by DNS,
   all healthy, and a poison entry fires its dead-letter alert;
3. 30,000 more entries; a replica holding pending entries is killed: the
   others reclaim them, nothing lost, no row twice;
4. ``up -d --scale consumer=2`` during a flow: the two stopped replicas drain,
   exit 0 and leave the group; the producer did not run again;
5. ``restart redis`` during a flow: the AOF kept every entry and the group;
6. each role is refused a command outside its rights, and the default user is off;
7. Redis runs as a non-root user; no password is on any command line;
8. ``down -v`` leaves no container, network or volume.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from producer.sample_site import generate_site
from streamlib import StreamProducer, client_from_url
from tests.compose.stack import GROUP, PROJECT, ROOT, STREAM, Stack, fail_with_logs, say
from tests.support.helpers import quote, wait_for

pytestmark = [pytest.mark.compose, pytest.mark.timeout(900)]

#: Entries sent straight to the stream in steps 3, 4 and 5 (distinct keys).
BULK = (30_000, 20_000, 20_000)


class Ledger:
    """What the stream should hold: the site's records plus the entries sent here."""

    def __init__(self) -> None:
        self.site_quotes = 0
        self.site_authors = 0
        self.sent = 0  # bulk quotes, numbered 0 .. sent-1
        self.poison = 0  # entries that are no record (dead-lettered, never stored)

    @property
    def quotes(self) -> int:
        return self.site_quotes + self.sent

    def send(self, stack: Stack, count: int, *, retry_timeout: float = 30) -> None:
        """XADD ``count`` new quotes as the producer user."""
        client = client_from_url(stack.redis_url("producer"))
        try:
            start, self.sent = self.sent, self.sent + count
            StreamProducer(client, STREAM, retry_timeout=retry_timeout).send_many(
                quote(n) for n in range(start, start + count)
            )
        finally:
            client.close()


LEDGER = Ledger()


def wait_drained(stack: Stack, *, quotes: int, authors: int, timeout: float = 180) -> None:
    admin = stack.redis("operator")
    try:
        wait_for(
            lambda: stack.drained(admin) and stack.stored() == (quotes, authors),
            timeout=timeout,
            interval=0.5,
            what=f"{quotes} quotes and {authors} authors stored, nothing pending, lag 0",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{fail_with_logs(stack, ['consumer'])}") from None
    finally:
        admin.close()


def test_the_build_context_holds_only_what_the_image_needs(stack: Stack, tmp_path: Path) -> None:
    # Every top-level name of the repository (and a .env with its secrets) as a
    # stand-in, with the real .dockerignore; what reaches the daemon is listed.
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy(ROOT / ".dockerignore", context)
    for path in [*ROOT.iterdir(), ROOT / ".env", ROOT / ".git", ROOT / "tests", ROOT / "bench"]:
        if path.name == ".dockerignore":
            continue
        if path.is_file() or path.name == ".env":
            (context / path.name).write_text("")
        else:
            (context / path.name).mkdir(exist_ok=True)
            (context / path.name / "x.py").write_text("")
    for name in ("requirements/image.lock", "requirements/dev.lock", "streamlib/__pycache__/x.pyc"):
        (context / name).parent.mkdir(exist_ok=True)
        (context / name).write_text("")
    (context / "Dockerfile.probe").write_text(
        "FROM quotestream-standin/debian:bookworm\nCOPY . /context\n"
    )
    stack.docker(
        "build", "-q", "-f", str(context / "Dockerfile.probe"), "-t", "qs-probe", str(context)
    )
    try:
        listing = stack.docker("run", "--rm", "qs-probe", "find", "/context", "-mindepth", "1")
    finally:
        stack.docker("rmi", "qs-probe")
    sent = {line.removeprefix("/context/") for line in listing.split()}
    say(f"build context: {sorted(sent)}")
    assert sent == {
        "README.md",
        "pyproject.toml",
        "scrapy.cfg",
        "requirements",
        "requirements/image.lock",
        "streamlib",
        "streamlib/x.py",
        "producer",
        "producer/x.py",
        "consumer",
        "consumer/x.py",
    }


def test_scaled_to_4_the_stack_stores_the_offline_site_once(stack: Stack, tmp_path: Path) -> None:
    config = stack.config()
    pages = int(config["services"]["site"]["command"][4])
    expected = generate_site(tmp_path / "site", pages=pages)
    LEDGER.site_quotes, LEDGER.site_authors = len(expected.quotes), len(expected.authors)

    say("up --build --scale consumer=4 (with the offline site)")
    started = time.monotonic()
    stack.compose("up", "-d", "--build", "--scale", "consumer=4", profiles=["offline"], timeout=600)
    say(f"up: {time.monotonic() - started:.1f}s")
    assert len(stack.containers("consumer")) == 4
    assert not stack.containers("producer", all_states=True)  # not part of `up`

    say("run --rm producer (one crawl of http://site:8000/)")
    crawl_started = time.monotonic()
    crawl = stack.run("producer")
    assert "'item_scraped_count': " in crawl.stderr + crawl.stdout
    wait_for(lambda: stack.stored()[0] > 0, timeout=60, interval=0.2, what="a first quote stored")
    say(f"first quote stored {time.monotonic() - crawl_started:.1f}s after the crawl started")
    wait_drained(stack, quotes=LEDGER.quotes, authors=LEDGER.site_authors)
    say(f"{LEDGER.quotes} quotes, {LEDGER.site_authors} authors stored, nothing pending, lag 0")

    admin = stack.redis("operator")
    assert admin.xlen(STREAM) == LEDGER.site_quotes + LEDGER.site_authors
    info = stack.group(admin)
    assert info is not None and (info["consumers"], info["pending"], info["lag"]) == (4, 0, 0)
    admin.close()
    with stack.postgres() as conn:
        row = conn.execute("SELECT count(DISTINCT text) FROM quotes").fetchone()
    assert row == (LEDGER.site_quotes,)

    for command in ("info", "pending"):
        done = stack.run("streamctl", command)
        assert GROUP in done.stdout or "pending" in done.stdout, done.stdout
    info_json = stack.run("streamctl", "info", "--json").stdout
    assert '"consumers": 4' in info_json
    # The replicas' credentials are not the operator's: streamctl there is refused.
    refused = stack.run("consumer", "streamctl", "info", check=False)
    assert refused.returncode != 0 and "no permissions" in refused.stderr, refused.stderr


def test_prometheus_sees_the_4_replicas_and_a_dead_letter_fires_its_alert(stack: Stack) -> None:
    say("--profile monitoring up -d prometheus")
    stack.compose("up", "-d", "--no-deps", "prometheus", profiles=["monitoring"])

    def healthy_targets() -> list[str]:
        found = stack.prometheus("targets") or {"activeTargets": []}
        return [
            t["labels"]["instance"]
            for t in found["activeTargets"]
            if t["labels"]["job"] == "consumer" and t["health"] == "up"
        ]

    def alerts(state: str) -> list[dict[str, str]]:
        found = stack.prometheus("alerts") or {"alerts": []}
        return [a["labels"] for a in found["alerts"] if a["state"] == state]

    try:
        targets = wait_for(
            lambda: (found := healthy_targets()) and len(found) == 4 and found,
            timeout=120,
            interval=1,
            what="Prometheus scraping 4 healthy replicas",
        )
        say(f"Prometheus scrapes {sorted(targets)}")
        addresses = {
            f"{next(iter(info['NetworkSettings']['Networks'].values()))['IPAddress']}:9100"
            for info in stack.inspect(*stack.containers("consumer"))
        }
        assert set(targets) == addresses  # found by DNS on the service name, every replica
        wait_for(
            lambda: stack.prometheus("query?query=streamlib_group_pending")["result"],
            timeout=60,
            what="the group gauges scraped",
        )
        assert alerts("firing") == []

        producer = stack.redis("producer")
        producer.xadd(STREAM, {"v": "1", "type": "quote", "key": "poison", "ts": "1", "data": "{"})
        producer.close()
        LEDGER.poison += 1
        fired = wait_for(
            lambda: alerts("firing"), timeout=120, interval=1, what="an alert on the dead letter"
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{fail_with_logs(stack, ['prometheus'])}") from None
    assert [(a["alertname"], a["stream"], a["group"]) for a in fired] == [
        ("StreamlibDeadLetters", STREAM, GROUP)
    ]
    say("a poison entry fired StreamlibDeadLetters")
    wait_drained(stack, quotes=LEDGER.quotes, authors=LEDGER.site_authors)
    # streamctl top, as the operator, in the image: the same picture from Redis.
    frame = json.loads(stack.run("streamctl", "top", "--once", "--json").stdout)
    [row] = frame["groups"]
    assert (row["group"], row["lag"], row["pending"], row["dead_letters"]) == (GROUP, 0, 0, 1)
    assert len(frame["consumers"]) == 4


def _holder(stack: Stack, admin: redis.Redis) -> tuple[str, str] | None:
    """A consumer holding pending entries, and its container (hostname-pid names)."""
    summary = admin.xpending(STREAM, GROUP)
    by_host = {cid[:12]: cid for cid in stack.containers("consumer")}
    for row in summary["consumers"]:
        name = row["name"].decode()
        if int(row["pending"]) > 0 and name.split("-")[0] in by_host:
            return name, by_host[name.split("-")[0]]
    return None


def test_a_killed_replica_s_entries_are_reclaimed_by_the_others(stack: Stack) -> None:
    admin = stack.redis("operator")
    sender = threading.Thread(target=LEDGER.send, args=(stack, BULK[0]))
    sender.start()
    victim: tuple[str, str, int] | None = None
    for _ in range(5):  # it may ack its last batch just before it dies: then another try
        found = wait_for(
            lambda: _holder(stack, admin), timeout=60, what="a replica holding entries"
        )
        name, container = found
        stack.docker("kill", container)
        held = len(admin.xpending_range(STREAM, GROUP, "-", "+", 10_000, name))
        if held:
            victim = (name, container, held)
            break
        stack.docker("start", container)
    assert victim is not None, "no replica died holding entries in 5 tries"
    name, container, held = victim
    say(f"killed replica {name} holding {held} pending entries")
    sender.join(120)
    assert not sender.is_alive()

    wait_drained(stack, quotes=LEDGER.quotes, authors=LEDGER.site_authors)
    assert not admin.xpending_range(STREAM, GROUP, "-", "+", 1, name)
    [state] = stack.inspect(container)
    assert state["State"]["Status"] == "exited"  # so the others took its entries
    say(f"its {held} entries were reclaimed by the others; {LEDGER.quotes} quotes stored once")
    admin.close()
    # Back to 4 (the killed container starts again under its old name).
    stack.compose("up", "-d", "--scale", "consumer=4", profiles=["offline"])


def test_scaling_down_during_a_flow_drains_and_leaves_the_group(stack: Stack) -> None:
    admin = stack.redis("operator")
    wait_for(lambda: len(stack.consumer_names(admin)) == 4, timeout=60, what="4 replicas")
    before = set(stack.containers("consumer"))
    since = stack.docker("info", "--format", "{{.SystemTime}}").strip()
    sender = threading.Thread(target=LEDGER.send, args=(stack, BULK[1]))
    sender.start()
    wait_for(lambda: (stack.group(admin) or {}).get("lag", 0) > 0, timeout=60, what="a flow")
    say("up -d --scale consumer=2 during a flow")
    stack.compose("up", "-d", "--scale", "consumer=2", profiles=["offline"])
    sender.join(120)
    assert not sender.is_alive()

    until = stack.docker("info", "--format", "{{.SystemTime}}").strip()
    died = stack.docker(
        "events", "--since", since, "--until", until,
        "--filter", "type=container", "--filter", "event=die",
        "--filter", f"label=com.docker.compose.project={PROJECT}",
        "--filter", "label=com.docker.compose.service=consumer",
        "--format", "{{.ID}} {{.Actor.Attributes.exitCode}}",
    ).split("\n")  # fmt: skip
    exits = dict(line.split() for line in died if line.strip())
    remaining = set(stack.containers("consumer"))
    assert len(remaining) == 2 and remaining < before
    assert exits == {cid: "0" for cid in before - remaining}, exits
    say(f"the 2 stopped replicas exited {sorted(exits.values())}")

    wait_drained(stack, quotes=LEDGER.quotes, authors=LEDGER.site_authors)
    names = stack.consumer_names(admin)
    assert {n.split("-")[0] for n in names} == {cid[:12] for cid in remaining}, names
    # The producer did not run again: no container of it, no second crawl's entries.
    assert not stack.containers("producer", all_states=True)
    assert admin.xlen(STREAM) == LEDGER.quotes + LEDGER.site_authors + LEDGER.poison
    say(f"group: {len(names)} consumers; stream: {admin.xlen(STREAM)} entries, no re-crawl")
    admin.close()


def test_a_redis_restart_during_a_flow_loses_nothing(stack: Stack) -> None:
    admin = stack.redis("operator")
    sender = threading.Thread(
        target=LEDGER.send, args=(stack, BULK[2]), kwargs={"retry_timeout": 120}
    )
    sender.start()
    wait_for(lambda: (stack.group(admin) or {}).get("lag", 0) > 0, timeout=60, what="a flow")
    length, group = admin.xlen(STREAM), stack.group(admin)
    assert group is not None
    say(f"restart redis (stream {length} entries, group at {group['last-delivered-id']})")
    admin.close()
    stack.compose("restart", "redis", timeout=120)

    admin = stack.redis("operator")
    wait_for(lambda: _answers(admin), timeout=60, what="Redis back")
    after = stack.group(admin)
    assert admin.xlen(STREAM) >= length  # the AOF kept every entry...
    assert after is not None  # ...and the group, where it was or further on
    assert _id(after["last-delivered-id"]) >= _id(group["last-delivered-id"])
    sender.join(180)
    assert not sender.is_alive()
    wait_drained(stack, quotes=LEDGER.quotes, authors=LEDGER.site_authors)
    restarts = [c["RestartCount"] for c in stack.inspect(*stack.containers("consumer"))]
    assert restarts == [0, 0]  # the replicas rode it out, no crash
    say(f"after the restart: {LEDGER.quotes} quotes stored once, the replicas never restarted")
    admin.close()


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return False


def _id(entry_id: Any) -> tuple[int, int]:
    ms, seq = str(entry_id).split("-")
    return int(ms), int(seq)


def test_each_role_is_refused_outside_its_rights(stack: Stack) -> None:
    refusals = {
        "producer": lambda c: c.xreadgroup(GROUP, "intruder", {STREAM: ">"}, count=1),
        "consumer": lambda c: c.xadd(STREAM, {"v": "1"}),
        "operator": lambda c: c.flushall(),
    }
    for role, forbidden in refusals.items():
        client = stack.redis(role)
        assert client.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden(client)
        client.close()
    anonymous = stack.redis(None)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()  # the default user is off
    anonymous.close()
    with pytest.raises(redis.AuthenticationError):
        stack.redis("default", "anything").ping()
    say("NOPERM for each role outside its rights; no default user")


def test_redis_is_not_root_and_no_password_is_on_a_command_line(stack: Stack) -> None:
    [redis_id] = stack.containers("redis")
    top = stack.docker("top", redis_id, "-eo", "pid,uid,args")  # docker top needs the pid
    [server] = [line for line in top.splitlines() if "redis-server" in line]
    uid = server.split()[1]
    assert uid != "0", top
    owners = stack.docker("exec", redis_id, "stat", "-c", "%u %n", "/data/appendonlydir")
    assert owners.split()[0] != "0", owners

    secrets = list(stack.passwords.values())
    everything = stack.inspect(*stack.containers(all_states=True))
    for info in everything:
        config = info["Config"]
        argv = [
            info["Path"],
            *info["Args"],
            *(config.get("Cmd") or []),
            *(config.get("Entrypoint") or []),
        ]
        argv += (config.get("Healthcheck") or {}).get("Test") or []
        leaked = [s for s in secrets if any(s in a for a in argv)]
        assert not leaked, (info["Name"], argv)
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert not [s for s in secrets if s in processes]
    for cid in stack.containers():
        listing = stack.docker("top", cid, "-eo", "pid,args")
        assert not [s for s in secrets if s in listing], listing
    say(f"redis-server runs as uid {uid}; no password in {len(everything)} containers' commands")


def test_down_v_leaves_nothing_behind(stack: Stack) -> None:
    stack.down()
    label = f"label=com.docker.compose.project={PROJECT}"
    assert not stack.containers(all_states=True)
    assert not stack.docker("volume", "ls", "-q", "--filter", label).split()
    assert not stack.docker("network", "ls", "-q", "--filter", label).split()
    say("down -v: no container, volume or network left")
