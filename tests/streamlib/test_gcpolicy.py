"""The GC policy a consumer process's main applies once set up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streamlib.gcpolicy import GEN0_THRESHOLD, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_start_up_objects_and_raises_only_gen0() -> None:
    gc.unfreeze()
    _, gen1, gen2 = gc.get_threshold()
    start_up = object(), [], {}  # tracked containers made "at start-up"
    frozen = tune_gc()
    assert frozen == gc.get_freeze_count() > 0
    assert gc.get_threshold() == (GEN0_THRESHOLD, gen1, gen2)
    # Frozen objects are out of every generation: a full collection no longer scans them.
    tracked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert id(start_up[1]) not in tracked and id(start_up[2]) not in tracked
    fresh: list[object] = []
    assert id(fresh) in {id(o) for o in gc.get_objects(0)}  # made after: collected as usual
