"""One command, its reply as the parser made it: no redis-py response callback.

redis-py post-processes replies in Python. For XREADGROUP that means a new
dict per entry (``pairs_to_dict``) and a tuple around it, only for the
consumer to look five fields up in it and throw it away: about a tenth of the
consumer's time per entry. ``run_raw`` sends a command on a connection of the
client's own pool and returns the reply as hiredis (or redis-py's RESP2
parser) built it, nested lists of bytes, so the codec can read an entry's
fields in place (``codec.decode_fields``).

Only for a plain ``redis.Redis`` that shares a pool (``raw_capable``); a
cluster client or a single-connection client keeps the ordinary command
methods. Error replies raise ``redis.ResponseError`` as usual.

``SentCommand`` splits the two: a command sent now, its reply read later
(the consumer's read-ahead). ``borrowed`` lends the connection (here, and to
the producer's packed XADD batches in ``xadd_batch``): on any failure but an
error reply it is disconnected before it goes back to the pool, so a
connection with an unread reply is never reused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import redis
from redis.typing import EncodableT


def raw_capable(client: object) -> bool:
    """Whether ``run_raw`` applies to ``client``."""
    return isinstance(client, redis.Redis) and client.connection is None


@contextlib.contextmanager
def borrowed(client: redis.Redis) -> Iterator[Any]:
    """A connection of ``client``'s pool for the ``with`` block, returned after it.

    If the block fails on anything but an error reply (which was read whole),
    the connection is disconnected first: it may hold unread replies, and the
    next borrower must never read them as its own.
    """
    pool = client.connection_pool
    conn: Any = pool.get_connection()  # connects; on failure the pool cleans up
    try:
        yield conn
    except redis.ResponseError:
        raise  # a whole error reply was read: the connection is in step
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


class SentCommand:
    """A command sent on a connection of ``client``'s pool, its reply taken later.

    The connection stays out of the pool until ``reply()`` returns it, so
    nothing else is sent or read on it meanwhile: Redis works on the command
    while the caller does something else. As in ``borrowed``, a failure
    (but an error reply) disconnects it before it goes back.
    """

    __slots__ = ("_conn", "_lent")

    def __init__(self, client: redis.Redis, *args: EncodableT) -> None:
        with contextlib.ExitStack() as stack:  # a failed send returns the connection at once
            self._conn = stack.enter_context(borrowed(client))
            self._conn.send_command(*args)
            self._lent = stack.pop_all()  # sent: keep it until the reply is read

    def reply(self) -> Any:
        """The command's unprocessed reply (call it once); the connection goes back to the pool."""
        with self._lent:
            return self._conn.read_response()


def run_raw(client: redis.Redis, *args: EncodableT) -> Any:
    """Send ``args`` as one command and return its unprocessed reply."""
    return SentCommand(client, *args).reply()
