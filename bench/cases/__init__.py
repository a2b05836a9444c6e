"""The cases; each registers itself with ``@case(..., order=N)`` (the run's order).

Orders: 10 naive, 20 raw loop, 30 streamlib consumer, 35 streamlib with each
sink, 40 FastStream, 50 producer, 55 end to end, 60 the Scrapy item pipeline,
70 one Redis node against a cluster, 75 PostgreSQL replicas end to end,
80 redis-benchmark, 85 reclaim, 90 memory.
"""

from . import (  # noqa: F401
    cluster,
    faststream_sub,
    memory,
    naive,
    pg_replicas,
    pipeline,
    rawloop,
    reclaim,
    redis_limit,
    scrapy_side,
    sinks,
    streamlib_consumer,
)
