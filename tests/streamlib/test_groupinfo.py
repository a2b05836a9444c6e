"""``streamlib.groupinfo``: a group as XINFO GROUPS reports it, alone and over partitions."""

from __future__ import annotations

import pytest
import redis

from streamlib import GroupInfo
from streamlib.groupinfo import across_partitions, combined, group, groups


def test_groups_of_a_missing_stream_and_a_real_one(client: redis.Redis) -> None:
    assert groups(client, "nothing-here") == []
    client.xadd("s", {"a": "1"})
    client.xadd("s", {"a": "2"})
    client.xgroup_create("s", "g", id="0")
    client.xreadgroup("g", "c", {"s": ">"}, count=1)
    [info] = groups(client, "s")
    assert (info.name, info.consumers, info.pending, info.entries_read, info.lag) == (
        "g", 1, 1, 1, 1,
    )  # fmt: skip
    assert group(client, "s", "g") == info and group(client, "s", "other") is None


def test_combined_sums_a_group_over_partitions() -> None:
    parts = [
        GroupInfo("g", 2, 5, "10-3", 40, 7),
        GroupInfo("g", 3, 0, "9-0", 12, 0),
        GroupInfo("g", 3, 1, "10-12", 33, 2),
    ]
    total = combined(parts)
    assert total == GroupInfo("g", 3, 6, "10-12", 85, 9)  # ids compared as ids, not text
    assert combined(parts[:1]) == parts[0]  # one partition is its own total
    unknown = combined([*parts, GroupInfo("g", 1, 0, "11-0", None, None)])
    assert (unknown.entries_read, unknown.lag) == (None, None)  # never a partial sum
    with pytest.raises(ValueError):
        combined([])


def test_across_partitions_is_known_only_once_every_partition_has_the_group(
    client: redis.Redis,
) -> None:
    for i in range(3):
        client.xadd(f"{{t:{i}}}", {"a": "1"})
    for i in range(2):
        client.xgroup_create(f"{{t:{i}}}", "g", id="0")
    assert across_partitions(client, "t", "g", 3) is None  # {t:2}'s entry is nobody's yet
    client.xgroup_create("{t:2}", "g", id="0")
    total = across_partitions(client, "t", "g", 3)
    assert total is not None and (total.lag, total.pending) == (3, 0)
    client.xadd("t", {"a": "1"})
    client.xgroup_create("t", "g", id="0")
    plain = across_partitions(client, "t", "g", 1)  # one partition: the plain stream
    assert plain is not None and plain.lag == 1
