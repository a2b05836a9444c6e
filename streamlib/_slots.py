"""Direct slot setters for frozen slots dataclasses on hot paths.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__``, about 0.1 us a field. The consumer builds two such
objects per entry (``Envelope``, ``Message``); building them from the slot
descriptors' setters halves that. Each such constructor stays next to its
class, takes every field positionally, and is checked against ``__init__`` by
``tests/test_fast_constructors.py``.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The setters of ``cls``'s slot descriptors, in ``names`` order.

    ``names`` must be exactly the dataclass's fields in order: a field added
    or moved fails here, at import, not with half-built objects later.
    """
    fields = tuple(f.name for f in dataclasses.fields(cls))
    if fields != names:
        raise AssertionError(f"{cls.__name__} fields are {fields}, expected {names}")
    return tuple(getattr(cls, name).__set__ for name in names)
