"""A consumer process for tests that kill or signal a real replica.

    python tests/support/stream_worker.py REDIS_URL STREAM GROUP CONSUMER OUT_DIR [--hold]

Handles batches by appending each entry's key to ``OUT_DIR/handled-<consumer>``.
With ``--hold``, the handler of the first batch writes ``OUT_DIR/holding`` and
then waits until ``OUT_DIR/release`` exists before returning, so a test can
kill or signal the process while a batch is in hand.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from streamlib import GroupConsumer, Message, StreamSettings, connect, install_stop_handlers


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("url", "stream", "group", "consumer", "out"):
        parser.add_argument(name)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--min-idle-ms", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")

    out = Path(args.out)
    handled = out / f"handled-{args.consumer}"
    holding = {"first": args.hold}

    def handler(batch: Sequence[Message]) -> None:
        with handled.open("a") as fh:
            for message in batch:
                fh.write(message.envelope.key + "\n")
        if holding["first"]:
            holding["first"] = False
            (out / "holding").write_text(str(len(batch)))
            while not (out / "release").exists():
                time.sleep(0.01)

    settings = StreamSettings(
        redis_url=args.url,
        stream=args.stream,
        group=args.group,
        consumer=args.consumer,
        batch_size=args.batch_size,
        block_ms=100,
        min_idle_ms=args.min_idle_ms,
    )
    consumer = GroupConsumer(connect(args.url, timeout=10), settings, handler)
    install_stop_handlers(consumer)
    consumer.run()


if __name__ == "__main__":
    main()
