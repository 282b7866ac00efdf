"""Earned-value metrics (PMBOK / ANSI-748) over a project's `budget`.

Conventions (PMO-DOMAIN.md 2.2): a zero or missing denominator gives null, never a crash
or a made-up number; a policy comparing that null gets an `error` outcome unless it
guards with a `where` or defaults with `??`.
"""

from __future__ import annotations

from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec


def _num(record: dict, *path: str) -> Decimal | None:
    value: object = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, Decimal) else None


def cpi(project: dict) -> Decimal | None:
    """Cost performance index: EV / AC. Null when AC is zero or either is missing."""
    ev, ac = _num(project, "budget", "earned_value"), _num(project, "budget", "actual_cost")
    if ev is None or ac is None or ac == 0:
        return None
    return ev / ac


def spi(project: dict) -> Decimal | None:
    """Schedule performance index: EV / PV. Null when PV is zero or either is missing."""
    ev, pv = _num(project, "budget", "earned_value"), _num(project, "budget", "planned_value")
    if ev is None or pv is None or pv == 0:
        return None
    return ev / pv


METRICS = (
    FunctionSpec("cpi", cpi, ("project",), "number",
                 "Cost performance index EV / AC; below 1 means over budget. Null when AC is 0 or missing.",
                 unit="ratio", kind="metric", inputs=("budget.earned_value", "budget.actual_cost")),
    FunctionSpec("spi", spi, ("project",), "number",
                 "Schedule performance index EV / PV; below 1 means behind. Null when PV is 0 or missing.",
                 unit="ratio", kind="metric", inputs=("budget.earned_value", "budget.planned_value")),
)


@hookimpl
def pmo_rules_metrics(register):
    for spec in METRICS:
        register(spec)
