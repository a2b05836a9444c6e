"""One command, its reply as the parser made it: no redis-py response callback.

redis-py post-processes replies in Python. For XREADGROUP that means a new
dict per entry (``pairs_to_dict``) and a tuple around it, only for the
consumer to look five fields up in it and throw it away: about a tenth of the
consumer's time per entry. ``run_raw`` sends a command on a connection of the
client's own pool and returns the reply as hiredis (or redis-py's RESP2
parser) built it, nested lists of bytes, so the codec can read an entry's
fields in place (``codec.decode_flat``).

Only for a plain ``redis.Redis`` that shares a pool (``raw_capable``); a
cluster client or a single-connection client keeps the ordinary command
methods. Error replies raise ``redis.ResponseError`` as usual. On any other
failure the connection is disconnected (``read_response`` does it; a send
that failed half-way is disconnected here) before it goes back to the pool,
so a connection with an unread reply is never reused.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.typing import EncodableT


def raw_capable(client: object) -> bool:
    """Whether ``run_raw`` applies to ``client``."""
    return isinstance(client, redis.Redis) and client.connection is None


def run_raw(client: redis.Redis, *args: EncodableT) -> Any:
    """Send ``args`` as one command and return its unprocessed reply."""
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*args)  # type: ignore[no-untyped-call]
        return conn.read_response()
    except redis.ResponseError:
        raise  # a whole error reply was read: the connection is in step
    except BaseException:
        conn.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        pool.release(conn)
