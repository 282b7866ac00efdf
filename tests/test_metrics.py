"""Built-in metrics: the documented formulas (PMO-DOMAIN.md 2.1-2.5), exact decimals, and
null (never an exception or a made-up number) for zero or missing denominators."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from importlib.metadata import entry_points

import pytest
from pmo_rules_builtins.metrics import earned_value, risk, schedule
from pmo_rules_builtins.metrics.earned_value import cpi, cv, eac, etc, spi, sv, tcpi, vac
from pmo_rules_builtins.metrics.risk import risk_exposure
from pmo_rules_builtins.metrics.schedule import milestone_hit_rate, schedule_slip

from pmo_rules import api

D = Decimal
PLUGINS = (("metrics_earned_value", earned_value), ("metrics_schedule", schedule), ("metrics_risk", risk))


@pytest.fixture(scope="module")
def session() -> api.Session:
    have = {ep.name for ep in entry_points(group="pmo_rules")}
    return api.Session.create(extra=tuple((n, m) for n, m in PLUGINS if n not in have))


def proj(**budget) -> dict:
    return {"id": "P1", "budget": {k: (D(v) if v is not None else None) for k, v in budget.items()}}


# ----------------------------------------------------------------- earned value --

def test_cpi_spi_exact():
    p = proj(earned_value="90", actual_cost="100", planned_value="120")
    assert cpi(p) == D("0.9") and str(cpi(p)) == "0.9"
    assert spi(p) == D("0.75")


def test_variances():
    p = proj(approved="1000", earned_value="300.10", actual_cost="400.20", planned_value="350")
    assert cv(p) == D("-100.10")
    assert sv(p) == D("-49.90")
    assert cv(proj(earned_value="0.3", actual_cost="0.1")) == D("0.2")


def test_eac_etc_vac():
    p = proj(approved="1000", earned_value="400", actual_cost="500")  # CPI 0.8
    assert eac(p) == D("1250")
    assert etc(p) == D("750")
    assert vac(p) == D("-250")
    p = proj(approved="1000", earned_value="300", actual_cost="400")  # CPI 0.75, EAC 1333.33...
    assert eac(p) == D(1000) * D(400) / D(300)
    assert etc(p) + D(400) == eac(p) and vac(p) == D(1000) - eac(p)


def test_tcpi():
    assert tcpi(proj(approved="1000", earned_value="400", actual_cost="500")) == D("1.2")
    assert tcpi(proj(approved="1000", earned_value="1000", actual_cost="500")) == D("0")


@pytest.mark.parametrize("budget,expect", [
    ({"approved": "1000", "earned_value": "400", "actual_cost": "1000"}, None),    # BAC - AC = 0
    ({"approved": "1000", "earned_value": "400", "actual_cost": "1200.5"}, None),  # overspent
    ({"approved": None, "earned_value": "400", "actual_cost": "500"}, None),
    ({"earned_value": "400", "actual_cost": "500"}, None),
])
def test_tcpi_null_when_budget_used_up_or_missing(budget, expect):
    assert tcpi(proj(**budget)) is expect


@pytest.mark.parametrize("budget", [
    {"approved": "1000", "earned_value": "0", "actual_cost": "0"},      # not started
    {"approved": "1000", "earned_value": "50", "actual_cost": "0"},     # EV without AC: CPI null
    {"approved": "1000", "earned_value": "0", "actual_cost": "10"},     # CPI 0
    {"approved": "1000", "actual_cost": "10"},                          # EV missing
    {"earned_value": "10", "actual_cost": "10"},                        # BAC missing
])
def test_eac_family_null_without_a_usable_cpi(budget):
    p = proj(**budget)
    assert eac(p) is None and etc(p) is None and vac(p) is None


@pytest.mark.parametrize("p", [{"id": "P"}, {"id": "P", "budget": None}, {"id": "P", "budget": {}},
                               {"id": "P", "budget": {"earned_value": "12", "actual_cost": 3}}])
def test_missing_or_non_number_inputs_give_null(p):
    for metric in (cpi, spi, cv, sv, eac, etc, vac, tcpi):
        assert metric(p) is None, metric.__name__


def test_zero_denominators():
    p = proj(approved="0", earned_value="0", actual_cost="0", planned_value="0")
    assert cpi(p) is None and spi(p) is None and eac(p) is None and tcpi(p) is None
    assert cv(p) == 0 and sv(p) == 0


def test_results_are_decimals():
    p = proj(approved="1000", earned_value="400", actual_cost="500", planned_value="450")
    for metric in (cpi, spi, cv, sv, eac, etc, vac, tcpi):
        assert isinstance(metric(p), Decimal), metric.__name__


# --------------------------------------------------------------------- schedule --

def test_schedule_slip():
    p = {"planned_end": dt.date(2026, 12, 31), "forecast_end": dt.date(2027, 1, 20)}
    assert schedule_slip(p) == D(20) and isinstance(schedule_slip(p), Decimal)
    assert schedule_slip({"planned_end": dt.date(2026, 12, 31), "forecast_end": dt.date(2026, 12, 1)}) == D(-30)
    assert schedule_slip({"planned_end": dt.date(2026, 12, 31), "forecast_end": dt.date(2026, 12, 31)}) == 0
    assert schedule_slip({"planned_end": dt.date(2026, 12, 31)}) is None
    assert schedule_slip({"forecast_end": dt.date(2026, 12, 31), "planned_end": None}) is None
    assert schedule_slip({}) is None


def ms(baseline=None, completed=None, **kw) -> dict:
    return {"name": "m", "baseline": baseline and dt.date.fromisoformat(baseline),
            "completed": completed and dt.date.fromisoformat(completed), **kw}


def test_milestone_hit_rate():
    p = {"milestones": [
        ms("2026-03-01", "2026-02-27"),          # hit
        ms("2026-03-01", "2026-03-01"),          # hit: on the day
        ms("2026-03-01", "2026-03-02"),          # miss
        ms("2026-09-01"),                        # not completed: not measured
        ms(None, "2026-01-01"),                  # no baseline: not measured
        ms("2026-01-01", "2026-05-01", status="cancelled"),  # excluded
    ]}
    assert milestone_hit_rate(p) == D(2) / D(3)
    assert milestone_hit_rate({"milestones": [ms("2026-03-01", "2026-02-01")] * 4
                               + [ms("2026-03-01", "2026-04-01")]}) == D("0.8")


def test_milestone_hit_rate_null_without_measured_milestones():
    assert milestone_hit_rate({"milestones": []}) is None
    assert milestone_hit_rate({}) is None
    assert milestone_hit_rate({"milestones": [ms("2026-03-01"), ms(None, "2026-01-01")]}) is None


def test_milestone_hit_rate_zero_is_zero_not_null():
    assert milestone_hit_rate({"milestones": [ms("2026-03-01", "2026-03-09")]}) == 0


# ------------------------------------------------------------------------- risk --

def r(p=None, i=None, status="open", **kw) -> dict:
    return {"probability": None if p is None else D(p), "impact": None if i is None else D(i),
            "status": status, **kw}


def test_risk_exposure_sums_open_threats():
    p = {"risks": [r("0.3", "1000"), r("0.1", "0.1"), r("0.9", "1000000", status="closed"),
                   r("0.5", "400", status=" Open "), r("0.5", "9999", type="opportunity")]}
    assert risk_exposure(p) == D("300.01") + D("200")


def test_risk_exposure_zero_when_nothing_open():
    assert risk_exposure({"risks": []}) == 0
    assert risk_exposure({}) == 0
    assert risk_exposure({"risks": [r(None, None, status="closed")]}) == 0


@pytest.mark.parametrize("bad", [r(None, "1000"), r("0.3", None), r(None, None), r("3", "1000")])
def test_risk_exposure_unknown_when_an_open_risk_is_unassessed(bad):
    assert risk_exposure({"risks": [r("0.3", "1000"), bad]}) is None


# ----------------------------------------------------------------- registration --

def test_registered_as_metrics(session):
    fns = session.registry.functions
    for name, unit in [("cpi", "ratio"), ("spi", "ratio"), ("cv", "money"), ("sv", "money"), ("eac", "money"),
                       ("etc", "money"), ("vac", "money"), ("tcpi", "ratio"), ("schedule_slip", "days"),
                       ("milestone_hit_rate", "ratio"), ("risk_exposure", "money")]:
        spec = fns[name]
        assert spec.kind == "metric" and spec.params == ("project",) and spec.returns == "number"
        assert spec.unit == unit and spec.description and spec.inputs, name
    assert not session.problems


# ------------------------------------------------------------------- in policies --

AS_OF = "2026-11-26"


def outcomes(session, text: str, projects: list[dict]) -> dict:
    report = api.audit_text(text, {"projects": projects}, AS_OF, session=session)
    return {f.subject: f for f in report.findings}


def test_cpi_floor_in_a_policy(session):
    text = """package t
rule cpi-floor {
    for project in projects
    require cpi(project) >= 0.9
}
"""
    got = outcomes(session, text, [
        {"id": "EXACT", "budget": {"earned_value": 90, "actual_cost": 100}},
        {"id": "LOW", "budget": {"earned_value": "89.99", "actual_cost": 100}},
        {"id": "FLOATY", "budget": {"earned_value": "0.27", "actual_cost": "0.3"}},
        {"id": "NOAC", "budget": {"earned_value": 10, "actual_cost": 0}},
    ])
    assert got["EXACT"].outcome == "pass"
    assert got["FLOATY"].outcome == "pass"
    assert got["LOW"].outcome == "fail"
    assert {e.expr: e.value for e in got["LOW"].evidence}["cpi(project)"] == D("0.8999")
    assert got["NOAC"].outcome == "error"


def test_tcpi_presence_makes_an_unachievable_budget_fail(session):
    text = """package t
rule tcpi-realistic {
    for project in projects where project.budget.approved > 0
    require tcpi(project) is present else "{project.id}: the budget is used up"
    require tcpi(project) - cpi(project) <= 0.1
}
"""
    got = outcomes(session, text, [
        {"id": "OK", "budget": {"approved": 1000, "earned_value": 500, "actual_cost": 500}},
        {"id": "SPENT", "budget": {"approved": 1000, "earned_value": 600, "actual_cost": 1000}},
        {"id": "BEHIND", "budget": {"approved": 1000, "earned_value": 400, "actual_cost": 500}},
    ])
    assert got["OK"].outcome == "pass"
    assert got["SPENT"].outcome == "fail" and got["SPENT"].message == "SPENT: the budget is used up"
    assert got["BEHIND"].outcome == "fail"


def test_schedule_and_risk_metrics_in_a_policy(session):
    text = """package t
rule on-time {
    for project in projects
    require schedule_slip(project) <= 14 else "{project.id} slips {schedule_slip(project)} days"
    require milestone_hit_rate(project) ?? 1 >= 80%
    require risk_exposure(project) <= 10% * project.budget.approved
    require eac(project) <= project.budget.approved * 1.1
}
"""
    base = {"planned_end": "2026-12-31", "forecast_end": "2027-01-10",
            "budget": {"approved": 10000, "earned_value": 500, "actual_cost": 500}}
    got = outcomes(session, text, [
        {"id": "OK", **base, "risks": [{"probability": "0.5", "impact": 2000, "status": "open"}]},
        {"id": "LATE", **base, "forecast_end": "2027-02-01"},
        {"id": "MISSES", **base, "milestones": [{"baseline": "2026-01-01", "completed": "2026-02-01"}]},
        {"id": "EXPOSED", **base, "risks": [{"probability": "0.5", "impact": 2001, "status": "open"}]},
        {"id": "UNASSESSED", **base, "risks": [{"impact": 2000, "status": "open"}]},
        {"id": "OVERRUN", **base, "budget": {"approved": 10000, "earned_value": 500, "actual_cost": 551}},
    ])
    assert got["OK"].outcome == "pass"
    assert got["LATE"].outcome == "fail" and got["LATE"].message == "LATE slips 32 days"
    assert got["MISSES"].outcome == "fail"
    assert got["EXPOSED"].outcome == "fail"
    assert got["UNASSESSED"].outcome == "error"
    assert got["OVERRUN"].outcome == "fail"
