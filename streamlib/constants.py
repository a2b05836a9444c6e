"""Names and defaults shared by every part of quotestream (one place for them)."""

from __future__ import annotations

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_STREAM = "quotes"
DEFAULT_GROUP = "quotes-consumers"

#: Where a consumer group starts when a consumer (or ``streamctl group create``)
#: creates it: before the first entry, so that every entry in the stream is read.
GROUP_START_ID = "0"

#: Dead letters go to ``<stream>:dead`` unless configured otherwise.
DEAD_LETTER_SUFFIX = ":dead"

#: Entries per XREADGROUP and per pipelined XADD batch. 500 keeps a round trip
#: well under a millisecond of Redis time while amortising it over many
#: entries (BENCHMARKS.md compares it with one entry per round trip).
DEFAULT_BATCH_SIZE = 500

#: How long one XREADGROUP blocks waiting for new entries. It bounds how long
#: a graceful stop waits for a blocked read to return.
DEFAULT_BLOCK_MS = 2_000

#: An entry pending longer than this with some consumer is presumed abandoned
#: (its consumer died or hangs) and is reclaimed with XAUTOCLAIM. A batch in
#: hand is renewed every third of it (``lease``), so it bounds how long a
#: stuck consumer's entries wait, not how long a batch may take.
DEFAULT_MIN_IDLE_MS = 30_000

#: After this many deliveries an entry is moved to the dead-letter stream.
DEFAULT_MAX_DELIVERIES = 5

#: Largest field value a consumer decodes (1 MiB). A quote is a few KB; a
#: bigger field is a bug or an attack, and it goes to the dead letters.
MAX_FIELD_BYTES = 1 << 20

#: Envelope schema version written by this release.
ENVELOPE_VERSION = "1"

#: Upper bound on ``PARTITIONS`` (each replica runs one reader thread per partition).
MAX_PARTITIONS = 1_024
