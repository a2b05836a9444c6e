"""A real consumer process that takes one batch and hangs in its handler.

Run as ``python stuck_consumer.py URL STREAM GROUP CONSUMER READY_KEY BATCH``:
the handler writes the batch size to ``READY_KEY`` and then blocks forever,
so a test can SIGKILL it mid-batch and find the batch pending.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from streamlib import GroupConsumer, Message, StreamSettings, connect


def main(argv: Sequence[str]) -> None:
    url, stream, group, consumer, ready_key, batch = argv
    settings = StreamSettings(
        redis_url=url,
        stream=stream,
        group=group,
        consumer=consumer,
        batch_size=int(batch),
        block_ms=100,
        read_ahead=False,  # it holds exactly its one batch
    )
    client = connect(url)

    def handler(messages: Sequence[Message]) -> None:
        client.set(ready_key, len(messages))
        threading.Event().wait()  # hang mid-batch until killed

    GroupConsumer(client, settings, handler).run()


if __name__ == "__main__":
    main(sys.argv[1:])
