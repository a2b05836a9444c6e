"""Cases register themselves with ``@case``; the runner runs them in order.

A case is a function ``(ctx) -> list[CaseResult]``: one design, possibly in
several variants (1, 2 and 4 processes). It raises ``Skip`` when what it needs
is missing (a binary, an optional package), and the run goes on without it.
Adding a case later (a sink, the Scrapy pipeline) is one new module in
``bench/cases/`` and one line in ``bench/cases/__init__.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runner import Context


class Skip(Exception):
    """The case can't run here; the message says why."""


@dataclasses.dataclass
class Run:
    """One measured repetition."""

    messages: int
    seconds: float
    #: CPU seconds of the client processes (user + system) over the window.
    cpu_s: float = 0.0
    #: CPU seconds of each redis-server over the window (one node, or each
    #: master of a cluster); empty when not measured.
    redis_cpu_s: Sequence[float] = ()
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass
class CaseResult:
    """One line of the results table (one object of ``latest.json``)."""

    name: str
    case: str
    kind: str  # consumer | producer | e2e | limit | reclaim | memory
    messages: int
    runs: int
    msgs_per_s: dict[str, float]
    latency_ms: dict[str, float] | None = None
    cpu_pct: float | None = None
    #: All redis-server processes together (a cluster's masters added up).
    redis_cpu_pct: float | None = None
    #: Each redis-server on its own: one value for one node, one per master.
    redis_cpu_pct_per_node: list[float] | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    note: str = ""


@dataclasses.dataclass(frozen=True)
class CaseSpec:
    """A registered case."""

    key: str
    title: str
    func: Callable[[Context], list[CaseResult]]
    #: Position in the run and the table (lower first).
    order: int


CASES: dict[str, CaseSpec] = {}


def case(
    key: str, title: str, *, order: int
) -> Callable[[Callable[[Context], list[CaseResult]]], Any]:
    """Register ``func`` as the case ``key``, run at position ``order``."""

    def register(func: Callable[[Context], list[CaseResult]]) -> Any:
        CASES[key] = CaseSpec(key, title, func, order)
        return func

    return register
