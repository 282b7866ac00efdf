"""Regenerate the bundled sample portfolio: `python pmo_rules/data/sample/make_sample.py`.

The sample is `generate_portfolio(50, seed=2026, as_of=2026-11-26)` plus the deterministic
hand-tuning below, which makes sure that every rule of the bundled policy library fails on
at least one subject and passes on others (so `pmo-rules audit` on the sample shows each
rule at work). Each tweak picks the first project, in id order, that fits its purpose and
has not been tweaked yet, so the script keeps working when the generator changes.

Audit it with `--as-of 2026-11-26`: every date is relative to that day.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sys
from collections.abc import Callable
from typing import Any

from pmo_rules.generate import generate_portfolio, write_portfolio

AS_OF = dt.date(2026, 11, 26)
PROJECTS = 50
SEED = 2026

Project = dict[str, Any]


def _day(offset: int) -> str:
    return (AS_OF + dt.timedelta(days=offset)).isoformat()


class _Tuner:
    def __init__(self, portfolio: dict[str, list[dict[str, Any]]]):
        self.projects: list[Project] = portfolio["projects"]
        self.people: list[dict[str, Any]] = portfolio["people"]
        self.programs: list[dict[str, Any]] = portfolio["programs"]
        self.used: set[str] = set()

    def take(self, why: str, pred: Callable[[Project], bool]) -> Project:
        for project in self.projects:
            if project["id"] not in self.used and pred(project):
                self.used.add(project["id"])
                return project
        raise SystemExit(f"make_sample: no project left for: {why}")

    def load(self, person_id: str) -> float:
        return sum(a["allocation"] for p in self.projects if p["status"] == "active"
                   for a in p["assignments"] if a["person"] == person_id)


def _active(phase: str | None = None) -> Callable[[Project], bool]:
    def pred(p: Project) -> bool:
        return p["status"] == "active" and (phase is None or p["phase"] == phase)
    return pred


def _scale_budget(project: Project, approved: int) -> None:
    budget = project["budget"]
    factor_num, factor_den = approved, budget["approved"]
    for key in ("actual_cost", "planned_value", "earned_value"):
        budget[key] = round(budget[key] * factor_num / factor_den)
    budget["approved"] = approved


def tune(portfolio: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    t = _Tuner(portfolio)

    # names: non-ASCII, emoji, very long and duplicate-looking names must travel intact
    t.take("non-ASCII name", lambda p: True)["name"] = "Überseehafen Łódź 東京"
    t.take("accented name", lambda p: True)["name"] = "Café Münster Rollout ☕"
    first = t.projects[0]["name"]
    t.take("duplicate-looking name", lambda p: p["name"] != first)["name"] = first + " "
    t.take("very long name", lambda p: True)["name"] = (
        "Enterprise-wide Harmonisation of Finance, Procurement and HR Processes Across All "
        "Regions, Business Units and Legal Entities, Including Subsidiaries Acquired During "
        "the 2024-2028 Strategy Period (Phase 2)")

    # governance.manager-assigned: the manager left and nobody replaced them
    p = t.take("manager missing", lambda p: _active("execution")(p) and p["manager"])
    p["assignments"] = [a for a in p["assignments"] if a["person"] != p["manager"]]
    p["manager"] = None

    # resources.project-manager-booked: a manager without a booking on the project
    p = t.take("manager not booked", lambda p: _active("execution")(p) and p["manager"]
               and any(a["person"] == p["manager"] for a in p["assignments"]))
    p["assignments"] = [a for a in p["assignments"] if a["person"] != p["manager"]]

    # performance.budget-not-exhausted: all the money spent, work not done
    p = t.take("budget exhausted", lambda p: _active()(p)
               and 0 < p["budget"]["earned_value"] < p["budget"]["approved"] * 0.9)
    p["budget"]["actual_cost"] = p["budget"]["approved"] + 20_000

    # governance.change-requests-approved: a large change implemented without approval
    p = t.take("unapproved change", _active("execution"))
    p.setdefault("change_requests", []).append({
        "id": f"CR-{len(p['change_requests']) + 1}", "cost_impact": 180_000,
        "status": "implemented", "approved_by": None, "approved_on": None,
        "implemented_on": _day(-20)})

    # portfolio.program-exists: a program that is not in the register
    p = t.take("unknown program", lambda p: _active()(p) and p["program"])
    p["program"] = "PGM-009"

    # portfolio.significant-initiative-approved: one approved by the board, one not
    p = t.take("significant initiative, board-approved", _active("execution"))
    _scale_budget(p, 12_000_000)
    p["business_case"] = {"status": "approved", "approved_by": "Portfolio Board",
                          "approved_on": _day_before(p["start_date"], 30)}
    p = t.take("significant initiative, CFO-approved", _active("execution"))
    _scale_budget(p, 6_500_000)
    p["business_case"] = {"status": "approved", "approved_by": "CFO",
                          "approved_on": _day_before(p["start_date"], 14)}

    # resources.assignments-name-people: a placeholder instead of a person
    p = t.take("placeholder assignment", _active())
    p["assignments"].append({"person": "TBD", "role": "Architect", "allocation": 0.25})

    # resources.person-not-overallocated: a busy person booked full time on one more project
    busy = max((person for person in t.people if person["active"] and person["capacity"] > 0),
               key=lambda person: (t.load(person["id"]), person["id"]))
    p = t.take("over-allocation", lambda p: _active()(p)
               and all(a["person"] != busy["id"] for a in p["assignments"]))
    p["assignments"].append({"person": busy["id"], "role": "Architect", "allocation": 1.0})

    # resources.cost-rate-set: someone on active projects has no rate on file
    staffed = [person for person in t.people if person["id"] != busy["id"]
               and person["role"] != "Executive" and t.load(person["id"]) > 0]
    staffed[0]["cost_rate"] = None

    # risk.critical-issues-escalated: one critical issue escalated, one not
    p = t.take("critical issue not escalated", _active())
    owner = p["manager"] or t.people[1]["id"]
    p.setdefault("issues", []).append({
        "id": f"I-{len(p['issues']) + 1}", "title": "Supplier insolvency threatens delivery",
        "priority": "critical", "status": "open", "owner": owner, "opened": _day(-35),
        "due": _day(10), "escalated_on": None})
    p = t.take("critical issue escalated", _active())
    owner = p["manager"] or t.people[1]["id"]
    p.setdefault("issues", []).append({
        "id": f"I-{len(p['issues']) + 1}", "title": "Data centre lease ends early",
        "priority": "critical", "status": "open", "owner": owner, "opened": _day(-40),
        "due": _day(20), "escalated_on": _day(-33)})

    # governance.execution-gates-approved: executing without the plan-approval gate
    p = t.take("gate skipped", lambda p: _active("execution")(p)
               and any(g["name"].startswith("G2") for g in p["gates"]))
    for gate in p["gates"]:
        if gate["name"].startswith("G2"):
            gate.update(required=True, approved_by=None, approved_on=None)

    # performance.actuals-posted: progress reported, but no cost booked yet
    p = t.take("no actuals", lambda p: _active()(p) and p["budget"]["earned_value"] > 0)
    p["budget"]["actual_cost"] = 0

    # risk.issue-hygiene: an open issue past its due date
    p = t.take("overdue issue", _active())
    p.setdefault("issues", []).append({
        "id": f"I-{len(p['issues']) + 1}", "title": "Licence count exceeded",
        "priority": "medium", "status": "open", "owner": p["manager"] or t.people[1]["id"],
        "opened": _day(-50), "due": _day(-12), "escalated_on": None})

    # risk.high-risks-mitigated: a large open risk with no response planned
    p = t.take("unmitigated high risk", lambda p: _active()(p) and p["budget"]["approved"] > 0)
    p["risks"].append({
        "id": f"R-{len(p['risks']) + 1}", "title": "Regulator may reject the data-retention design",
        "probability": 0.6, "impact": 400_000, "status": "open",
        "owner": p["manager"] or t.people[1]["id"], "mitigation": None})

    # risk.dependencies-sound: one dependency on a project that does not exist, one that is fine
    p = t.take("dangling dependency", _active())
    p["dependencies"] = [{"project": "PRJ-000999", "needed_by": _day(90)}]
    done = next(q for q in t.projects if q["status"] == "completed")
    p = t.take("sound dependency", _active())
    p["dependencies"] = [{"project": done["id"], "needed_by": _day(60)}]

    # portfolio.proposals-have-business-case: a proposal that skipped the business case
    p = t.take("proposal without business case", lambda p: p["status"] == "proposed")
    p["business_case"] = None

    # program caps: the first program keeps headroom, the second is committed beyond its cap
    for program, percent in zip(t.programs, (125, 90)):
        total = sum(q["budget"]["approved"] for q in t.projects
                    if q["program"] == program["id"] and q["status"] != "cancelled")
        program["budget_cap"] = total * percent // 100 // 10_000 * 10_000
    return portfolio


def _day_before(date_text: str, days: int) -> str:
    return (dt.date.fromisoformat(date_text) - dt.timedelta(days=days)).isoformat()


def main(out_dir: pathlib.Path | None = None) -> list[pathlib.Path]:
    portfolio = generate_portfolio(PROJECTS, seed=SEED, as_of=AS_OF)
    return write_portfolio(tune(portfolio), out_dir or pathlib.Path(__file__).resolve().parent)


if __name__ == "__main__":
    for path in main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(f"wrote {path}")
