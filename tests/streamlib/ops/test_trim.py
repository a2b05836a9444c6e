"""Safe trim: no entry a group still needs is ever removed (hypothesis, real Redis)."""

from __future__ import annotations

import uuid

import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from streamlib import StreamSettings
from streamlib.ops import trim
from streamlib.streamids import StreamId
from tests.support.helpers import read_and_ack, remaining

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

    result = trim.trim_acked(client, StreamSettings(stream=stream))

    left = set(remaining(client, stream))
    assert needed <= left, f"removed needed entries: {sorted(needed - left)}"
    assert result.removed == first_needed == n - len(left)  # and nothing more is kept
    client.delete(stream)


def test_threshold_is_the_minimum_over_groups() -> None:
    a = trim.GroupNeed("a", StreamId(5, 2), None)
    b = trim.GroupNeed("b", StreamId(9, 0), StreamId(3, 1))
    assert a.needs_from == StreamId(5, 3)
    assert b.needs_from == StreamId(3, 1)
    assert trim.trim_threshold([a, b]) == StreamId(3, 1)
    assert trim.trim_threshold([]) is None
    assert StreamId(7, 2**64 - 1).successor() == StreamId(8, 0)
