"""`pmo-rules explain` and distance to compliance.

The outcome `explain` prints must be the audit's outcome: checked for every (rule, subject)
pair of the bundled library on the bundled sample, and for waived and error cases.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from click.testing import CliRunner

from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.distance import distance
from pmo_rules.errors import UsageError
from pmo_rules.explain import explain
from pmo_rules.load import load_collections
from pmo_rules.parse import parse_expression
from pmo_rules.values import Duration

AS_OF = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def library(session):
    program, _ = api.load_program([api.default_policies()], session)
    data = api.load_data([], session)
    return program, data


def inline(session, text: str, data: dict[str, list[dict]]):
    program, diags = api.check_text(text, session, "t.pmo")
    assert program is not None, diags.render()
    loaded = load_collections(data)
    assert loaded.rejected == [], loaded.rejected
    return program, loaded


def audit_outcome(program, loaded, rule: str, subject: str, as_of=AS_OF) -> str:
    report = api.audit(program, loaded, as_of, include_passes=True)
    for f in report.findings:
        if f.rule == rule and f.subject == subject:
            return f.outcome
    return "not_applicable"


# ---------------------------------------------------------- the bundled sample --


def test_every_outcome_equals_the_audit(library) -> None:
    program, data = library
    report = api.audit(program, data, AS_OF, include_passes=True)
    expected = {(f.rule, f.subject): f.outcome for f in report.findings}
    n = 0
    seen = set()
    for rule in program.rules:
        for record in data.snapshot.collection(rule.for_clause.collection.name):
            sid = data.snapshot.subject_id(record)
            if (rule.id, sid) in seen:
                continue
            seen.add((rule.id, sid))
            got = explain(program, data.snapshot, rule.id, sid, AS_OF)
            assert got.outcome == expected.get((rule.id, sid), "not_applicable"), (rule.id, sid)
            got.render()
            n += 1
    assert n > 1000
    assert {o for o in expected.values()} >= {"pass", "fail"}


def test_failing_subject(library) -> None:
    program, data = library
    report = api.audit(program, data, AS_OF)
    finding = next(f for f in report.findings if f.rule == "performance.cpi-floor" and f.outcome == "fail")
    ex = explain(program, data.snapshot, "performance.cpi-floor", finding.subject, AS_OF)
    text = ex.render()
    assert ex.outcome == "fail"
    assert text.startswith("rule performance.cpi-floor: Cost efficiency is at or above the floor\n")
    assert "  at policies/performance.pmo:" in text
    assert f"subject {finding.subject} in projects, as of 2026-11-26" in text
    assert 'where project.status == "active" and ' in text and " -> true" in text
    require = ex.steps[-1]
    assert require.kind == "require" and require.node.value is False
    assert "require cpi(project) >= cpi_floor -> false" in text
    cpi = require.node.find("cpi(project)")
    assert cpi is not None and isinstance(cpi.value, Decimal) and cpi.value < Decimal("0.9")
    assert f"    cpi(project) -> {cpi.value}" in text
    assert "    cpi_floor = 0.9" in text
    assert "        project.budget.earned_value = " in text  # the metric's inputs
    assert "    distance: passes when project.budget.earned_value >= " in text
    assert "outcome: fail" in text and f"message: {finding.message}" in text
    assert "evidence:\n    cpi(project) = " in text


def test_passing_subject(library) -> None:
    program, data = library
    report = api.audit(program, data, AS_OF, include_passes=True)
    finding = next(f for f in report.findings if f.rule == "performance.cpi-floor" and f.outcome == "pass")
    ex = explain(program, data.snapshot, "performance.cpi-floor", finding.subject, AS_OF)
    text = ex.render()
    assert ex.outcome == "pass"
    assert "require cpi(project) >= cpi_floor -> true" in text
    assert "distance:" not in text and "message:" not in text
    assert text.rstrip().endswith("outcome: pass")


def test_out_of_scope_subject(library) -> None:
    program, data = library
    fc_subjects = [data.snapshot.subject_id(p) for p in data.snapshot.projects if p.get("status") != "active"]
    ex = explain(program, data.snapshot, "governance.sponsor-assigned", fc_subjects[0], AS_OF)
    text = ex.render()
    assert ex.outcome == "not_applicable"
    assert "where project.status == \"active\" -> false" in text
    assert "require project.sponsor is present: not evaluated" in text


def test_rule_by_its_short_name(library) -> None:
    program, data = library
    ex = explain(program, data.snapshot, "cpi-floor", "PRJ-000001", AS_OF)
    assert ex.rule.id == "performance.cpi-floor"


def test_unknown_rule_and_subject_suggest(library) -> None:
    program, data = library
    with pytest.raises(UsageError, match=r"did you mean `performance.cpi-floor`"):
        explain(program, data.snapshot, "performance.cpi-flor", "PRJ-000001", AS_OF)
    with pytest.raises(UsageError, match=r"did you mean `PRJ-000011`"):
        explain(program, data.snapshot, "performance.cpi-floor", "PRJ-00011", AS_OF)


# ------------------------------------------------------------- inline policies --

POLICY = """package t

param floor = 10

rule logic {
    title "Short-circuit display"
    for project in projects
    let base = project.budget.approved ?? 0
    require project.status == "active" or project.custom.missing > 1
    require project.status == "closed" and project.custom.missing > 1 or base >= floor
    require project.custom.flag implies project.custom.missing > 1
    require all(r.owner is present for r in project.risks where r.status == "open")
}

rule broken {
    for project in projects
    require project.custom.missing > 1
}

rule waived-rule {
    for project in projects
    require project.budget.approved <= 100
}

waiver W-1 {
    rule t.waived-rule
    subjects "P-1"
    reason "approved"
    approved_by "CFO"
    expires 2027-01-31
}
"""

DATA = {"projects": [
    {"id": "P-1", "name": "One", "status": "active", "budget": {"approved": 500},
     "custom": {"flag": False},
     "risks": [{"id": "R-1", "status": "open", "owner": "Ana"}, {"id": "R-2", "status": "closed"},
               {"id": "R-3", "status": "open"}, {"id": "R-4", "status": "open"}]},
]}


@pytest.fixture(scope="module")
def small(session):
    return inline(session, POLICY, DATA)


def test_short_circuit_is_shown(small) -> None:
    program, loaded = small
    ex = explain(program, loaded.snapshot, "t.logic", "P-1", AS_OF)
    text = ex.render()
    # `or` with a true left operand never evaluates the right one.
    assert 'require project.status == "active" or project.custom.missing > 1 -> true' in text
    assert "    project.custom.missing > 1: not evaluated" in text
    # `and` with a false left operand: the right one is skipped, then `or` goes on.
    assert '        project.status == "closed" -> false' in text
    assert "        project.custom.missing > 1: not evaluated" in text
    assert "    base >= floor -> true" in text
    # `implies` with a false premise is true without its conclusion.
    assert "require project.custom.flag implies project.custom.missing > 1 -> true" in text
    # `??` with a present left operand skips the default.
    assert "let base = project.budget.approved ?? 0 -> 500" in text
    # a comprehension stops at the item that decides it; items outside `where` are not listed
    assert "    r = R-1: r.owner is present = true" in text
    assert "    r = R-3: r.owner is present -> false" in text
    assert "R-2" not in text and "R-4" not in text
    assert "the 1 later item(s): not evaluated" in text
    assert ex.outcome == audit_outcome(program, loaded, "t.logic", "P-1") == "fail"


def test_errors_are_shown(small) -> None:
    program, loaded = small
    ex = explain(program, loaded.snapshot, "t.broken", "P-1", AS_OF)
    text = ex.render()
    assert "require project.custom.missing > 1 -> error: `project.custom.missing` is null" in text
    assert "    project.custom.missing = null" in text
    assert ex.outcome == audit_outcome(program, loaded, "t.broken", "P-1") == "error"
    assert "outcome: error" in text


def test_waived_outcome_matches_the_audit(small) -> None:
    program, loaded = small
    ex = explain(program, loaded.snapshot, "t.waived-rule", "P-1", AS_OF)
    assert ex.outcome == audit_outcome(program, loaded, "t.waived-rule", "P-1") == "waived"
    text = ex.render()
    assert "outcome: waived" in text and "waiver: W-1" in text
    assert "distance: passes when `project.budget.approved` <= 100; now 500" in text
    later = explain(program, loaded.snapshot, "t.waived-rule", "P-1", dt.date(2027, 3, 1))
    assert later.outcome == audit_outcome(program, loaded, "t.waived-rule", "P-1", dt.date(2027, 3, 1)) == "fail"
    assert "note: waiver W-1 expired" in later.render()


# --------------------------------------------------------------------- CLI --


def test_cli_explain(library) -> None:
    res = CliRunner().invoke(main, ["explain", "performance.cpi-floor", "PRJ-000001", "--as-of", "2026-11-26"])
    assert res.exit_code == 0, res.output
    assert "rule performance.cpi-floor" in res.output and "outcome: " in res.output


def test_cli_explain_param_override() -> None:
    args = ["explain", "performance.cpi-floor", "PRJ-000001", "--as-of", "2026-11-26"]
    res = CliRunner().invoke(main, args + ["--param", "performance.cpi_floor=5"])
    assert res.exit_code == 0, res.output
    assert "cpi_floor = 5" in res.output and "outcome: fail" in res.output


def test_cli_unknown_rule_exits_2() -> None:
    res = CliRunner().invoke(main, ["explain", "performance.cpi-flor", "PRJ-000001"])
    assert res.exit_code == 2
    assert "unknown rule `performance.cpi-flor`; did you mean `performance.cpi-floor`?" in res.output


def test_cli_unknown_subject_exits_2() -> None:
    res = CliRunner().invoke(main, ["explain", "performance.cpi-floor", "PRJ-00001"])
    assert res.exit_code == 2
    assert "no subject `PRJ-00001`" in res.output and "did you mean `PRJ-" in res.output


# ---------------------------------------------------------------- distance --


class _Env:
    def __init__(self, vars_=None, params=None, today=AS_OF):
        self.vars = vars_ or {}
        self.params = params or {}
        self.today = today


PROJECT = {"id": "P-1", "forecast_end": dt.date(2027, 4, 15), "last_status_update": dt.date(2026, 11, 1),
           "budget": {"earned_value": Decimal(380000), "actual_cost": Decimal(452000),
                      "planned_value": Decimal(500000), "approved": Decimal(1000000)}}
ENV = _Env({"project": PROJECT}, {"cpi_floor": Decimal("0.9"), "stale_after": Duration(Decimal(14))})


def d(src: str, left, right, env=ENV):
    e, diags = parse_expression(src)
    assert e is not None and not diags
    return distance(e.op, e.left, left, e.right, right, env)


def test_distance_dates() -> None:
    got = d("project.forecast_end <= 2027-03-01", dt.date(2027, 4, 15), dt.date(2027, 3, 1))
    assert got == "passes when `project.forecast_end` <= 2027-03-01; now 2027-04-15"


def test_distance_numbers() -> None:
    assert d("x >= 406800", Decimal(380000), Decimal(406800)) == "passes when `x` >= 406,800; now 380,000"
    assert d("x < 0.5", Decimal("0.75"), Decimal("0.5")) == "passes when `x` < 0.5; now 0.75"


def test_distance_inverts_ratio_metrics() -> None:
    got = d("cpi(project) >= cpi_floor", Decimal(380000) / Decimal(452000), Decimal("0.9"))
    assert got == "passes when project.budget.earned_value >= 406800 (now 380000)"
    got = d("spi(project) >= 0.95", Decimal(380000) / Decimal(500000), Decimal("0.95"))
    assert got == "passes when project.budget.earned_value >= 475000 (now 380000)"
    # the constant on the left: the metric is still the side to change
    got = d("cpi_floor <= cpi(project)", Decimal("0.9"), Decimal(380000) / Decimal(452000))
    assert got == "passes when project.budget.earned_value >= 406800 (now 380000)"


def test_distance_rounds_money_to_cents_in_the_sufficient_direction() -> None:
    project = dict(PROJECT, budget=dict(PROJECT["budget"], actual_cost=Decimal("452000.37")))
    env = _Env({"project": project})
    got = d("cpi(project) >= 0.9", Decimal(380000) / Decimal("452000.37"), Decimal("0.9"), env)
    assert got == "passes when project.budget.earned_value >= 406800.34 (now 380000)"  # 406800.333 rounded up


def test_distance_inverts_date_arithmetic() -> None:
    got = d("today - project.last_status_update <= stale_after", Duration(Decimal(25)), Duration(Decimal(14)))
    assert got == "passes when `project.last_status_update` >= 2026-11-12; now 2026-11-01"
    got = d("project.budget.actual_cost * 2 <= 500k", Decimal(904000), Decimal(500000))
    assert got == "passes when `project.budget.actual_cost` <= 250,000; now 452,000"


def test_distance_durations_and_no_sentence() -> None:
    assert d("age <= 14d", Duration(Decimal(21)), Duration(Decimal(14))) == "passes when `age` <= 14d; now 21d"
    assert d("x == 1", Decimal(2), Decimal(1)) is None  # not an ordering
    assert d("x <= 1", Decimal(0), Decimal(1)) is None  # it passes
    assert d("x <= 1", "a", Decimal(1)) is None  # not comparable
    assert d("x <= 1", None, Decimal(1)) is None
