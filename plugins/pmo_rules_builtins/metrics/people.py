"""Cross-project people metrics: `load(person)` and the as-of metric `status_age(project)`.

`load` needs every assignment of a person across the portfolio. Scanning all projects per
person would make a 20,000-person audit quadratic, so the first call of a run groups the
`assignments` view by person once (kept in the run's cache) and every later call is a
lookup.
"""

from __future__ import annotations

from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec
from pmo_rules.values import Duration

ACTIVE = "active"


def _load_index(run) -> dict[str, list[dict]]:
    index = run.cache.get("people.load")
    if index is None:
        index = {}
        for a in run.snapshot.collection("assignments"):
            person = a.get("person")
            if isinstance(person, str):
                index.setdefault(person, []).append(a)
        run.cache["people.load"] = index
    return index


def load(run, person: dict) -> Decimal | None:
    """Summed allocation of a person over assignments on active projects.

    0 when the person has no such assignment; null when one of them has no allocation
    (unknown is not zero).
    """
    pid = person.get("id")
    total = Decimal(0)
    for a in _load_index(run).get(pid, []):
        project = a.get("project") or {}
        if project.get("status") != ACTIVE:
            continue
        alloc = a.get("allocation")
        if not isinstance(alloc, Decimal):
            return None
        total += alloc
    return total


def status_age(run, project: dict) -> Duration | None:
    """Days from the last status report to the as-of date; null when there never was one."""
    last = project.get("last_status_update")
    if last is None:
        return None
    return Duration(Decimal((run.as_of - last).days))


METRICS = (
    FunctionSpec("load", load, ("person",), "number",
                 "Summed allocation (fractions of a full-time person) over assignments on active projects. "
                 "Null when an allocation is missing.", unit="FTE", kind="metric", context=True),
    FunctionSpec("status_age", status_age, ("project",), "duration",
                 "Time since the last status update, as of the audit date. Null when there was none.",
                 unit="days", kind="metric", context=True, inputs=("last_status_update",)),
)


@hookimpl
def pmo_rules_metrics(register):
    for spec in METRICS:
        register(spec)
