"""Earned-value metrics (PMBOK / ANSI-748) over a project's `budget`.

Conventions (PMO-DOMAIN.md 2.2): a zero or missing denominator gives null, never a crash
or a made-up number; a policy comparing that null gets an `error` outcome unless it
guards with a `where` or defaults with `??`.

Inputs: EV = `budget.earned_value`, AC = `budget.actual_cost`, PV = `budget.planned_value`,
BAC = `budget.approved`. All arithmetic is exact `Decimal` (divisions keep 28 significant
digits, the language's context).

- `cv` = EV - AC (+ is under budget); `sv` = EV - PV (+ is ahead, in money).
- `eac` = BAC / CPI (the PMBOK "typical" EAC: CPI to date carries on), computed as
  BAC x AC / EV so that it is rounded once. Null when CPI is null (AC 0 or missing) or 0
  (EV 0), or BAC is missing.
- `etc` = EAC - AC; `vac` = BAC - EAC (- is a forecast overrun). Null when EAC is.
- `tcpi` = (BAC - EV) / (BAC - AC), the efficiency needed to finish on budget. Null when
  BAC - AC <= 0: the budget is used up and finishing on it is impossible. The domain says
  a rule on TCPI must then *fail*, not skip; a policy says so with
  `require tcpi(project) is present` before comparing it.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec
from pmo_rules.values import DECIMAL_CONTEXT


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


def _bac(project: dict) -> Decimal | None:
    return _num(project, "budget", "approved")


def _budget_difference(project: dict, minuend: str, subtrahend: str) -> Decimal | None:
    a, b = _num(project, "budget", minuend), _num(project, "budget", subtrahend)
    if a is None or b is None:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        return a - b


def cv(project: dict) -> Decimal | None:
    """Cost variance: EV - AC. Null when either is missing."""
    return _budget_difference(project, "earned_value", "actual_cost")


def sv(project: dict) -> Decimal | None:
    """Schedule variance: EV - PV. Null when either is missing."""
    return _budget_difference(project, "earned_value", "planned_value")


def eac(project: dict) -> Decimal | None:
    """Estimate at completion: BAC / CPI (= BAC x AC / EV). Null when CPI is null or 0, or BAC missing."""
    bac = _bac(project)
    ev, ac = _num(project, "budget", "earned_value"), _num(project, "budget", "actual_cost")
    if bac is None or ev is None or ac is None or ac == 0 or ev == 0:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        return bac * ac / ev


def etc(project: dict) -> Decimal | None:
    """Estimate to complete: EAC - AC. Null when EAC is."""
    e, ac = eac(project), _num(project, "budget", "actual_cost")
    if e is None or ac is None:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        return e - ac


def vac(project: dict) -> Decimal | None:
    """Variance at completion: BAC - EAC. Null when EAC is."""
    e, bac = eac(project), _bac(project)
    if e is None or bac is None:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        return bac - e


def tcpi(project: dict) -> Decimal | None:
    """To-complete performance index on BAC: (BAC - EV) / (BAC - AC). Null when BAC - AC <= 0."""
    bac = _bac(project)
    ev, ac = _num(project, "budget", "earned_value"), _num(project, "budget", "actual_cost")
    if bac is None or ev is None or ac is None:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        left = bac - ac
        if left <= 0:
            return None
        return (bac - ev) / left


_EV, _AC, _PV, _BAC = "budget.earned_value", "budget.actual_cost", "budget.planned_value", "budget.approved"

METRICS = (
    FunctionSpec("cpi", cpi, ("project",), "number",
                 "Cost performance index EV / AC; below 1 means over budget. Null when AC is 0 or missing.",
                 unit="ratio", kind="metric", inputs=("budget.earned_value", "budget.actual_cost")),
    FunctionSpec("spi", spi, ("project",), "number",
                 "Schedule performance index EV / PV; below 1 means behind. Null when PV is 0 or missing.",
                 unit="ratio", kind="metric", inputs=("budget.earned_value", "budget.planned_value")),
    FunctionSpec("cv", cv, ("project",), "number",
                 "Cost variance EV - AC; negative means over budget. Null when EV or AC is missing.",
                 unit="money", kind="metric", inputs=(_EV, _AC)),
    FunctionSpec("sv", sv, ("project",), "number",
                 "Schedule variance EV - PV (in money); negative means behind. Null when EV or PV is missing.",
                 unit="money", kind="metric", inputs=(_EV, _PV)),
    FunctionSpec("eac", eac, ("project",), "number",
                 "Estimate at completion BAC / CPI (BAC = budget.approved). Null when CPI is null or 0, or BAC missing.",
                 unit="money", kind="metric", inputs=(_BAC, _EV, _AC)),
    FunctionSpec("etc", etc, ("project",), "number",
                 "Estimate to complete EAC - AC. Null when EAC is null.",
                 unit="money", kind="metric", inputs=(_BAC, _EV, _AC)),
    FunctionSpec("vac", vac, ("project",), "number",
                 "Variance at completion BAC - EAC; negative means a forecast overrun. Null when EAC is null.",
                 unit="money", kind="metric", inputs=(_BAC, _EV, _AC)),
    FunctionSpec("tcpi", tcpi, ("project",), "number",
                 "To-complete performance index (BAC - EV) / (BAC - AC). Null when BAC - AC <= 0 (budget used up:"
                 " finishing on budget is impossible, so write `require tcpi(project) is present`) or an input is missing.",
                 unit="ratio", kind="metric", inputs=(_BAC, _EV, _AC)),
)


@hookimpl
def pmo_rules_metrics(register):
    for spec in METRICS:
        register(spec)
