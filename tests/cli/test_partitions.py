"""``streamctl --partitions`` on one node (the cluster version: tests/cluster/)."""

from __future__ import annotations

import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.partitions import all_partition_settings
from tests.helpers import quote

from .conftest import Run, as_json


def test_info_and_pending_show_each_partition_and_missing_ones_are_zeros(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    s = settings.replace(partitions=4)
    PartitionedProducer(client, s.stream, 4).send_many(quote(n) for n in range(40))
    parts = all_partition_settings(s)
    client.delete(parts[3].stream)  # as if nothing was routed there yet
    for p in parts[:2]:
        client.xgroup_create(p.stream, p.group, id="0")
        client.xreadgroup(p.group, "c1", {p.stream: ">"}, count=2)
    lengths = [int(client.xlen(p.stream)) for p in parts]

    info = as_json(run("info", "--partitions", "4", "--json"))
    assert info["length"] == sum(lengths)
    assert info["pending"] == 4
    assert info["lag"] is None  # partition 2 has entries and no group: nobody can tell
    assert [r["length"] for r in info["partitions"]] == lengths
    assert info["partitions"][2]["group"] is None and info["partitions"][3]["length"] == 0

    pending = as_json(run("pending", "--partitions", "4", "--json"))
    assert pending["pending"] == 4
    assert [p["summary"] is None for p in pending["partitions"]] == [False, False, True, True]
    [holder] = pending["consumers"]
    assert (holder["consumer"], holder["pending"]) == ("c1", 4)

    text = run("pending", "--partitions", "4")
    assert text.exit_code == 0 and "(no group)" in text.output

    assert run("info", "--partitions", "4", "--partition", "3").exit_code == 3  # no stream
    refused = run("tail", "--partitions", "4")
    assert refused.exit_code == 1 and "not yet supported" in refused.output
    nowhere = run(
        "pending", "--partitions", "4", "--redis-url", settings.redis_url,
        "--stream", settings.stream + "-none", target=False,
    )  # fmt: skip
    assert nowhere.exit_code == 3 and "not found on any of the 4 partitions" in nowhere.output
