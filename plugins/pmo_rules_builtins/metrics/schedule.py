"""Schedule metrics over a project's dates and milestones (PMO-DOMAIN.md 2.3).

A metric receives only the project record, not the audit's as-of date, so the metrics
here use recorded dates only:

- `schedule_slip` = `forecast_end - planned_end` in calendar days (a number; positive is
  late). Null when either date is missing.
- `milestone_hit_rate` = hits / measured, where *measured* are the milestones that have
  both a `baseline` (the original commitment) and a `completed` date, and a *hit* is one
  completed on or before its baseline (no tolerance). Milestones marked
  `status: "cancelled"` (an organisation field) are left out. Null when no milestone is
  measured. Because the as-of date is not known here, a milestone that is past its
  baseline but not completed is NOT counted as a miss: pair this metric with an
  overdue-milestone rule (`for m in milestones where m.completed is null and m.baseline <
  as_of ...`), or count due milestones in the policy itself.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec
from pmo_rules.values import DECIMAL_CONTEXT


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def schedule_slip(project: dict) -> Decimal | None:
    """forecast_end - planned_end in calendar days; null when either is missing."""
    planned, forecast = _date(project.get("planned_end")), _date(project.get("forecast_end"))
    if planned is None or forecast is None:
        return None
    return Decimal((forecast - planned).days)


def milestone_hit_rate(project: dict) -> Decimal | None:
    """Milestones completed on or before their baseline / milestones with a baseline and a completion."""
    milestones = project.get("milestones")
    if not isinstance(milestones, list):
        return None
    measured = hits = 0
    for m in milestones:
        if not isinstance(m, dict):
            continue
        status = m.get("status")
        if isinstance(status, str) and status.strip().lower() == "cancelled":
            continue
        baseline, completed = _date(m.get("baseline")), _date(m.get("completed"))
        if baseline is None or completed is None:
            continue
        measured += 1
        if completed <= baseline:
            hits += 1
    if measured == 0:
        return None
    with decimal.localcontext(DECIMAL_CONTEXT):
        return Decimal(hits) / Decimal(measured)


METRICS = (
    FunctionSpec("schedule_slip", schedule_slip, ("project",), "number",
                 "Finish slip: forecast_end - planned_end in calendar days; positive is late."
                 " Null when either date is missing.",
                 unit="days", kind="metric", inputs=("planned_end", "forecast_end")),
    FunctionSpec("milestone_hit_rate", milestone_hit_rate, ("project",), "number",
                 "Share of milestones completed on or before their baseline, over the milestones with both a"
                 " baseline and a completed date (cancelled ones excluded; due but unmet ones are not counted)."
                 " Null when there are none.",
                 unit="ratio", kind="metric", inputs=("milestones",)),
)


@hookimpl
def pmo_rules_metrics(register):
    for spec in METRICS:
        register(spec)
