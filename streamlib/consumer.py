"""``GroupConsumer``: the read -> handle -> ack loop of one consumer-group member.

The loop, in the order it runs::

    ensure group (XGROUP CREATE <stream> <group> 0 MKSTREAM; BUSYGROUP is fine)
    re-read own pending entries (XREADGROUP ... 0)      # what a previous life left
    loop until stopped:
        every claim interval: XAUTOCLAIM sweep           # what dead replicas left
        XREADGROUP ... > COUNT batch BLOCK block-ms      # new entries
        decode -> handler(batch) -> XACK the ones that succeeded
        (after a full batch, the next read is sent before it is decoded: read-ahead)
        (while a batch is in hand, its lease is renewed: XCLAIM JUSTID)
    on a clean end (stopped or drained) holding nothing: XGROUP DELCONSUMER

Read-ahead: a full batch means more is waiting, so as soon as its reply is
in, before it is even decoded, the read of the next batch is sent (without
BLOCK, on a connection of its own): Redis serves it while this batch is
decoded, handled and acknowledged. Its reply is taken by the read-ahead
thread meanwhile if handling waits more than twice as long as decoding
takes (a sink waiting on its database: the thread decodes during the
wait), else by the loop once the batch in hand is done (a thread would only
compete for the interpreter with a handler that keeps the CPU busy); see
``read_ahead_taker``. The handler still sees one batch at a time, in stream
order, and a batch is acknowledged only after the handler returned for it;
the one read ahead is pending with this consumer too, and a stop finishes
both. It is leased from the moment the read is sent: if the handler is
still busy when that lease falls due, the lease's thread takes the reply to
learn its ids. The loop reads ahead only while handling takes less than a
lease interval: behind a slower handler a second batch gains little and is
kept from replicas that could handle it. A read that comes back short or
empty reads nothing ahead, so an idle stream costs no extra round trip and
a trickle of entries keeps its latency. ``read_ahead=False`` keeps one
batch in hand: for slow handlers sharing a short stream, where a replica
holding a second batch keeps it from an idle one.

Delivery is at-least-once: an entry is acknowledged only after the handler
returned for it; an entry delivered more than ``max_deliveries`` times, or
that can't be decoded, or that the handler rejects, moves to the dead-letter
stream and is acknowledged in the same MULTI/EXEC. Handlers must therefore be
idempotent (upsert on ``key``). A handler slower than ``min_idle_ms`` keeps
its batch: every third of min-idle the consumer re-claims the ids still
pending with it (``Lease``), so only a dead or stuck consumer's entries look
idle.

Two kinds of failure (``errors``), and what the consumer does with each::

    handler raises OutageError      hold: keep the batch and its lease, read
    (sink away), or Redis fails     nothing new, retry with capped jittered
    while acknowledging             backoff until it answers; no delivery is
                                    counted, nothing is dead-lettered
                                    (``max_outage``: give up, raise)
    handler raises RecordError      isolate: split the batch in halves until
                                    each failing record stands alone, store
                                    the rest, dead-letter those with the reason
    handler raises anything else    leave the batch pending: retried after
                                    min-idle, counted, dead-lettered after
                                    max_deliveries
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple, cast

import redis

from .backoff import Backoff
from .codec import (
    Envelope,
    Fields,
    FlatFields,
    RawEntry,
    decode_fields,
    field_map,
    wire_fields,
)
from .constants import GROUP_START_ID
from .deadletter import dead_letter_fields
from .errors import ConfigError, DecodeError, OutageError, RecordError
from .lease import Hold, Lease
from .outage import Outages
from .rawcmd import SentCommand, raw_capable
from .settings import StreamSettings

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)  # includes LOADING
#: Replies meaning the group (or the whole stream) is gone: recreate it.
#: "UNBLOCKED the stream key no longer exists" is what a blocked XREADGROUP
#: gets when its stream is deleted (other UNBLOCKED replies, e.g. on a
#: failover's "instance state changed", are transient).
GROUP_GONE = ("NOGROUP", "UNBLOCKED the stream key no longer exists")
#: Every this many reads sent ahead, the loop takes the reply whatever the
#: timings say, so that the handler's wait is measured again with no
#: decoding beside it (``read_ahead_taker``).
RECHECK_EVERY = 16
#: How many of the handler's last waits so measured go by their median: a
#: batch that waited long once (SQLite's checkpoint, a slow fsync) does not
#: decide for the batches after it.
WAITS_KEPT = 5
#: Replies worth waiting out like a connection loss.
TRANSIENT = ("OOM", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "UNBLOCKED")
#: The same replies when redis-py raises them as their own classes (their
#: messages lose the prefix).
TRANSIENT_TYPES = (
    redis.exceptions.ReadOnlyError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.OutOfMemoryError,
)


def redis_weather(exc: redis.RedisError) -> bool:
    """Whether a Redis error is an outage (waited out), not a misconfiguration."""
    if isinstance(exc, REDIS_DOWN + TRANSIENT_TYPES):
        return True
    return isinstance(exc, redis.ResponseError) and str(exc).startswith(TRANSIENT)


class Message(NamedTuple):
    """One decoded entry handed to the handler (immutable)."""

    id: str
    envelope: Envelope
    #: Times the entry has been delivered, this delivery included.
    deliveries: int = 1


#: ``tuple.__new__``: builds a ``Message`` from its values without the call to its ``__new__``.
_new_tuple = tuple.__new__


@dataclasses.dataclass
class BatchResult:
    """What a handler says about a batch; entries it doesn't name succeeded.

    ``failed``: id -> reason; left pending, retried after min-idle.
    ``rejected``: id -> reason; permanent failure, dead-lettered now.
    """

    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)


#: A handler takes a batch and returns ``None`` (all succeeded) or a
#: ``BatchResult``. If it raises, no entry of the batch is acknowledged:
#: ``OutageError`` holds the batch and retries it, ``RecordError`` splits it
#: to find the records at fault (see the module's docstring).
Handler = Callable[[Sequence[Message]], BatchResult | None]


@dataclasses.dataclass
class ConsumerStats:
    """Counters of one consumer's life; read them, e.g. for metrics."""

    read: int = 0
    handled: int = 0
    acked: int = 0
    failed: int = 0
    reclaimed: int = 0
    #: Entries read that had been delivered before (reclaimed, or own pending re-read).
    redelivered: int = 0
    dead_lettered: int = 0
    deleted_acked: int = 0
    handler_errors: int = 0
    redis_errors: int = 0
    groups_recreated: int = 0
    #: ``time.monotonic()`` of the last successful read, even an empty one.
    last_progress: float = dataclasses.field(default_factory=time.monotonic)


class _Interrupted(Exception):
    """``stop()`` came while the consumer waited out an outage: leave the batch pending."""


class _AheadLost(Exception):
    """The read ahead met a connection loss: what it read may be pending with us unseen."""


@dataclasses.dataclass(frozen=True, slots=True)
class _DeadEntry:
    id: bytes
    #: ``None``: the batch let its fields go; read again from the stream (or,
    #: trimmed meanwhile, re-encoded from ``envelope``) when dead-lettered.
    fields: Fields | FlatFields | None
    reason: str
    deliveries: int
    envelope: Envelope | None = None


class _ReadAhead:
    """The read of the next batch, sent before it was needed; its reply taken once.

    ``take()`` gives the entries, or raises what taking the reply raised, on
    every call, from any thread. Taken by the loop, the batch is leased from
    the moment the read is sent (``hold``, whose ids ``take`` gives when it
    falls due); taken by the read-ahead thread, as it comes in (``decoded``).
    """

    __slots__ = ("_entries", "_error", "_lock", "_read", "decoded", "hold")

    def __init__(self, read: Callable[[], list[RawEntry]]) -> None:
        self._read: Callable[[], list[RawEntry]] | None = read
        self._entries: list[RawEntry] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self.hold: Hold | None = None
        #: The read-ahead thread's batch, when it takes and decodes it.
        self.decoded: Future[_Batch] | None = None

    def take(self) -> list[RawEntry]:
        """The entries read."""
        with self._lock:
            read, self._read = self._read, None
            if read is not None:
                try:
                    self._entries = read()
                except BaseException as exc:
                    self._error = exc
        if self._error is not None:
            raise self._error
        return self._entries

    def ids(self) -> list[bytes]:
        """The ids of the entries read (``take``'s)."""
        return [entry_id for entry_id, _ in self.take()]

    def drop(self) -> None:
        """Let the batch go unhandled: its reply read (its connection back in step), its
        lease ended. A failed read: whatever it delivered is pending all the same."""
        try:
            if self.decoded is not None:
                self.decoded.result().hold.release()
                return
            self.take()
        except redis.RedisError:
            pass
        if self.hold is not None:
            self.hold.release()


@dataclasses.dataclass(slots=True)
class _Batch:
    """Entries read and decoded, leased until they are settled (``GroupConsumer._finish``).

    It keeps each entry's decoded message, not the reply it came in: see ``_prepare``.
    """

    size: int  # entries read, whatever became of them
    messages: list[Message]
    message_ids: list[bytes]  # raw ids of ``messages``, in order, for XACK (never mutated)
    dead: list[_DeadEntry]
    deleted: list[bytes]  # ids whose entries were deleted while pending
    redelivered: int
    hold: Hold


class GroupConsumer:
    """One member of a consumer group, running ``handler`` over one Redis stream.

    The loop of one partition: a stream of several partitions is read by a
    ``replica.PartitionedConsumer``, which runs one ``GroupConsumer`` per
    partition (and this one alone for the plain stream).

    ``run()`` blocks until ``stop()`` (or, with ``burst=True``, until nothing
    is left to read or reclaim) and returns the stats. ``stop()`` is safe to
    call from another thread or a signal handler: the batch in hand is
    finished and acknowledged before ``run()`` returns (and the batch read
    ahead, if any), unless an outage holds it (then it stays pending, as it
    is). ``outages`` tells what is down, since when, and how many entries
    are held.
    """

    def __init__(
        self,
        client: redis.Redis,
        settings: StreamSettings,
        handler: Handler,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        if settings.partitions != 1:
            raise ConfigError(
                f"GroupConsumer reads one stream, these settings have {settings.partitions} "
                "partitions: use PartitionedConsumer (or partition_settings(settings, i))"
            )
        self.client = client
        self.settings = settings
        self.handler = handler
        self.stats = ConsumerStats()
        self.outages = Outages(settings.consumer)
        self._stop = threading.Event()
        self._backoff = backoff or Backoff(base=0.1, cap=10.0)
        s = settings
        self._stream, self._group, self._me = s.stream, s.group, s.consumer
        # While the handler runs, its batch is renewed every third of min-idle (``lease``).
        self._lease_s = max(0.01, s.min_idle_ms / 3000)
        self._lease = Lease(client, s.stream, s.group, s.consumer, self._lease_s)
        #: New entries are read without redis-py's per-entry dicts where the
        #: client allows it (see ``rawcmd``); a cluster client reads as usual.
        self._raw = raw_capable(client)
        self._read_head = ("XREADGROUP", "GROUP", s.group, s.consumer, "COUNT", s.batch_size)
        #: The read of the next batch, sent before it is needed (read-ahead).
        self._ahead: _ReadAhead | None = None
        #: The read-ahead thread (started when first needed).
        self._reader: ThreadPoolExecutor | None = None
        #: Seconds the last batch took to handle, the last batches' waits
        #: (off this thread's CPU) while handled, and the seconds the last
        #: batch took to decode: they decide how to read ahead
        #: (``_read_ahead``). None is read ahead of the first batch. Waits and
        #: decoding are measured with no decoding in the read-ahead thread
        #: beside them: that would make both take longer.
        self._handled_s: float | None = None
        self._waits: deque[float] = deque(maxlen=WAITS_KEPT)
        self._decode_s = 0.0
        self._reads_ahead = 0

    # -- control ------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run()`` to finish the batch in hand and return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stop.is_set()

    def ensure_group(self) -> bool:
        """Create the group at ``GROUP_START_ID`` (and the stream); ``False`` if it existed."""
        try:
            self.client.xgroup_create(self._stream, self._group, id=GROUP_START_ID, mkstream=True)
        except redis.ResponseError as exc:
            if str(exc).startswith("BUSYGROUP"):
                return False
            raise
        return True

    # -- the loop -----------------------------------------------------------

    def run(self, *, burst: bool = False) -> ConsumerStats:
        """Consume until stopped; with ``burst``, until drained. Returns the stats."""
        log.info(
            "consumer %s joining group %s on stream %s (%s)",
            self._me,
            self._group,
            self._stream,
            "burst" if burst else "continuous",
        )
        try:
            self._loop(burst)
        finally:
            self._drop_ahead()
            if self._reader is not None:
                self._reader.shutdown()
                self._reader = None
            self._lease.close()
        self._leave_group()
        log.info("consumer %s stopped: %s", self._me, self.stats)
        return self.stats

    def _leave_group(self) -> None:
        """Remove this consumer from the group if it holds no pending entry.

        Called after a clean end, once nothing reads or renews under this
        name. A consumer that still holds entries stays, so that another
        replica can reclaim them: XGROUP DELCONSUMER would drop them from the
        group's pending list. Only a failed check is logged; the run is over.
        """
        try:
            if self.client.xpending_range(self._stream, self._group, "-", "+", 1, self._me):
                log.info(
                    "consumer %s stays in group %s: it holds pending entries", self._me, self._group
                )
                return
            self.client.xgroup_delconsumer(self._stream, self._group, self._me)
        except redis.RedisError as exc:
            log.warning("consumer %s could not leave group %s: %s", self._me, self._group, exc)
            return
        log.info("consumer %s left group %s", self._me, self._group)

    def _loop(self, burst: bool) -> None:
        need_setup = True  # create group and re-read own pending entries
        next_sweep = 0.0
        while not self._stop.is_set():
            try:
                if need_setup:
                    self._drop_ahead()  # own pending entries include what it read
                    self.ensure_group()
                    self._read_own_pending()
                    need_setup = False
                if time.monotonic() >= next_sweep:
                    self._sweep()
                    next_sweep = time.monotonic() + self.settings.claim_interval_ms / 1000
                got = self._read_new(block_ms=None if burst else self.settings.block_ms)
                if burst and got == 0 and self._sweep() == 0:
                    break
            except redis.ResponseError as exc:
                if str(exc).startswith(GROUP_GONE):
                    self.stats.groups_recreated += 1
                    log.error(
                        "group %s or stream %s vanished (Redis restarted without persistence, "
                        "or someone destroyed it); recreating it from id 0",
                        self._group,
                        self._stream,
                    )
                elif redis_weather(exc):
                    self.wait_out(exc)
                else:
                    raise  # WRONGTYPE, NOPERM, ...: misconfiguration, not weather
                need_setup = True
            except REDIS_DOWN as exc:
                self.wait_out(exc)
                need_setup = True  # our unacked batch, if any, is pending with us
            except _AheadLost as exc:
                # Redis went away while the batch before was handled; it may be
                # back since. Setting up again re-reads the lost batch (pending
                # with us), or meets the outage if it lasts.
                log.info("the read ahead was cut off (%s); reading own pending entries", exc)
                need_setup = True
            else:
                self._backoff.reset()
                if self.outages.current is not None:
                    self.outages.up()
        self._finish_ahead()

    def _read_new(self, *, block_ms: int | None) -> int:
        """Handle the batch read ahead, or read one; returns its size."""
        taken = self._take_ahead()
        if taken is None:
            entries = self._take(self._send_read(block_ms))
            taken = len(entries), functools.partial(self._decode, entries, None)
        size, decode = taken
        if size == self.settings.batch_size and self.settings.read_ahead:
            self._read_ahead()
        batch = decode()
        alone = self._ahead is None or self._ahead.decoded is None  # no decoding beside it
        started, cpu_started = time.perf_counter(), time.thread_time()
        self._finish(batch)
        self._handled_s = time.perf_counter() - started
        if alone:
            self._waits.append(self._handled_s - (time.thread_time() - cpu_started))
        return size

    def _send_read(self, block_ms: int | None) -> Callable[[], list[RawEntry]]:
        """Send the read of new entries; returns what takes its reply, and gives its entries.

        A cluster client sends the command and takes its reply at once, when
        that is called.
        """
        if self._raw:
            block = () if block_ms is None else ("BLOCK", block_ms)
            args = (*self._read_head, *block, "STREAMS", self._stream, ">")
            return functools.partial(_entries_of, SentCommand(self.client, *args).reply)
        read = functools.partial(
            self.client.xreadgroup,
            self._group,
            self._me,
            {self._stream: ">"},
            count=self.settings.batch_size,
            block=block_ms,
        )
        return functools.partial(_entries_of, read)

    def _take(self, read: Callable[[], list[RawEntry]]) -> list[RawEntry]:
        """A read's entries (``read`` takes its reply)."""
        entries = read()
        self.stats.last_progress = time.monotonic()
        return entries

    def _decode(self, entries: list[RawEntry], hold: Hold | None) -> _Batch:
        """``_prepare`` for new entries in the loop, timed (``read_ahead_taker`` goes by it)."""
        started = time.perf_counter()
        batch = self._prepare(entries, counts=None, hold=hold)
        self._decode_s = time.perf_counter() - started
        return batch

    def _read_ahead(self) -> None:
        """Send the read of the next batch now: Redis serves it while this one is handled.

        Its reply is taken by the read-ahead thread meanwhile if handling the
        last batches waited more than twice as long as decoding one took (a
        sink waiting on its database), else once this batch is done, if
        handling it took less
        than a lease interval (its entries are leased from now).
        """
        if self._handled_s is None or self._stop.is_set():
            return  # nothing to go by yet, or stopping
        self._reads_ahead += 1
        recheck = self._reads_ahead % RECHECK_EVERY == 0
        waited_s = 0.0 if recheck or not self._waits else statistics.median(self._waits)
        taker = read_ahead_taker(self._handled_s, waited_s, self._decode_s, self._lease_s)
        if taker is None:
            return
        try:
            ahead = _ReadAhead(self._send_read(None))
        except redis.RedisError as exc:  # the batch in hand comes first; its XACK meets it
            log.debug("could not read ahead: %s", exc)
            return
        if taker == "thread":
            if self._reader is None:
                self._reader = ThreadPoolExecutor(1, thread_name_prefix=f"read-ahead-{self._me}")
            ahead.decoded = self._reader.submit(self._decode_ahead, ahead)
        else:  # leased from now: if the handler stalls, the lease's thread takes the reply
            ahead.hold = self._lease.take_later(ahead.ids)
        self._ahead = ahead

    def _decode_ahead(self, ahead: _ReadAhead) -> _Batch:
        """Take and decode the batch read ahead (in the read-ahead thread)."""
        return self._prepare(self._take(ahead.take), counts=None, hold=None)

    def _take_ahead(self) -> tuple[int, Callable[[], _Batch]] | None:
        """The size of the batch read ahead and what decodes it; ``None``: none or empty.

        Raises ``_AheadLost`` if its read met a connection loss.
        """
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        try:
            if ahead.decoded is not None:
                size, decode = ahead.decoded.result().size, ahead.decoded.result
            else:
                entries = self._take(ahead.take)
                size, decode = len(entries), functools.partial(self._decode, entries, ahead.hold)
        except BaseException as exc:  # its lease ends here, whatever the failure
            if ahead.hold is not None:
                ahead.hold.release()
            if isinstance(exc, REDIS_DOWN):
                raise _AheadLost(f"{type(exc).__name__}: {exc}") from exc
            raise
        if size:
            return size, decode
        ahead.drop()
        return None  # nothing was waiting after all: read (and block) as usual

    def _finish_ahead(self) -> None:
        """On a clean stop: the batch read ahead is in hand too, so handle it."""
        try:
            taken = self._take_ahead()
        except (redis.RedisError, _AheadLost) as exc:
            log.warning("the read ahead failed at stop (%s): what it read stays pending", exc)
            return
        if taken is not None:
            self._finish(taken[1]())

    def _drop_ahead(self) -> None:
        """Forget the batch read ahead: its entries stay pending with this consumer."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.drop()

    def _read_own_pending(self) -> None:
        """Re-deliver this consumer's own pending entries (from a previous life)."""
        cursor: bytes | str = "0"
        while not self._stop.is_set():
            reply = self.client.xreadgroup(
                self._group, self._me, {self._stream: cursor}, count=self.settings.batch_size
            )
            entries = _entries(reply)
            if not entries:
                return
            cursor = entries[-1][0]
            self._process(entries, counts=self._delivery_counts([i for i, _ in entries]))

    def _sweep(self) -> int:
        """One XAUTOCLAIM pass over the whole pending list; returns entries claimed."""
        cursor: bytes | str = "0-0"
        claimed = 0
        while not self._stop.is_set():
            reply: list[Any] = self.client.xautoclaim(
                self._stream,
                self._group,
                self._me,
                min_idle_time=self.settings.min_idle_ms,
                start_id=cursor,
                count=self.settings.batch_size,
            )
            cursor, entries, deleted = reply[0], reply[1], reply[2]
            if deleted:
                # Pending ids whose entries were deleted (trimmed): nothing to
                # deliver, and XAUTOCLAIM already dropped them; ack for clarity.
                self.client.xack(self._stream, self._group, *deleted)
                self.stats.deleted_acked += len(deleted)
                log.warning("acknowledged %d pending id(s) of deleted entries", len(deleted))
            if entries:
                claimed += len(entries)
                self.stats.reclaimed += len(entries)
                log.info(
                    "reclaimed %d entries idle > %d ms", len(entries), self.settings.min_idle_ms
                )
                self._process(entries, counts=self._delivery_counts([i for i, _ in entries]))
            if cursor in (b"0-0", "0-0"):
                break
        return claimed

    def _delivery_counts(self, ids: Sequence[bytes]) -> dict[bytes, int]:
        """Delivery counts of entries pending with this consumer (one round trip)."""
        with self.client.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xpending_range(self._stream, self._group, entry_id, entry_id, 1, self._me)
            replies = pipe.execute()
        return {rows[0]["message_id"]: int(rows[0]["times_delivered"]) for rows in replies if rows}

    # -- one batch ----------------------------------------------------------

    def _process(self, entries: list[RawEntry], counts: Mapping[bytes, int]) -> None:
        """Decode, handle, dead-letter and acknowledge entries delivered before."""
        self._finish(self._prepare(entries, counts))

    def _prepare(
        self,
        entries: list[RawEntry],
        counts: Mapping[bytes, int] | None,
        hold: Hold | None = None,
    ) -> _Batch:
        """Lease and decode a batch; sort out the deleted, the undecodable, the over-delivered.

        The hot path of the consumer: new entries (``counts is None``) are on
        their first delivery, so they skip the max-deliveries check.

        ``entries`` is consumed: each entry is let go once decoded (its slot
        set to ``None``), so that the reply's lists (two per entry) are freed
        while the batch is handled instead of staying alive beside the
        messages. Fewer objects alive means fewer and shorter runs of the
        cyclic garbage collector (docs/design-notes.md). The entries the
        handler rejects are read again for their dead letters.
        """
        ids = [entry_id for entry_id, _ in entries]
        if hold is None:
            hold = self._lease.take(ids)
        else:  # a batch read ahead, leased before its ids were known: tell them
            hold.resolve(ids)  # before the entries are let go below
        maximum = self.settings.max_deliveries
        messages: list[Message] = []
        dead: list[_DeadEntry] = []
        deleted: list[bytes] = []
        redelivered = 0
        new_message = _new_tuple
        for i, (entry_id, fields) in enumerate(entries):
            entries[i] = None  # type: ignore[call-overload]  # let the reply's lists go
            if not fields:  # deleted from the stream while pending
                deleted.append(entry_id)
                continue
            deliveries = 1
            if counts is not None:
                deliveries = counts.get(entry_id, 1)
                if deliveries > 1:
                    redelivered += 1
                if deliveries > maximum:
                    reason = f"delivered {deliveries} times (max_deliveries={maximum})"
                    dead.append(_DeadEntry(entry_id, fields, reason, deliveries))
                    continue
            try:
                envelope = decode_fields(fields)
            except DecodeError as exc:
                dead.append(_DeadEntry(entry_id, fields, exc.reason, deliveries))
                continue
            messages.append(new_message(Message, (entry_id.decode(), envelope, deliveries)))
        message_ids = ids  # the usual case: every entry became a message
        if dead or deleted:
            gone = {d.id for d in dead}.union(deleted)
            message_ids = [entry_id for entry_id in ids if entry_id not in gone]
        return _Batch(len(ids), messages, message_ids, dead, deleted, redelivered, hold)

    def _finish(self, batch: _Batch) -> None:
        """Handle, dead-letter and acknowledge a prepared batch, then end its lease."""
        try:
            self.stats.read += batch.size
            self.stats.redelivered += batch.redelivered
            self.stats.deleted_acked += len(batch.deleted)
            ack = batch.deleted
            if batch.messages:
                ack.extend(self._handle(batch))
            self._settle(ack, batch.dead)
        finally:
            batch.hold.release()

    def _handle(self, batch: _Batch) -> list[bytes]:
        """Run the handler; returns the ids to ack, appends rejected ones to ``batch.dead``."""
        messages, dead = batch.messages, batch.dead
        try:
            try:
                result = self.handler(messages)
            except (OutageError, RecordError) as exc:
                result = self._recover(messages, exc)
        except _Interrupted:
            log.warning(
                "stopping during an outage: %d entries stay pending with %s",
                len(messages),
                self._me,
            )
            return []
        except OutageError:
            raise  # outlasted max_outage: run() gives up, the batch stays pending
        except Exception:
            self.stats.handler_errors += 1
            self.stats.failed += len(messages)
            delay = self._backoff.next_delay()
            log.exception(
                "handler failed on a batch of %d; left pending, pausing %.2fs",
                len(messages),
                delay,
            )
            self._sleep(delay)
            return []
        self._backoff.reset()
        if result is None or (not result.failed and not result.rejected):
            self.stats.handled += len(messages)
            return batch.message_ids
        ack: list[bytes] = []
        for m, raw in zip(messages, batch.message_ids, strict=True):
            if m.id in result.rejected:
                reason = result.rejected[m.id]
                dead.append(_DeadEntry(raw, None, reason, m.deliveries, m.envelope))
            elif m.id in result.failed:
                self.stats.failed += 1
                log.warning("entry %s failed: %s (left pending)", m.id, result.failed[m.id])
            else:
                self.stats.handled += 1
                ack.append(raw)
        return ack

    def _recover(self, messages: list[Message], exc: OutageError | RecordError) -> BatchResult:
        """The handler failed on the whole batch: wait out an outage, isolate bad records.

        Returns what became of each message (``rejected``: the records at
        fault, with the reason). Raises ``_Interrupted`` if stopped while
        waiting, ``OutageError`` once an outage outlasts ``max_outage`` seconds.
        """
        outcome = BatchResult()
        if isinstance(exc, OutageError):
            try:
                _merge(outcome, self._attempt(messages, len(messages), exc))
                return outcome
            except RecordError as record_exc:  # the sink is back, and refuses a record
                exc = record_exc
        log.warning(
            "a batch of %d was refused (%s); splitting it to find the records at fault",
            len(messages),
            exc.reason,
        )
        self._isolate(messages, exc, len(messages), outcome)
        return outcome

    def _isolate(
        self, part: list[Message], exc: RecordError, held: int, outcome: BatchResult
    ) -> None:
        """Bisect ``part``, known to fail with ``exc``, until each failing record stands alone."""
        if len(part) == 1:
            outcome.rejected[part[0].id] = exc.reason
            return
        middle = len(part) // 2
        for half in (part[:middle], part[middle:]):
            try:
                _merge(outcome, self._attempt(half, held, None))
            except RecordError as half_exc:
                self._isolate(half, half_exc, held, outcome)

    def _attempt(
        self, part: Sequence[Message], held: int, outage: OutageError | None
    ) -> BatchResult | None:
        """``handler(part)``, tried again while it reports an outage (``outage``: it just did)."""
        while True:
            if outage is not None:
                self._hold(outage.component, outage.reason, held, outage)
            try:
                result = self.handler(part)
            except OutageError as exc:
                outage = exc
                continue
            self.outages.up()
            return result

    def _hold(self, component: str, reason: str, held: int, cause: BaseException) -> None:
        """One wait of an outage: record it, give up past ``max_outage``, back off."""
        seconds = self.outages.down(component, reason, held)
        limit = self.settings.max_outage
        if limit is not None and seconds >= limit:
            raise OutageError(
                f"down for {seconds:.0f}s, longer than max_outage ({limit:g}s); "
                f"{held} entries left pending with {self._me} ({reason})",
                component=component,
            ) from cause
        delay = self._backoff.next_delay()
        if limit is not None:
            delay = min(delay, limit - seconds)
        if self._stop.wait(delay):
            raise _Interrupted

    def _settle(self, ack: list[bytes], dead: list[_DeadEntry]) -> None:
        """XACK ``ack``; move ``dead`` to the dead-letter stream and XACK them atomically.

        If Redis fails meanwhile, the batch (stored by now) is held until
        Redis answers, then acknowledged: no re-read, no delivery counted.
        """
        try:
            self._settle_once(ack, dead)
        except redis.RedisError as exc:
            if not redis_weather(exc):
                raise
            self._settle_holding(ack, dead, exc)

    def _settle_holding(self, ack: list[bytes], dead: list[_DeadEntry], exc: Exception) -> None:
        held = len(ack) + len(dead)  # and leased, by the batch's hold
        while True:
            self.stats.redis_errors += 1
            try:
                self._hold("redis", str(exc), held, exc)
            except _Interrupted:
                log.warning("stopping during an outage: %d entries stay pending", held)
                return
            try:
                if dead:  # the MULTI/EXEC may have run before the connection dropped
                    mine = self._delivery_counts([d.id for d in dead])
                    dead = [d for d in dead if d.id in mine]
                self._settle_once(ack, dead)
            except redis.RedisError as again:
                if not redis_weather(again):
                    raise
                exc = again
                continue
            self.outages.up()
            return

    def _settle_once(self, ack: list[bytes], dead: list[_DeadEntry]) -> None:
        if dead:
            originals = self._fields_again([d.id for d in dead if d.fields is None])
            with self.client.pipeline(transaction=True) as pipe:
                for d in dead:
                    fields = d.fields
                    if fields is None:
                        fields = originals.get(d.id) or wire_fields(cast(Envelope, d.envelope))
                    pipe.xadd(
                        self.settings.dead_letters,
                        dead_letter_fields(  # type: ignore[arg-type]
                            orig_id=d.id.decode(),
                            orig_stream=self._stream,
                            group=self._group,
                            consumer=self._me,
                            deliveries=d.deliveries,
                            reason=d.reason,
                            fields=field_map(fields),
                        ),
                    )
                pipe.xack(self._stream, self._group, *(d.id for d in dead))
                pipe.execute()
            self.stats.dead_lettered += len(dead)
            for d in dead:
                log.warning("dead-lettered %s: %s", d.id.decode(), d.reason)
        if ack:
            self.stats.acked += self.client.xack(self._stream, self._group, *ack)

    def _fields_again(self, ids: Sequence[bytes]) -> dict[bytes, Fields]:
        """The fields of pending entries, read again from the stream (one round trip).

        An entry trimmed from the stream meanwhile is missing from the answer.
        """
        if not ids:
            return {}
        with self.client.pipeline(transaction=False) as pipe:
            for entry_id in ids:
                pipe.xrange(self._stream, entry_id, entry_id, count=1)
            replies = pipe.execute()
        return {rows[0][0]: rows[0][1] for rows in replies if rows}

    def wait_out(self, exc: BaseException) -> None:
        """Back off after Redis failed us: a Redis outage (capped, jittered, interrupted by stop).

        Counted in ``outages`` (ended by the loop's next success); raises
        ``OutageError`` once the outage has lasted ``max_outage`` seconds.
        """
        self.stats.redis_errors += 1
        with contextlib.suppress(_Interrupted):  # the loop sees the stop
            self._hold("redis", f"{type(exc).__name__}: {exc}", 0, exc)

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


def _merge(outcome: BatchResult, result: BatchResult | None) -> None:
    """Add a part's result to the whole batch's."""
    if result is not None:
        outcome.failed.update(result.failed)
        outcome.rejected.update(result.rejected)


def read_ahead_taker(
    handled_s: float, waited_s: float, decode_s: float, lease_s: float
) -> str | None:
    """Who takes the reply of a read sent ahead: ``"thread"``, ``"loop"``, or ``None`` (no read).

    ``handled_s``: how long handling the last batch took; ``waited_s``: how
    much of that the loop's thread spent off the CPU (on a database, an
    fsync, Redis's XACK); ``decode_s``: how long decoding a batch took.

    The read-ahead thread, when handling waited more than twice as long as
    decoding takes: the thread decodes during the wait, and leases the batch
    as it comes in. The thread and the handler take turns on the
    interpreter, and each turn costs: behind a handler that mostly keeps the
    CPU busy (validating in Python, or SQLite, which works in the loop's
    thread and lets go of the interpreter row by row), a thread makes the
    consumer slower, not faster. Else the loop takes the reply, once the
    batch in hand is done, if that took less than a lease interval: behind
    a slower handler a second batch gains little, and is kept from replicas
    that could handle it.

    A wait also counts the time the loop's thread was preempted by other
    processes, so on a loaded machine a busy handler may seem to wait: the
    consumer goes by the median of recent waits and measures them again
    every ``RECHECK_EVERY`` reads ahead, so one such moment decides little.
    """
    if waited_s > 2 * decode_s:
        return "thread"
    return "loop" if handled_s < lease_s else None


def _entries_of(reply: Callable[[], Any]) -> list[RawEntry]:
    return _entries(reply())


def _entries(reply: Any) -> list[RawEntry]:
    """The entries of a one-stream XREADGROUP reply (RESP2 shape)."""
    return cast(list[RawEntry], reply[0][1]) if reply else []
