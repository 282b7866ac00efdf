"""The JSON Schema of the JSON report (`report.schema.json`, `pmo-rules schema report`).

Real reports validate: the bundled sample audit, a report with waivers, errors, rejected
records and an expired waiver, and a 200-project generated portfolio. Broken ones do not
(a bad outcome, severity or enforcement, a missing `version`, an unknown field, a
roll-up ratio above 1). The schema stays in step with the pydantic models, and the CLI
prints the file byte for byte.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from pmo_rules_builtins.formats import json_report

from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.findings import DataSummary, Evidence, Finding, Rejected, Report, RuleSummary
from pmo_rules.generate import generate_portfolio, write_portfolio

SCHEMA_PATH = Path(json_report.__file__).with_name("report.schema.json")
AS_OF = "2026-11-26"

POLICY = '''package governance

rule sponsor-assigned {
    title "Active projects have an executive sponsor"
    description "Every active project names an executive sponsor."
    severity high
    enforcement soft
    for project in projects where project.status == "active"
    require project.sponsor is present
    message "{project.id} has no sponsor"
    remediation "Name a sponsor"
}

rule cpi-floor {
    severity critical
    enforcement hard
    for project in projects
    let cpi = project.budget.earned_value / project.budget.actual_cost
    require cpi >= 0.9
}

waiver W-1 {
    rule governance.sponsor-assigned
    subjects "PRJ-3"
    reason "Hand-over"
    approved_by "CFO"
    expires 2026-12-01
}

waiver W-OLD {
    rule governance.sponsor-assigned
    subjects "PRJ-1"
    reason "Expired"
    approved_by "CFO"
    expires 2026-01-01
}

waiver W-STALE {
    rule governance.sponsor-assigned
    subjects "PRJ-404"
    reason "Nothing to waive"
    approved_by "CFO"
    expires 2027-06-30
}
'''

DATA = {"projects": [
    {"id": "PRJ-1", "name": "One", "status": "active", "portfolio": "Digital", "program": "PGM-1",
     "budget": {"approved": 100, "actual_cost": 50, "earned_value": 40}},
    {"id": "PRJ-2", "name": "Two", "status": "active", "sponsor": "Ana",
     "budget": {"approved": 200.5, "actual_cost": 0, "earned_value": 0}},
    {"id": "PRJ-3", "name": "Three", "status": "active", "portfolio": "Digital",
     "budget": {"approved": 100, "actual_cost": 10, "earned_value": 10}},
    {"id": "PRJ-4", "name": "Four", "status": "closed", "budget": {"approved": "lots"}},
]}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator(schema) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def as_json(report: Report) -> dict:
    return json.loads(json_report.render(report, {}))


def errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def sample(session) -> dict:
    program, _ = api.load_program([api.default_policies()], session)
    data = api.load_data([], session)
    return as_json(api.audit(program, data, dt.date.fromisoformat(AS_OF)))


@pytest.fixture(scope="module")
def eventful(session) -> dict:
    return as_json(api.audit_text(POLICY, DATA, AS_OF, session=session, include_passes=True))


# -------------------------------------------------------------------- valid --


def test_the_schema_is_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_bundled_sample_audit_validates(validator, sample):
    assert sample["findings"] and sample["rollups"]["program"] and sample["subjects"]
    assert errors(validator, sample) == []


def test_report_with_waivers_errors_and_rejected_records_validates(validator, eventful):
    outcomes = {f["outcome"] for f in eventful["findings"]}
    assert {"pass", "fail", "error", "waived"} <= outcomes
    assert {w["status"] for w in eventful["waivers"]} == {"active", "expired", "stale"}
    assert any("waiver" in f for f in eventful["findings"])
    assert any("note" in f for f in eventful["findings"])  # the expired waiver's note
    assert eventful["data"]["rejected"]  # PRJ-4's budget
    assert errors(validator, eventful) == []


def test_generated_portfolio_validates(validator, session, tmp_path):
    write_portfolio(generate_portfolio(200, seed=11), tmp_path)
    program, _ = api.load_program([api.default_policies()], session)
    data = api.load_data([tmp_path], session)
    doc = as_json(api.audit(program, data, dt.date.fromisoformat(AS_OF)))
    assert len(doc["rollups"]["program"]) > 1 and len(doc["findings"]) > 100
    assert errors(validator, doc) == []


def test_hand_made_and_empty_reports_validate(validator):
    counts = {"pass": 0, "fail": 1, "error": 0, "waived": 0, "not_applicable": 0}
    report = Report(
        as_of=AS_OF, summary={"risk.owned": RuleSummary(severity="low", enforcement="advisory", location="x:1:1",
                                                        counts=counts)},
        totals=counts,
        findings=[Finding(rule="risk.owned", subject="PRJ-1/R-1", outcome="fail", severity="low",
                          enforcement="advisory", evidence=[Evidence(expr="r", value={"a": [1, None]})])],
        data=DataSummary(rejected=[Rejected(file="p.csv", record=3, field="id", message="missing")]))
    assert errors(validator, as_json(report)) == []
    empty = Report(as_of=AS_OF, summary={}, totals={k: 0 for k in counts}, findings=[])
    assert errors(validator, as_json(empty)) == []


# ------------------------------------------------------------------- broken --


def _finding(d: dict) -> dict:
    return d["findings"][0]


MUTATIONS = {
    "bad outcome": lambda d: _finding(d).update(outcome="failed"),
    "bad severity": lambda d: _finding(d).update(severity="urgent"),
    "bad enforcement": lambda d: _finding(d).update(enforcement="strict"),
    "missing version": lambda d: d.pop("version"),
    "missing findings": lambda d: d.pop("findings"),
    "finding without rule": lambda d: _finding(d).pop("rule"),
    "unknown top-level field": lambda d: d.update(extra=1),
    "unknown finding field": lambda d: _finding(d).update(colour="red"),
    "evidence without expr": lambda d: _finding(d).update(evidence=[{"value": 1}]),
    "waiver without id": lambda d: _finding(d).update(waiver={"reason": "r", "approved_by": "a",
                                                              "expires": "2026-12-01"}),
    "waiver without expiry": lambda d: d["waivers"][0].update(expires=None),
    "negative count": lambda d: d["totals"].update({"fail": -1}),
    "totals missing an outcome": lambda d: d["totals"].pop("waived"),
    "as_of not a date": lambda d: d.update(as_of="26/11/2026"),
    "compliance above 1": lambda d: d["rollups"]["program"][0].update(compliance=87.5),
    "rollup without its name": lambda d: d["rollups"]["portfolio"][0].pop("portfolio"),
    "bad waiver status": lambda d: d["waivers"][0].update(status="pending"),
    "summary severity": lambda d: next(iter(d["summary"].values())).update(severity="urgent"),
    "blocking as text": lambda d: d.update(blocking="yes"),
    "subject not an object": lambda d: d["subjects"].update({"PRJ-1": "One"}),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_broken_reports_are_rejected(validator, eventful, name):
    broken = copy.deepcopy(eventful)
    MUTATIONS[name](broken)
    assert broken != eventful
    assert errors(validator, broken), name


# ------------------------------------------------------------------- in step --


def _props(schema: dict, ref: str) -> set[str]:
    return set(schema["$defs"][ref]["properties"])


def test_schema_matches_the_models(schema):
    """A field added to a model must be added to the schema too (and the other way round)."""
    assert set(schema["properties"]) == set(Report.model_fields)
    assert set(schema["required"]) == set(Report.model_fields)
    assert _props(schema, "finding") == set(Finding.model_fields)
    assert _props(schema, "rule_summary") == set(RuleSummary.model_fields)
    assert _props(schema, "evidence") == set(Evidence.model_fields)
    assert set(schema["$defs"]["data"]["properties"]) == set(DataSummary.model_fields)
    assert _props(schema, "rejected") == set(Rejected.model_fields)
    from pmo_rules.program import ENFORCEMENTS, OUTCOMES, SEVERITIES

    assert schema["$defs"]["severity"]["enum"] == list(SEVERITIES)
    assert schema["$defs"]["enforcement"]["enum"] == list(ENFORCEMENTS)
    assert set(schema["$defs"]["outcome"]["enum"]) == set(OUTCOMES)


def test_cli_prints_the_schema_file():
    r = CliRunner().invoke(main, ["schema", "report"])
    assert r.exit_code == 0, r.output
    assert r.stdout == SCHEMA_PATH.read_text(encoding="utf-8")
    assert json.loads(r.stdout) == json_report.report_schema()


def test_cli_schema_data_is_still_the_default():
    default = CliRunner().invoke(main, ["schema"])
    data = CliRunner().invoke(main, ["schema", "data"])
    assert default.exit_code == data.exit_code == 0
    assert default.stdout == data.stdout
    assert "projects" in json.loads(data.stdout)["properties"]
    bad = CliRunner().invoke(main, ["schema", "reports"])
    assert bad.exit_code == 2
