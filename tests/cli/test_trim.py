"""trim --acked: removes what every group read and acknowledged, never more."""

from __future__ import annotations

import uuid

import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from streamlib import StreamSettings
from streamlib.ops import trim as retention
from tests.cli.conftest import Run, as_json, drain, produce


def read_and_ack(
    client: redis.Redis, stream: str, group: str, read: int, unacked: set[int]
) -> list[str]:
    """Create ``group`` at 0, read ``read`` entries, ack all but the ``unacked`` indexes."""
    client.xgroup_create(stream, group, id="0")
    if not read:
        return []
    reply = client.xreadgroup(group, "c", {stream: ">"}, count=read)
    got = [entry_id for entry_id, _ in reply[0][1]]
    acked = [entry_id for i, entry_id in enumerate(got) if i not in unacked]
    if acked:
        client.xack(stream, group, *acked)
    return [g.decode() for g in got]


def remaining(client: redis.Redis, stream: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in client.xrange(stream)]


def test_trim_keeps_what_the_slowest_group_needs(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    s = settings.stream
    ids = produce(client, settings, 20)
    read_and_ack(client, s, "done", 20, set())  # needs nothing before ids[19]+1
    read_and_ack(client, s, "holey", 12, {4})  # one unacked entry: needs from ids[4]
    read_and_ack(client, s, "behind", 7, set())  # read 7, acked 7: needs from ids[7]
    lags = {g["name"]: g["lag"] for g in as_json(run("info", "--json"))["groups"]}

    dry = as_json(run("trim", "--acked", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["removed"] == 4 and dry["threshold"] == ids[4]
    needs = {g["group"]: g["needs_from"] for g in dry["groups"]}
    assert needs["holey"] == ids[4] and needs["behind"] == ids[7]
    assert remaining(client, s) == ids

    table = run("trim", "--acked").stdout
    assert f"removed 4 of 20 entries (ids below {ids[4]})" in table
    assert remaining(client, s) == ids[4:]
    # Lag stays known (nothing a group hadn't read was deleted), and every group can go on.
    after = {g["name"]: g["lag"] for g in as_json(run("info", "--json"))["groups"]}
    assert after == lags
    for name in ("done", "holey", "behind"):
        drain(client, settings, group=name, min_idle_ms=1)
    assert as_json(run("trim", "--acked", "--json"))["removed"] == 16
    assert remaining(client, s) == []


def test_trim_with_a_group_moved_forward(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 5)
    client.xgroup_create(settings.stream, "late", id="$")  # only wants new entries
    assert as_json(run("trim", "--acked", "--json"))["removed"] == 5
    new = produce(client, settings, 7, start=5)
    assert remaining(client, settings.stream) == new
    assert ids


def test_trim_refuses_without_groups_unless_forced(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    produce(client, settings, 3)
    refused = run("trim", "--acked")
    assert refused.exit_code == 1 and "no consumer group" in refused.stderr
    assert client.xlen(settings.stream) == 3
    forced = as_json(run("trim", "--acked", "--force", "--json"))
    assert forced["removed"] == 3 and forced["forced"] is True
    assert client.xlen(settings.stream) == 0 and client.exists(settings.stream)


def test_trim_usage_and_missing_stream(run: Run, client: redis.Redis) -> None:
    assert run("trim").exit_code == 1
    assert run("trim", "--acked").exit_code == 3


positions = st.lists(
    st.tuples(st.integers(0, 30), st.sets(st.integers(0, 29), max_size=5)),
    min_size=1,
    max_size=3,
)


@hsettings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    n=st.integers(1, 30),
    groups=positions,
    setid=st.none() | st.integers(0, 30),
    rewind=st.none() | st.integers(0, 30),
)
def test_trim_never_removes_a_needed_entry(
    client: redis.Redis,
    n: int,
    groups: list[tuple[int, set[int]]],
    setid: int | None,
    rewind: int | None,
) -> None:
    """Random group positions and pending sets; also groups placed or rewound by SETID
    (their entries-read and lag become unknown: trim goes by ids, not counters)."""
    stream = f"prop-{uuid.uuid4().hex[:8]}"
    ids = [client.xadd(stream, {"n": str(i)}).decode() for i in range(n)]
    # What each group still needs, as indexes: its pending ones, and all from `next`.
    pending: dict[str, set[int]] = {}
    next_index: dict[str, int] = {}
    for number, (read, unacked) in enumerate(groups):
        read = min(read, n)
        read_and_ack(client, stream, f"g{number}", read, unacked)
        pending[f"g{number}"] = {i for i in unacked if i < read}
        next_index[f"g{number}"] = read
    if setid is not None:  # a group placed by XGROUP CREATE at an id, never read
        position = min(setid, n)
        client.xgroup_create(stream, "placed", id=ids[position - 1] if position else "0")
        pending["placed"], next_index["placed"] = set(), position
    if rewind is not None:  # g0 moved (back or forth) by SETID; keeps its pending list
        position = min(rewind, n)
        client.xgroup_setid(stream, "g0", ids[position - 1] if position else "0")
        next_index["g0"] = position
    needed = {ids[i] for g in pending for i in pending[g] | set(range(next_index[g], n))}
    first_needed = min(min([next_index[g], *pending[g]]) for g in pending)

    result = retention.trim_acked(client, StreamSettings(stream=stream))

    left = set(remaining(client, stream))
    assert needed <= left, f"removed needed entries: {sorted(needed - left)}"
    assert result.removed == first_needed == n - len(left)  # and nothing more is kept
    client.delete(stream)


def test_threshold_is_the_minimum_over_groups() -> None:
    from streamlib.streamids import StreamId

    a = retention.GroupNeed("a", StreamId(5, 2), None)
    b = retention.GroupNeed("b", StreamId(9, 0), StreamId(3, 1))
    assert a.needs_from == StreamId(5, 3)
    assert b.needs_from == StreamId(3, 1)
    assert retention.trim_threshold([a, b]) == StreamId(3, 1)
    assert retention.trim_threshold([]) is None
    assert StreamId(7, 2**64 - 1).successor() == StreamId(8, 0)
