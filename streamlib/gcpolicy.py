"""The cyclic garbage collector's settings for a consumer process's main.

A consumer's objects die by reference counting: a batch's envelopes,
messages and records are freed once it is acknowledged. The cyclic GC still
runs on the way there: a batch of 500 holds a few thousand tracked objects
(dicts, lists, tuples) alive at once, so with CPython's default threshold
(700 allocations) each batch triggers several young collections, whose
survivors move up and later make the older generations' collections rescan
everything, start-up objects (modules, classes, the sink's driver) included.

``tune_gc`` is for a process's main, once set up, never for a library: it
moves what start-up made out of the collector's reach (``gc.freeze()``) and
raises the young generation's threshold above a batch's worth of objects,
so a collection runs every few batches instead of several times in each.
Cycles are still collected, just less often; memory stays flat (the
benchmark's long run checks it).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

#: Allocations (net of frees) of tracked objects between young collections:
#: above the few thousand a batch of 500 keeps alive. CPython's default: 700.
GEN0_THRESHOLD = 10_000


def tune_gc(gen0_threshold: int = GEN0_THRESHOLD) -> int:
    """Collect, freeze what start-up made, raise the gen-0 threshold; returns objects frozen.

    The older generations keep their thresholds (a collection of generation
    1 every 10 young ones, and so on).
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)
    frozen = gc.get_freeze_count()
    log.info("gc: %d start-up objects frozen, gen-0 threshold %d", frozen, gen0_threshold)
    return frozen
