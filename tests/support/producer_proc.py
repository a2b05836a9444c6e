"""The chaos scenario's producer: a known set of keys, paced, restartable.

    python -m tests.support.producer_proc REDIS_URL STREAM TOTAL RATE STATE_DIR

Sends ``quote(0) .. quote(TOTAL-1)`` with ``StreamProducer`` in chunks of
``CHUNK`` (one pipelined XADD batch each), at about RATE entries per second
on average: bursts, like pages of a crawl. Before each chunk it records the
chunk's first index in ``STATE_DIR/checkpoint``; a restarted producer resumes
from there, so the chunk it was sending or had just sent when it was killed
is sent again, whole (keys repeat, as with a crawl that restarts). Waits for
Redis at start, like the services.
Writes ``STATE_DIR/done`` and exits 0 when every key was sent.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from streamlib import StreamProducer, client_from_url
from streamlib.connection import ping_until
from tests.support.helpers import quote

CHUNK = 1000
#: Far beyond any outage the scenario injects: the producer never gives up.
RETRY_TIMEOUT = 600.0


def main(url: str, stream: str, total: int, rate: float, state: Path) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    checkpoint = state / "checkpoint"
    start = int(checkpoint.read_text()) if checkpoint.exists() else 0
    logging.info("producer starting at index %d of %d", start, total)
    client = client_from_url(url, socket_connect_timeout=1.0)
    ping_until(client, url, timeout=None)
    producer = StreamProducer(client, stream, batch_size=CHUNK, retry_timeout=RETRY_TIMEOUT)
    began = time.monotonic()
    for first in range(start, total, CHUNK):
        _write_atomically(checkpoint, str(first))
        producer.send_many(quote(n) for n in range(first, min(first + CHUNK, total)))
        # Pace: the next chunk is due at (first + CHUNK - start) / rate.
        due = began + (first + CHUNK - start) / rate
        time.sleep(max(0.0, due - time.monotonic()))
    (state / "done").write_text(str(producer.sent))
    logging.info("producer done: sent=%d retries=%d", producer.sent, producer.retries)


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so a kill never leaves a half-written file behind."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
