"""SPEC sections 2.1, 2.4 and 2.5: the normative examples parse, check and behave as written.

The example text is read from SPEC.md at test time, so the tests follow the contract.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from pmo_rules.parse import parse_text

AS_OF = "2026-11-26"


@pytest.fixture(scope="module")
def example(spec_blocks) -> str:
    blocks = spec_blocks("2.1")
    assert blocks, "SPEC 2.1 has no example file"
    assert blocks[0].lstrip().startswith("package governance")
    return blocks[0]


@pytest.fixture(scope="module")
def waiver_example(spec_blocks) -> str:
    return spec_blocks("2.4")[0]


@pytest.fixture(scope="module")
def test_example(spec_blocks) -> str:
    return spec_blocks("2.5")[0]


def project(pid="P1", **fields) -> dict:
    return {"id": pid, "name": f"Project {pid}", **fields}


def outcomes(lang, text, data, rule, as_of=AS_OF):
    report = lang.report(text, data, as_of)
    found = {f.subject: f for f in report.findings if f.rule == rule}
    return found, report.summary[rule].counts


# ------------------------------------------------------------------ the file --


def test_example_parses_without_diagnostics(example):
    module, diags = parse_text(example, "governance.pmo")
    assert diags == []
    assert module is not None
    assert module.package == "governance"
    assert [p.name for p in module.params] == ["stale_after", "cpi_floor"]
    assert [r.name for r in module.rules] == [
        "sponsor-assigned", "status-fresh", "cpi-floor", "open-risks-owned",
        "exposure-within-reserve", "person-not-overallocated", "program-within-cap",
    ]


def test_example_checks_without_diagnostics(lang, example):
    program, diags = lang.check(example, "governance.pmo")
    assert diags.render() == ""
    assert program is not None
    assert sorted(r.id for r in program.rules) == sorted(
        "governance." + n for n in (
            "sponsor-assigned", "status-fresh", "cpi-floor", "open-risks-owned",
            "exposure-within-reserve", "person-not-overallocated", "program-within-cap"))


def test_example_param_types_and_description(example):
    module, _ = parse_text(example, "governance.pmo")
    stale, floor = module.params
    assert stale.default.kind == "duration"
    assert stale.description == "How old a status report may be"
    assert floor.default.kind == "number" and floor.default.value == Decimal("0.9")
    assert floor.description is None


def test_example_metadata(example):
    module, _ = parse_text(example, "governance.pmo")
    rule = module.rules[0]
    assert rule.id == "governance.sponsor-assigned"
    assert rule.meta_value("title") == "Active projects have an executive sponsor"
    assert rule.meta_value("severity") == "high"
    assert rule.meta_value("enforcement") == "hard"
    assert tuple(rule.meta_value("tags")) == ("governance", "stage-gate")
    assert rule.remediation == "Name an executive sponsor in the portfolio register"


def test_example_default_severity_and_enforcement(lang, example):
    report = lang.report(example, {"projects": [project(status="active", last_status_update="2026-11-01")]})
    s = report.summary["governance.status-fresh"]
    assert s.severity == "medium"
    assert s.enforcement == "soft"


# ---------------------------------------------------------- sponsor-assigned --

RULE = "governance.sponsor-assigned"


def test_sponsor_assigned_fails_without_sponsor(lang, example):
    data = {"projects": [project("PRJ-1", name="Ledger", status="active", sponsor=None)]}
    found, _ = outcomes(lang, example, data, RULE)
    f = found["PRJ-1"]
    assert f.outcome == "fail"
    assert f.message == "PRJ-1 (Ledger) has no sponsor"
    assert f.severity == "high" and f.enforcement == "hard"
    assert {e.expr: e.value for e in f.evidence}.get("project.sponsor", "absent") is None


def test_sponsor_assigned_fails_when_sponsor_key_missing(lang, example):
    data = {"projects": [{"id": "PRJ-2", "name": "Ledger", "status": "active"}]}
    found, _ = outcomes(lang, example, data, RULE)
    assert found["PRJ-2"].outcome == "fail"


def test_sponsor_assigned_passes_with_sponsor(lang, example):
    data = {"projects": [project(status="active", sponsor="Ana")]}
    found, _ = outcomes(lang, example, data, RULE)
    assert found["P1"].outcome == "pass"


def test_sponsor_assigned_empty_text_sponsor_is_present(lang, example):
    # SPEC 2.6: `is present` is false only for null or a missing key; "" is present.
    data = {"projects": [project(status="active", sponsor="")]}
    found, _ = outcomes(lang, example, data, RULE)
    assert found["P1"].outcome == "pass"


def test_sponsor_assigned_not_applicable_when_not_active(lang, example):
    data = {"projects": [project(status="proposed", sponsor=None)]}
    found, counts = outcomes(lang, example, data, RULE)
    assert "P1" not in found
    assert counts["not_applicable"] == 1


def test_sponsor_assigned_scope_null_status_is_not_a_pass(lang, example):
    # `project.status == "active"` with a null status is false (== accepts null): not applicable.
    data = {"projects": [project(sponsor=None)]}
    found, counts = outcomes(lang, example, data, RULE)
    assert counts["not_applicable"] == 1 and counts["pass"] == 0


# -------------------------------------------------------------- status-fresh --

RULE_FRESH = "governance.status-fresh"


def test_status_fresh_fails_when_old(lang, example):
    data = {"projects": [project(status="active", last_status_update="2026-11-01")]}
    found, _ = outcomes(lang, example, data, RULE_FRESH)
    f = found["P1"]
    assert f.outcome == "fail"
    assert f.message == "last status report is 25d old"
    ev = {e.expr: e.value for e in f.evidence}
    assert ev["age"] == "25d"
    assert ev["stale_after"] == "14d"


def test_status_fresh_passes_on_the_boundary(lang, example):
    data = {"projects": [project(status="active", last_status_update="2026-11-12")]}
    found, _ = outcomes(lang, example, data, RULE_FRESH)
    assert found["P1"].outcome == "pass"


def test_status_fresh_fails_one_day_past_the_boundary(lang, example):
    data = {"projects": [project(status="active", last_status_update="2026-11-11")]}
    found, _ = outcomes(lang, example, data, RULE_FRESH)
    assert found["P1"].outcome == "fail"
    assert found["P1"].message == "last status report is 15d old"


def test_status_fresh_uses_as_of_not_the_clock(lang, example):
    data = {"projects": [project(status="active", last_status_update="2026-11-01")]}
    found, _ = outcomes(lang, example, data, RULE_FRESH, as_of="2026-11-10")
    assert found["P1"].outcome == "pass"


def test_status_fresh_errors_when_date_missing(lang, example):
    data = {"projects": [project(status="active")]}
    found, _ = outcomes(lang, example, data, RULE_FRESH)
    f = found["P1"]
    assert f.outcome == "error"
    assert "project.last_status_update" in f.message
    assert re.search(r"governance\.pmo:\d+:\d+|<policy>:\d+:\d+", f.message + (f.location or ""))


def test_status_fresh_not_applicable_for_closed_projects(lang, example):
    data = {"projects": [project(status="completed")]}
    found, counts = outcomes(lang, example, data, RULE_FRESH)
    assert "P1" not in found and counts["not_applicable"] == 1


# ------------------------------------------------------------------ cpi-floor --

RULE_CPI = "governance.cpi-floor"


def ev_project(ev, ac, approved=300_000, phase="execution", pid="P1"):
    return project(pid, status="active", phase=phase,
                   budget={"approved": approved, "actual_cost": ac, "earned_value": ev})


def test_cpi_floor_exactly_at_floor_passes(lang, example):
    found, _ = outcomes(lang, example, {"projects": [ev_project(90, 100)]}, RULE_CPI)
    assert found["P1"].outcome == "pass"


def test_cpi_floor_below_floor_fails_with_else_message(lang, example):
    found, _ = outcomes(lang, example, {"projects": [ev_project(84, 100)]}, RULE_CPI)
    f = found["P1"]
    assert f.outcome == "fail"
    assert f.message == "CPI 0.84 is below 0.9"
    assert f.enforcement == "soft" and f.severity == "high"


def test_cpi_floor_evidence_names_operands_and_metric_inputs(lang, example):
    found, _ = outcomes(lang, example, {"projects": [ev_project(380_000, 452_000, approved=1_000_000)]}, RULE_CPI)
    f = found["P1"]
    assert f.outcome == "fail"
    ev = {e.expr: e.value for e in f.evidence}
    assert ev["cpi_floor"] == Decimal("0.9")
    assert ev["project.budget.actual_cost"] == Decimal(452000)
    assert Decimal(ev["cpi(project)"]).quantize(Decimal("0.0001")) == Decimal("0.8407")


def test_cpi_floor_not_applicable_at_exactly_250k(lang, example):
    found, counts = outcomes(lang, example, {"projects": [ev_project(10, 100, approved=250_000)]}, RULE_CPI)
    assert "P1" not in found and counts["not_applicable"] == 1


def test_cpi_floor_applies_just_over_250k(lang, example):
    found, _ = outcomes(lang, example, {"projects": [ev_project(10, 100, approved="250000.01")]}, RULE_CPI)
    assert found["P1"].outcome == "fail"


def test_cpi_floor_not_applicable_without_actual_cost(lang, example):
    found, counts = outcomes(lang, example, {"projects": [ev_project(10, 0)]}, RULE_CPI)
    assert "P1" not in found and counts["not_applicable"] == 1


def test_cpi_floor_not_applicable_outside_execution(lang, example):
    found, counts = outcomes(lang, example, {"projects": [ev_project(10, 100, phase="planning")]}, RULE_CPI)
    assert "P1" not in found and counts["not_applicable"] == 1


def test_cpi_floor_error_when_budget_missing_in_execution(lang, example):
    # `project.budget.approved > 250k` on null: the scope cannot be decided.
    data = {"projects": [project(status="active", phase="execution")]}
    found, counts = outcomes(lang, example, data, RULE_CPI)
    f = found["P1"]
    assert f.outcome == "error"
    assert "project.budget.approved" in f.message
    assert counts["error"] == 1


def test_cpi_floor_error_when_earned_value_missing(lang, example):
    # cpi(project) is null when EV is missing: `>=` on null is an error, not a pass.
    data = {"projects": [project(status="active", phase="execution",
                                 budget={"approved": 300_000, "actual_cost": 100})]}
    found, _ = outcomes(lang, example, data, RULE_CPI)
    assert found["P1"].outcome == "error"
    assert "cpi(project)" in found["P1"].message


# ------------------------------------------------------------ open-risks-owned --

RULE_RISK = "governance.open-risks-owned"


def risk(rid="R1", probability="0.5", impact=300_000, status="open", owner=None):
    return {"id": rid, "title": rid, "probability": probability, "impact": impact, "status": status, "owner": owner}


def test_open_risks_owned_fails_for_unowned_big_open_risk(lang, example):
    data = {"projects": [project(risks=[risk(owner=None)])]}
    found, _ = outcomes(lang, example, data, RULE_RISK)
    assert found["P1"].outcome == "fail"


def test_open_risks_owned_passes_when_owned(lang, example):
    data = {"projects": [project(risks=[risk(owner="Bo")])]}
    found, _ = outcomes(lang, example, data, RULE_RISK)
    assert found["P1"].outcome == "pass"


def test_open_risks_owned_ignores_closed_and_small_risks(lang, example):
    data = {"projects": [project(risks=[risk("R1", status="closed"), risk("R2", probability="0.5", impact=200_000)])]}
    found, _ = outcomes(lang, example, data, RULE_RISK)
    # 0.5 * 200k = 100k is not > 100k.
    assert found["P1"].outcome == "pass"


def test_open_risks_owned_passes_with_no_risks(lang, example):
    found, _ = outcomes(lang, example, {"projects": [project()]}, RULE_RISK)
    assert found["P1"].outcome == "pass"


def test_open_risks_owned_errors_on_null_probability(lang, example):
    data = {"projects": [project(risks=[risk(probability=None)])]}
    found, _ = outcomes(lang, example, data, RULE_RISK)
    assert found["P1"].outcome == "error"
    assert "r.probability" in found["P1"].message


# ------------------------------------------------------- exposure-within-reserve --

RULE_EXP = "governance.exposure-within-reserve"


def test_exposure_equal_to_reserve_passes(lang, example):
    risks = [risk("R1", "0.5", 300_000), risk("R2", "0.25", 200_000), risk("R3", "0.9", 1_000_000, status="closed")]
    data = {"projects": [project(budget={"approved": 1_000_000}, risks=risks)]}
    found, _ = outcomes(lang, example, data, RULE_EXP)
    assert found["P1"].outcome == "pass"


def test_exposure_over_reserve_fails_with_let_evidence(lang, example):
    risks = [risk("R1", "0.5", 300_000), risk("R2", "0.25", 200_004)]
    data = {"projects": [project(budget={"approved": 1_000_000}, risks=risks)]}
    found, _ = outcomes(lang, example, data, RULE_EXP)
    f = found["P1"]
    assert f.outcome == "fail"
    ev = {e.expr: e.value for e in f.evidence}
    assert ev["exposure"] == Decimal("200001")
    assert ev["project.budget.approved"] == Decimal(1_000_000)


def test_exposure_not_applicable_without_approved_budget(lang, example):
    data = {"projects": [project(budget={"approved": 0}, risks=[risk()])]}
    found, counts = outcomes(lang, example, data, RULE_EXP)
    assert "P1" not in found and counts["not_applicable"] == 1


def test_exposure_error_when_budget_missing(lang, example):
    data = {"projects": [project(risks=[risk()])]}
    found, _ = outcomes(lang, example, data, RULE_EXP)
    assert found["P1"].outcome == "error"


def test_exposure_error_when_open_risk_impact_missing(lang, example):
    data = {"projects": [project(budget={"approved": 1_000_000}, risks=[risk(impact=None)])]}
    found, _ = outcomes(lang, example, data, RULE_EXP)
    assert found["P1"].outcome == "error"


# ------------------------------------------------------ person-not-overallocated --

RULE_LOAD = "governance.person-not-overallocated"


def staffed(*assignments, status="active", pid="P1"):
    return project(pid, status=status, assignments=[{"person": p, "role": "dev", "allocation": a} for p, a in assignments])


def test_person_overallocated_fails_with_message(lang, example):
    data = {"people": [{"id": "U1", "name": "Ann", "capacity": 1}],
            "projects": [staffed(("U1", "0.6")), staffed(("U1", "0.5"), pid="P2")]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    f = found["U1"]
    assert f.outcome == "fail"
    assert f.message == "U1 is booked at 1.1 of 1"
    assert {e.expr: e.value for e in f.evidence}["load"] == Decimal("1.1")


def test_person_exactly_at_capacity_passes(lang, example):
    data = {"people": [{"id": "U1", "capacity": 1}],
            "projects": [staffed(("U1", 0.7)), staffed(("U1", 0.3), pid="P2")]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    assert found["U1"].outcome == "pass"


def test_person_load_ignores_inactive_projects(lang, example):
    data = {"people": [{"id": "U1", "capacity": 1}],
            "projects": [staffed(("U1", "0.6")), staffed(("U1", "0.9"), status="on_hold", pid="P2")]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    assert found["U1"].outcome == "pass"


def test_person_default_capacity_is_one(lang, example):
    data = {"people": [{"id": "U1"}], "projects": [staffed(("U1", "1.2"))]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    assert found["U1"].outcome == "fail"


def test_person_without_assignments_passes(lang, example):
    data = {"people": [{"id": "U9", "capacity": "0.5"}], "projects": [staffed(("U1", "1"))]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    assert found["U9"].outcome == "pass"


def test_person_load_errors_on_missing_allocation(lang, example):
    data = {"people": [{"id": "U1"}],
            "projects": [project(status="active", assignments=[{"person": "U1", "role": "dev"}])]}
    found, _ = outcomes(lang, example, data, RULE_LOAD)
    assert found["U1"].outcome == "error"


# ---------------------------------------------------------- program-within-cap --

RULE_PROG = "governance.program-within-cap"


def funded(pid, approved, program="PG1", status="active"):
    return project(pid, program=program, status=status, budget={"approved": approved})


def test_program_at_cap_passes_and_cancelled_excluded(lang, example):
    data = {"programs": [{"id": "PG1", "budget_cap": 1_000_000}],
            "projects": [funded("P1", 600_000), funded("P2", 400_000), funded("P3", 5_000_000, status="cancelled"),
                         funded("P4", 9_000_000, program="PG2")]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    assert found["PG1"].outcome == "pass"


def test_program_over_cap_fails(lang, example):
    data = {"programs": [{"id": "PG1", "budget_cap": 1_000_000}],
            "projects": [funded("P1", 600_000), funded("P2", "400000.01")]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    f = found["PG1"]
    assert f.outcome == "fail"
    ev = {e.expr: e.value for e in f.evidence}
    assert ev["total"] == Decimal("1000000.01")
    assert ev["program.budget_cap"] == Decimal(1_000_000)


def test_program_sum_of_cents_equal_to_cap_is_not_over(lang, example):
    data = {"programs": [{"id": "PG1", "budget_cap": 0.3}],
            "projects": [funded("P1", 0.1), funded("P2", 0.2)]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    assert found["PG1"].outcome == "pass"


def test_program_without_cap_is_error(lang, example):
    data = {"programs": [{"id": "PG1"}], "projects": [funded("P1", 10)]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    assert found["PG1"].outcome == "error"
    assert "program.budget_cap" in found["PG1"].message


def test_program_with_unbudgeted_project_is_error(lang, example):
    data = {"programs": [{"id": "PG1", "budget_cap": 10}], "projects": [project("P1", program="PG1", status="active")]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    assert found["PG1"].outcome == "error"


def test_program_without_projects_passes(lang, example):
    data = {"programs": [{"id": "PG1", "budget_cap": 10}]}
    found, _ = outcomes(lang, example, data, RULE_PROG)
    assert found["PG1"].outcome == "pass"


# ------------------------------------------------------------ 2.4 and 2.5 --


def test_waiver_example_parses(waiver_example):
    module, diags = parse_text("package governance\n" + waiver_example, "waivers.pmo")
    assert diags == []
    (w,) = module.waivers
    assert w.name == "W-2026-014"
    assert w.rule == "governance.sponsor-assigned"
    assert w.subjects == ("PRJ-000123", "PRJ-000456")
    assert w.reason == "Sponsor hand-over approved by the steering committee on 2026-11-02"
    assert w.approved_by == "CFO"
    assert str(w.expires) == "2027-01-31"


def test_waiver_example_of_the_hard_example_rule_is_a_check_error(lang, example, waiver_example):
    # 2.1 makes sponsor-assigned `enforcement hard`; 2.4 says a waiver of a hard rule is a check error.
    _, diags = lang.check(example + "\n" + waiver_example, "governance.pmo")
    assert len(diags.errors) == 1
    assert "hard" in diags.errors[0].message


def test_waiver_example_applies_to_a_soft_version_of_the_rule(lang, example, waiver_example):
    text = example.replace("enforcement hard", "enforcement soft") + "\n" + waiver_example
    data = {"projects": [project("PRJ-000123", status="active"), project("PRJ-000999", status="active")]}
    report = lang.report(text, data, "2026-12-01")
    found = {f.subject: f for f in report.findings if f.rule == RULE}
    assert found["PRJ-000123"].outcome == "waived"
    assert found["PRJ-000123"].waiver["id"] == "W-2026-014"
    assert found["PRJ-000123"].waiver["approved_by"] == "CFO"
    assert found["PRJ-000999"].outcome == "fail"


def test_test_example_parses(test_example):
    module, diags = parse_text("package governance\n" + test_example, "governance_test.pmo")
    assert diags == []
    (t,) = module.tests
    assert t.name == "sponsor-missing"
    assert str(t.as_of) == "2026-11-26"
    assert [(e.rule, e.outcome, e.subject) for e in t.expects] == [
        ("governance.sponsor-assigned", "fail", "PRJ-000001"),
        ("governance.sponsor-assigned", "pass", "PRJ-000002"),
    ]


def test_test_example_checks_with_the_example_file(lang, example, test_example):
    _, diags = lang.check(example + "\n" + test_example, "governance.pmo")
    assert diags.render() == ""


def test_test_example_expectations_hold(lang, example):
    data = {"projects": [{"id": "PRJ-000001", "name": "Ledger", "status": "active", "sponsor": None},
                         {"id": "PRJ-000002", "name": "Ledger2", "status": "active", "sponsor": "Ana"}]}
    found, _ = outcomes(lang, example, data, RULE, as_of="2026-11-26")
    assert found["PRJ-000001"].outcome == "fail"
    assert found["PRJ-000002"].outcome == "pass"


def test_cpi_floor_scope_short_circuits_before_missing_budget(lang, example):
    # `and` stops at the first false operand: a planning project without a budget is simply
    # out of scope, not an error.
    data = {"projects": [project(status="active", phase="planning")]}
    found, counts = outcomes(lang, example, data, RULE_CPI)
    assert "P1" not in found and counts["not_applicable"] == 1


def test_open_risks_owned_where_short_circuits_for_closed_risks(lang, example):
    data = {"projects": [project(risks=[risk(probability=None, impact=None, status="closed")])]}
    found, _ = outcomes(lang, example, data, RULE_RISK)
    assert found["P1"].outcome == "pass"
