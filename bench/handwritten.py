"""The hand-written baseline: 14 rules of the bundled policy library as a plain Python loop.

The performance issue sets the engine a target: match "a hand-written Python loop
0.2 s for 10k projects on 14 rules". This module is that loop, so that `bench/run.py`
can time it on the same snapshot as the engine and report the ratio. It is written the
way a competent engineer would write a one-off audit script: one pass over the plain
dicts of the snapshot, dicts and sets for the joins, exact `Decimal` arithmetic, and no
evidence, messages, waivers or explanations: only the number of subjects per rule that
would not pass.

`run(snapshot, as_of)` returns, for each id in `RULES`, how many subjects the engine
would report as `fail` or `error`: a null that a rule needs (a missing date it compares,
a missing allocation it sums, ...) counts as a failure, as the engine's `error` does.
Parameters are the policy library's defaults, written in as constants.
`tests/test_handwritten_baseline.py` checks the counts against the engine.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

RULES: tuple[str, ...] = (
    "governance.manager-assigned",
    "governance.sponsor-assigned",
    "governance.tolerances-set",
    "governance.status-fresh",
    "governance.baseline-before-execution",
    "governance.rag-reflects-metrics",
    "performance.cpi-floor",
    "performance.spi-floor",
    "performance.cost-within-tolerance",
    "performance.time-within-tolerance",
    "performance.milestone-hit-rate",
    "risk.exposure-within-reserve",
    "resources.person-not-overallocated",
    "portfolio.program-within-cap",
)

# The policy library's parameter defaults.
STALE_AFTER_DAYS = 14              # governance.stale_after
WATERMELON_CPI = Decimal("0.9")    # governance.watermelon_cpi
WATERMELON_SPI = Decimal("0.9")    # governance.watermelon_spi
CPI_FLOOR = Decimal("0.9")         # performance.cpi_floor
SPI_FLOOR = Decimal("0.9")         # performance.spi_floor
MIN_EV_PCT = Decimal("0.10")       # performance.min_ev_pct
SPI_HORIZON = Decimal("0.67")      # performance.spi_horizon
HIT_RATE_TARGET = Decimal("0.80")  # performance.hit_rate_target
HIT_GRACE = dt.timedelta(days=7)   # performance.hit_grace
RESERVE_SHARE = Decimal("0.20")    # risk.reserve_share
UNASSESSED_PROBABILITY = Decimal(1)  # risk.unassessed_probability
OVERBOOKING_TOLERANCE = Decimal(0)   # resources.overbooking_tolerance

# The language's arithmetic: 28 significant digits, half-even (pmo_rules.values.DECIMAL_CONTEXT).
_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)

_EMPTY: dict = {}


def run(snapshot, as_of: dt.date) -> dict[str, int]:
    """Per rule id in RULES, the number of subjects that fail (or cannot be decided)."""
    with decimal.localcontext(_CONTEXT):
        return _run(snapshot, as_of)


def _run(snapshot, as_of: dt.date) -> dict[str, int]:
    bad = dict.fromkeys(RULES, 0)
    people = snapshot.people
    active_people = {p["id"] for p in people if p.get("active") is not False}

    manager = sponsor = tolerances_set = fresh = baseline = rag = 0
    cpi_floor = spi_floor = cost_tol = time_tol = hit_rate = exposure_bad = 0
    load: dict[str, Decimal] = {}           # person id -> allocation on active projects
    unknown_load: set[str] = set()          # people with an assignment of unknown allocation
    committed: dict[str, Decimal] = {}      # program id -> approved budgets of its projects

    for p in snapshot.projects:
        status = p["status"]
        budget = p["budget"] or _EMPTY
        bac = budget.get("approved")
        ac = budget.get("actual_cost")
        ev = budget.get("earned_value")
        pv = budget.get("planned_value")
        milestones = p["milestones"]

        if status != "cancelled" and p["program"] is not None:
            committed[p["program"]] = committed.get(p["program"], 0) + (bac or 0)

        # governance.baseline-before-execution (`in` on a null status or phase is an error)
        if status is None:
            baseline += 1
        elif status == "active" or status == "on_hold":
            phase = p["phase"]
            if phase is None:
                baseline += 1
            elif (phase == "execution" or phase == "closing") and (
                    p["planned_end"] is None or not (bac or 0) > 0
                    or any(m["baseline"] is None for m in milestones)):
                baseline += 1

        if status != "active":
            continue

        if p["manager"] is None:
            manager += 1
        if p["sponsor"] not in active_people:
            sponsor += 1
        tol = p["tolerances"] or _EMPTY
        time_days = tol.get("time_days")
        cost_pct = tol.get("cost_pct")
        if p["phase"] != "initiation" and (time_days is None or cost_pct is None):
            tolerances_set += 1
        last = p["last_status_update"]
        if last is None or (as_of - last).days > STALE_AFTER_DAYS:
            fresh += 1

        # earned value: CPI = EV / AC, SPI = EV / PV
        cpi = ev / ac if ev is not None and ac else None
        if p["health"] == "green":
            overdue = any(m["completed"] is None and m["due"] is not None and m["due"] < as_of
                          for m in milestones)
            if (overdue or (cpi is not None and cpi < WATERMELON_CPI)
                    or (pv is not None and pv > 0 and (ev is None or ev / pv < WATERMELON_SPI))):
                rag += 1
        if bac and bac > 0:
            if ac and ac > 0 and (ev or 0) >= MIN_EV_PCT * bac and cpi < CPI_FLOOR:
                cpi_floor += 1
            if pv is not None and MIN_EV_PCT * bac <= pv <= SPI_HORIZON * bac and (
                    ev is None or ev / pv < SPI_FLOOR):
                spi_floor += 1
            if (cost_pct is not None and ac and ac > 0 and ev and ev > 0
                    and bac / cpi > bac * (1 + cost_pct)):
                cost_tol += 1
            exposure = sum((UNASSESSED_PROBABILITY if r["probability"] is None else r["probability"])
                           * (r["impact"] or 0)
                           for r in p["risks"] if r["status"] == "open")
            if exposure > RESERVE_SHARE * bac:
                exposure_bad += 1

        planned_end = p["planned_end"]
        if time_days is not None and planned_end is not None:
            forecast_end = p["forecast_end"]
            if forecast_end is None or (forecast_end - planned_end).days > time_days:
                time_tol += 1

        due = hit = 0
        for m in milestones:
            b = m["baseline"]
            if b is not None and b <= as_of:
                due += 1
                done = m["completed"]
                if done is not None and done <= b + HIT_GRACE:
                    hit += 1
        if due and Decimal(hit) / due < HIT_RATE_TARGET:
            hit_rate += 1

        for a in p["assignments"]:
            who = a["person"]
            alloc = a["allocation"]
            if alloc is None:
                unknown_load.add(who)
            else:
                load[who] = load.get(who, 0) + alloc

    overallocated = 0
    for person in people:
        pid = person["id"]
        capacity = person["capacity"]
        if pid in unknown_load or capacity is None or load.get(pid, 0) > capacity + OVERBOOKING_TOLERANCE:
            overallocated += 1

    over_cap = 0
    for program in snapshot.programs:
        cap = program["budget_cap"]
        if cap is None or committed.get(program["id"], 0) > cap:
            over_cap += 1

    bad["governance.manager-assigned"] = manager
    bad["governance.sponsor-assigned"] = sponsor
    bad["governance.tolerances-set"] = tolerances_set
    bad["governance.status-fresh"] = fresh
    bad["governance.baseline-before-execution"] = baseline
    bad["governance.rag-reflects-metrics"] = rag
    bad["performance.cpi-floor"] = cpi_floor
    bad["performance.spi-floor"] = spi_floor
    bad["performance.cost-within-tolerance"] = cost_tol
    bad["performance.time-within-tolerance"] = time_tol
    bad["performance.milestone-hit-rate"] = hit_rate
    bad["risk.exposure-within-reserve"] = exposure_bad
    bad["resources.person-not-overallocated"] = overallocated
    bad["portfolio.program-within-cap"] = over_cap
    return bad
