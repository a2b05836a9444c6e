"""``streamlib.ops.top`` where ``streamctl top``'s tests can't easily reach."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from streamlib.ops import top


def test_a_group_destroyed_between_two_reads_has_no_consumers(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xadd(settings.stream, {"v": "1"})
    client.xgroup_create(settings.stream, "other", "0")
    client.xreadgroup("other", "c", {settings.stream: ">"})
    assert [c.name for c in top._consumers(client, settings, "other", None)] == ["c"]
    client.xgroup_destroy(settings.stream, "other")
    assert top._consumers(client, settings, "other", None) == []


def test_one_sample_gives_state_without_rates(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xadd(settings.stream, {"v": "1"})
    client.xgroup_create(settings.stream, settings.group, "0")
    once = top.sample(client, settings)
    (row,) = top.frame(once, once, min_idle_ms=1000).groups
    assert (row.lag, row.pending) == (1, 0)
    assert (row.in_per_s, row.out_per_s, row.dead_per_s) == (None, None, None)
