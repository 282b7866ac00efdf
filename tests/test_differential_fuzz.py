"""Hypothesis builds whole policies from the grammar's constructs and portfolios full of
nulls, zeros and boundary values; the compiled evaluator (1 and 2 workers) must produce
exactly the reference interpreter's report, evidence and messages included.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pmo_rules import api
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()

# ------------------------------------------------------------------ expressions --

NUM_PATHS = ["project.budget.approved", "project.budget.actual_cost", "project.budget.earned_value",
             "project.budget.planned_value", "project.priority", "project.tolerances.cost_pct"]
NUM_LITS = ["0", "1", "0.9", "2.5", "250k", "20%", "1_000", "0.1", "3"]
DATE_PATHS = ["project.start_date", "project.planned_end", "project.forecast_end", "project.last_status_update"]
TEXT_PATHS = ["project.status", "project.name", "project.sponsor", "project.phase"]


def leaf(options: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(options)


def numbers(depth: int) -> st.SearchStrategy[str]:
    base = st.one_of(leaf(NUM_PATHS), leaf(NUM_LITS))
    if depth <= 0:
        return base
    sub = numbers(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, st.sampled_from(["+", "-", "*", "/"]), sub),
        st.builds(lambda a, b: f"({a} ?? {b})", sub, sub),
        st.builds(lambda a: f"-{a}", leaf(NUM_PATHS)),
        st.sampled_from(["cpi(project)", "spi(project)", "cv(project)", "risk_exposure(project)",
                         "len(project.name)", "len(project.risks)", "count(project.tags)",
                         "days(today - project.start_date)", "schedule_slip(project)"]),
        st.builds(lambda a, n: f"round({a}, {n})", sub, st.sampled_from(["0", "1", "2"])),
        st.builds(lambda a: f"abs({a})", sub),
        st.builds(lambda a, b: f"max({a}, {b})", sub, sub),
        st.builds(lambda agg, el, w: f"{agg}({el} for r in project.risks{w})",
                  st.sampled_from(["sum", "min", "max", "avg"]),
                  st.sampled_from(["r.impact", "r.probability * r.impact", "r.probability ?? 0"]),
                  st.sampled_from(["", ' where r.status == "open"', " where r.owner is present"])),
        st.builds(lambda w: f"count(true for r in project.risks{w})",
                  st.sampled_from(["", ' where r.status == "open"'])),
        st.just("sum(a.allocation for a in assignments where a.person == project.manager)"),
        st.just("count(p.id == project.sponsor for p in people)"),
    )


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        leaf(DATE_PATHS), st.just("today"), st.just("2026-12-31"),
        st.builds(lambda d, n: f"({d} + {n})", leaf(DATE_PATHS), st.sampled_from(["14d", "2w", "3mo", "-1y"])),
    )


def bools(depth: int) -> st.SearchStrategy[str]:
    base = st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", numbers(1), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
                  numbers(1)),
        st.builds(lambda a, op, b: f"{a} {op} {b}", dates(), st.sampled_from(["<", "<=", "==", ">="]), dates()),
        st.builds(lambda a, b: f"({a} - {b}) <= 30d", dates(), dates()),
        st.builds(lambda p, v: f"{p} == {v}", leaf(TEXT_PATHS),
                  st.sampled_from(['"active"', '"execution"', "null", '"PER-00001"'])),
        st.builds(lambda p, w: f"{p} is {w}", st.one_of(leaf(TEXT_PATHS), leaf(NUM_PATHS)),
                  st.sampled_from(["present", "missing"])),
        st.builds(lambda p: f'{p} in ["active", "on_hold"]', leaf(TEXT_PATHS)),
        st.builds(lambda p: f'{p} matches "^[A-Z]"', leaf(TEXT_PATHS)),
        st.builds(lambda p: f'{p} contains "a"', leaf(TEXT_PATHS)),
        st.sampled_from(["true", "false", 'project.tags contains "x"', '"x" in project.tags',
                         'all(r.owner is present for r in project.risks where r.status == "open")',
                         'any(r.probability > 0.5 for r in project.risks)',
                         'none(r.impact > 100k for r in project.risks)',
                         "any(p.id == project.sponsor for p in people)",
                         'all(m.completed is present or m.due >= today for m in project.milestones)']),
    )
    if depth <= 0:
        return base
    sub = bools(depth - 1)
    return st.one_of(
        base,
        st.builds(lambda a, op, b: f"({a} {op} {b})", sub, st.sampled_from(["and", "or", "implies"]), sub),
        st.builds(lambda a: f"not ({a})", sub),
    )


@st.composite
def policies(draw) -> str:
    rules = []
    for i in range(draw(st.integers(1, 3))):
        where = draw(st.one_of(st.just(""), st.builds(lambda b: f" where {b}", bools(1)),
                               st.just(' where project.status == "active"'),
                               st.just(' where project.phase in ["execution", "closing"]')))
        lets = [f"    let v{j} = {draw(numbers(2))}" for j in range(draw(st.integers(0, 2)))]
        reqs = []
        for _ in range(draw(st.integers(1, 2))):
            cond = draw(bools(2))
            tmpl = draw(st.sampled_from(["", ' else "{project.id}: {project.budget.approved} vs {cpi(project):.2f}"',
                                         ' else "failed {{literally}} {project.name}"']))
            reqs.append(f"    require {cond}{tmpl}")
        msg = draw(st.sampled_from(["", '    message "{project.id} / {today - project.start_date}"']))
        body = "\n".join([f"    for project in projects{where}", *lets, *reqs] + ([msg] if msg else []))
        rules.append(f"rule r{i} {{\n{body}\n}}")
    rules += [draw(view_rule(f"v{i}")) for i in range(draw(st.integers(0, 2)))]
    person_rule = ("rule load {\n    for person in people\n"
                   "    let load = sum(a.allocation for a in assignments where a.person == person.id"
                   ' and a.project.status == "active")\n    require load <= person.capacity\n}')
    return "package fuzz\n\nparam floor = 0.9\n\n" + "\n\n".join([*rules, person_rule]) + "\n"


# View items as subjects: workers read them as (child, project) pairs, not items
# (`Snapshot.view_slices`), so their fields, their `project`, the item used whole, scopes
# on either, and items named by position must all read as the reference reads them.
VIEW_BOOLS = {
    "r": ['r.status == "open"', "r.owner is present", 'r.project.status == "active"', "r.probability > 0.5",
          "r.impact >= 250k", "(r.probability * r.impact ?? 0) < 50k", "r.owner == r.project.sponsor",
          "any(x.id == r.id and x.status == r.status for x in r.project.risks)",
          'count(x.status == "open" for x in r.project.risks) <= 2', "r != null", 'r["status"] != "closed"',
          'r.project.phase in ["execution", "closing"]', "any(p.id == r.owner for p in people)",
          "r.project.budget.approved > r.impact", 'r.project.status != "on_hold"',
          'not (r.project.phase == "planning")'],
    "m": ["m.completed is present", "m.due >= today", "m.completed <= m.due", 'm.project.status == "active"',
          "m.baseline is present and m.due > m.baseline", "m != null", "m.project.planned_end >= m.due",
          "count(x.completed is present for x in m.project.milestones) >= 1", 'm.project.status != "on_hold"'],
}
VIEW_WHERES = {
    "r": ["", ' where r.status == "open"', ' where r.project.status == "active"', " where r.probability > 0.5",
          ' where r.owner is present and r.status == "open"', ' where r.project.phase in ["execution", "closing"]',
          ' where r.status == "open" and r.project.status != "completed"'],
    "m": ["", ' where m.project.status == "active"', " where m.baseline is present", ' where m.name == "M1"',
          ' where m.baseline is present and m.project.status == "active"'],
}
VIEW_MESSAGES = {"r": ["", ' else "{r.project.id} {r.id}: {r.impact} by {r.owner}"'],
                 "m": ["", ' else "{m.project.id} {m.name} due {m.due}"']}


@st.composite
def view_rule(draw, name: str) -> str:
    var = draw(st.sampled_from(["r", "m"]))
    view = {"r": "risks", "m": "milestones"}[var]
    conds = [draw(st.lists(st.sampled_from(VIEW_BOOLS[var]), min_size=1, max_size=2)) for _ in range(draw(st.integers(1, 2)))]
    joiner = draw(st.sampled_from([" and ", " or "]))
    reqs = [f"    require {joiner.join(c)}{draw(st.sampled_from(VIEW_MESSAGES[var]))}" for c in conds]
    return "\n".join([f"rule {name} {{", f"    for {var} in {view}{draw(st.sampled_from(VIEW_WHERES[var]))}", *reqs, "}"])


# -------------------------------------------------------------------- portfolios --

money = st.one_of(st.none(), st.just(0), st.sampled_from([1, 100, 250_000, 250_001]),
                  st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False))
maybe_date = st.one_of(st.none(), st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2028, 12, 31)))
person_ids = st.sampled_from(["PER-00001", "PER-00002", "PER-00003", "GHOST"])


@st.composite
def portfolios(draw) -> dict:
    projects = []
    for i in range(draw(st.integers(0, 5))):
        risks = [{"id": draw(st.sampled_from([f"R-{j}", f"R-{j}", None])), "status": draw(st.sampled_from(["open", "closed", None])),
                  "probability": draw(st.one_of(st.none(), st.sampled_from(["0", "0.5", "0.9", "1"]))),
                  "impact": draw(money), "owner": draw(st.one_of(st.none(), person_ids))}
                 for j in range(draw(st.integers(0, 3)))]
        projects.append({
            "id": f"PRJ-{i:06d}",
            "name": draw(st.one_of(st.none(), st.sampled_from(["Ledger", "ärger", "", "Zeta 東京"]))),
            "status": draw(st.sampled_from(["active", "on_hold", "completed", None])),
            "phase": draw(st.sampled_from(["planning", "execution", "closing", None])),
            "priority": draw(st.one_of(st.none(), st.integers(1, 5))),
            "sponsor": draw(st.one_of(st.none(), person_ids)),
            "manager": draw(st.one_of(st.none(), person_ids)),
            "start_date": draw(maybe_date), "planned_end": draw(maybe_date),
            "forecast_end": draw(maybe_date), "last_status_update": draw(maybe_date),
            "budget": {"approved": draw(money), "actual_cost": draw(money), "earned_value": draw(money),
                       "planned_value": draw(money)},
            "tolerances": draw(st.one_of(st.none(), st.just({"cost_pct": "0.1", "time_days": 10}))),
            "tags": draw(st.lists(st.sampled_from(["x", "y"]), max_size=2)),
            "risks": risks,
            "milestones": [{"name": draw(st.sampled_from([f"M{j}", f"M{j}", None])), "baseline": draw(maybe_date), "due": draw(maybe_date),
                            "completed": draw(maybe_date)} for j in range(draw(st.integers(0, 2)))],
            "assignments": [{"person": draw(person_ids), "allocation": draw(st.sampled_from(["0.5", "1.0", "0.25"]))}
                            for _ in range(draw(st.integers(0, 2)))],
        })
    people = [{"id": pid, "capacity": draw(st.sampled_from(["1.0", "0.5", "0.8"]))}
              for pid in draw(st.lists(person_ids, unique=True, max_size=3))]
    return {"projects": projects, "people": people, "programs": []}


def _report(policy: str, data: dict, evaluator) -> dict:
    return api.audit_text(policy, data, AS_OF, session=SESSION, evaluator=evaluator).model_dump()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(), portfolios())
def test_compiled_equals_reference_on_generated_policies(policy, data):
    program, diags = api.check_text(policy, SESSION, "fuzz.pmo")
    assume(program is not None)  # ill-typed combinations are the checker's business
    ref = _report(policy, data, ReferenceEvaluator())
    fast = _report(policy, data, IndexedEvaluator(1))
    assert fast == ref


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(), portfolios())
def test_two_workers_equal_the_reference_on_generated_policies(policy, data):
    """Each worker's chunks hold a project or two: view slices by the dozen, per process."""
    program, diags = api.check_text(policy, SESSION, "fuzz.pmo")
    assume(program is not None)
    assert _report(policy, data, IndexedEvaluator(2)) == _report(policy, data, ReferenceEvaluator())


@pytest.mark.parametrize("seed", range(3))
def test_parallel_workers_equal_one_worker(seed):
    from pmo_rules.generate import generate_portfolio
    from pmo_rules.resources import bundled

    data = generate_portfolio(150, seed=seed)
    program, _ = api.load_program([bundled("policies")], SESSION)
    from pmo_rules.load import load_collections

    loaded = load_collections(data)
    one = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(1), include_passes=True)
    two = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(2), include_passes=True)
    ref = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=True)
    assert one.model_dump() == two.model_dump() == ref.model_dump()
