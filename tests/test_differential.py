"""The indexed evaluator must agree with the reference interpreter, finding for finding.

Hand-picked cases are not enough: hypothesis builds portfolios full of nulls, duplicate
keys, mixed key types and empty collections, and both evaluators must produce identical
reports (outcomes, messages, evidence, waivers) every time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmo_rules import api
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.generate import generate_portfolio
from pmo_rules.resources import bundled, sample_data

AS_OF = dt.date(2026, 11, 26)

JOIN_POLICY = """
package joins

param cap = 1.0

rule load {
    for person in people
    let load = sum(a.allocation for a in assignments
                   where a.person == person.id and a.project.status == "active")
    require load <= person.capacity ?? cap
    message "{person.id} booked at {load}"
}

rule program-total {
    for program in programs
    let total = sum(p.budget.approved ?? 0 for p in projects where p.program == program.id)
    require total <= program.budget_cap
}

rule sponsor-known {
    for project in projects where project.status == "active"
    require any(p.id == project.sponsor for p in people)
    require count(p.id == project.sponsor for p in people) <= 1
    require none(p.id == project.manager and p.capacity < 0.1 for p in people)
}

rule reversed-join {
    for person in people where person.capacity in [0.5, 1.0]
    require all(a.allocation <= 1 for a in assignments where person.id == a.person)
}

rule custom-key {
    for project in projects where project.custom.tier == "gold"
    require count(true for q in projects where q.custom.tier == project.custom.tier) >= 1
}

waiver W-1 {
    rule joins.program-total
    subjects "PGM-1"
    reason "test"
    approved_by "CFO"
    expires 2027-01-01
}
"""


def _both(program, loaded, include_passes=True):
    a = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=include_passes)
    b = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(), include_passes=include_passes)
    return a.model_dump(), b.model_dump()


@pytest.fixture(scope="module")
def session():
    return api.Session.create()


def test_library_on_sample_agrees(session):
    program, _ = api.load_program([bundled("policies")], session)
    loaded = api.load_data([sample_data()], session)
    a, b = _both(program, loaded)
    assert a == b
    assert a["totals"]["fail"] > 0


def test_library_on_generated_portfolio_agrees(session, tmp_path):
    from pmo_rules.generate import write_portfolio

    write_portfolio(generate_portfolio(300, seed=11), tmp_path)
    program, _ = api.load_program([bundled("policies")], session)
    loaded = api.load_data([tmp_path], session)
    a, b = _both(program, loaded)
    assert a == b


ids = st.sampled_from(["P1", "P2", "P3", "PGM-1", "PGM-2", None])
mixed = st.one_of(ids, st.integers(0, 3), st.just(None))
amounts = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False))
fractions = st.one_of(st.none(), st.sampled_from(["0.25", "0.5", "1.0", "0.05"]))


@st.composite
def portfolios(draw):
    people = []
    for i in range(draw(st.integers(0, 5))):
        p = {"id": draw(st.sampled_from(["P1", "P2", "P3", "P4"])) + ("" if i < 3 else str(i))}
        cap = draw(fractions)
        if cap is not None:
            p["capacity"] = cap
        people.append(p)
    programs = [{"id": f"PGM-{i}", "budget_cap": draw(amounts)} for i in range(draw(st.integers(0, 3)))]
    projects = []
    for i in range(draw(st.integers(0, 6))):
        prj = {
            "id": f"PRJ-{i}",
            "status": draw(st.sampled_from(["active", "on_hold", None])),
            "program": draw(st.one_of(st.none(), st.sampled_from(["PGM-0", "PGM-1", "PGM-2"]))),
            "sponsor": draw(ids),
            "manager": draw(ids),
            "budget": {"approved": draw(amounts)},
            "assignments": [{"person": draw(ids), "allocation": draw(fractions)}
                            for _ in range(draw(st.integers(0, 3)))],
            "custom": {"tier": draw(st.one_of(st.sampled_from(["gold", "silver"]), st.integers(0, 2), st.none()))},
        }
        projects.append(prj)
    return {"projects": projects, "people": people, "programs": programs}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_joins_and_scopes_agree_on_random_portfolios(data):
    session = api.Session.create()
    ref = api.audit_text(JOIN_POLICY, data, AS_OF, session=session, evaluator=ReferenceEvaluator())
    fast = api.audit_text(JOIN_POLICY, data, AS_OF, session=session, evaluator=IndexedEvaluator())
    assert ref.model_dump() == fast.model_dump()


def test_spec_example_agrees(session):
    spec = Path(__file__).resolve().parents[2] / "shared" / "SPEC.md"
    if not spec.exists():
        pytest.skip("../shared/SPEC.md is not beside the checkout")
    text = spec.read_text(encoding="utf-8")
    block = text[text.index("### 2.1 A file"):].split("```")[1]
    data = generate_portfolio(120, seed=5)
    ref = api.audit_text(block, data, AS_OF, session=session, evaluator=ReferenceEvaluator())
    fast = api.audit_text(block, data, AS_OF, session=session, evaluator=IndexedEvaluator())
    assert ref.model_dump() == fast.model_dump()
