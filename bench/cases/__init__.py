"""The cases, registered in the order they run (and appear in the table).

Cases 4 (sinks) and 6 (the Scrapy item pipeline) join here once the consumer's
sinks and the producer's pipeline have landed.
"""

from . import naive, pipeline, rawloop, redis_limit, streamlib_consumer  # noqa: F401
