"""Evaluation: (rule x subject) -> exactly one outcome, with evidence for fail and error.

Two evaluators implement `Evaluator`: `reference.py` (a plain tree-walking interpreter,
the oracle) and, later, an indexed one over a compiled plan. Both return an `Evaluation`,
and waivers are applied to it by `waivers.apply_waivers` so they behave identically.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..program import Program


@dataclass(slots=True)
class Result:
    rule: str
    subject: str
    outcome: str  # pass | fail | error | waived | not_applicable
    message: str | None = None
    evidence: list[tuple[str, Any]] = field(default_factory=list)
    location: str | None = None
    waiver: str | None = None
    note: str | None = None


@dataclass
class Evaluation:
    results: list[Result] = field(default_factory=list)  # every fail/error/waived (and passes if asked)
    counts: dict[str, Counter] = field(default_factory=dict)  # rule id -> outcome -> n
    waivers: list[dict[str, Any]] = field(default_factory=list)
    # Passing checks per subject id, for roll-ups; the indexed evaluator counts a view item's
    # under its project (`snapshot.project_key`), which is all roll-ups read.
    passes: Counter = field(default_factory=Counter)
    # A worker child still holding the snapshot, for the report's roll-ups (`helper.py`):
    # the indexed evaluator's, when it ran workers; None otherwise.
    helper: Any = field(default=None, compare=False, repr=False)


class MetricCache(dict):
    """A run's metric results, keyed by `reference.metric_key`: a record or list argument by
    its `id()`. An id names an object only while it lives, and a worker's view items (and
    any list a rule builds) die long before the run ends; the next object made may take
    the same id, and the same cache entry. So every object keyed by id is kept, in `pins`,
    as long as the cache: no other object can take its id meanwhile."""

    __slots__ = ("pins",)

    def __init__(self) -> None:
        super().__init__()
        self.pins: list[Any] = []


@dataclass
class RunContext:
    """Per-run state shared by every (rule, subject) evaluation and handed to functions
    that ask for it (`FunctionSpec.context`): the snapshot, the as-of date, and caches."""

    snapshot: Any
    as_of: dt.date
    cache: dict[str, Any] = field(default_factory=dict)  # for plugins' own indexes
    metric_cache: MetricCache = field(default_factory=MetricCache)
    regexes: dict = field(default_factory=dict)


class Evaluator(Protocol):
    def evaluate(self, program: Program, snapshot: Any, as_of: dt.date, *, include_passes: bool = False) -> Evaluation: ...
