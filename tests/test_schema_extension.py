"""Schema extensions: an organisation's JSON Schema for its own fields.

The checker learns the declared fields' types; loaded records must satisfy the schema
(each violation a rejected record with file, record, id and field path); an unusable
extension is a usage error naming the file and the problem.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import pmo_rules
from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.errors import UsageError
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.registry import SchemaExtension
from pmo_rules.schema.extension import ExtensionPart, build_extension, jsonable
from pmo_rules.types import RecordType

AS_OF = "2026-11-26"
ACME = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"cost_center": {"type": "string", "pattern": "^CC-[0-9]{4}$"}},
    "projects": {
        "properties": {
            "cost_center": {"$ref": "#/$defs/cost_center"},
            "go_live": {"type": "string", "format": "date"},
            "headcount": {"type": "integer", "minimum": 0},
            "rate": {"type": "number", "multipleOf": 0.01},
            "regulated": {"type": "boolean"},
            "labels": {"type": "array", "items": {"type": "string"}},
            "finance": {"type": "object", "properties": {"wbs": {"type": "string"}},
                        "additionalProperties": False},
            "budget": {"properties": {"contingency": {"type": "number", "minimum": 0}}},
            "risks": {"items": {"properties": {"score": {"type": "integer", "minimum": 1, "maximum": 25}}}},
            "custom": {"properties": {"cost-center": {"$ref": "#/$defs/cost_center"},
                                      "cost_center": {"type": "string"},
                                      "tier": {"type": "integer"}}},
            "status": {"enum": ["proposed", "active", "on_hold", "completed", "cancelled"]},
            "start_date": {"type": "string"},
        },
        "required": ["cost_center"],
    },
    "people": {"properties": {"grade": {"type": ["integer", "null"]}}},
}
GOOD = {"id": "P1", "cost_center": "CC-0001", "go_live": "2026-12-01", "headcount": 3, "rate": 0.3,
        "regulated": True, "labels": ["a"], "finance": {"wbs": "W-1"}, "budget": {"contingency": 5},
        "risks": [{"id": "R1", "score": 12}], "custom": {"cost-center": "CC-0002", "tier": 2}}


def write(tmp_path: Path, doc, name: str = "acme.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def acme(tmp_path) -> api.Session:
    return api.Session.create(entry_points="builtin", schema_extension=write(tmp_path, ACME))


def rule(require: str, coll: str = "projects", var: str = "project") -> str:
    return f"package t\nrule r {{\n    for {var} in {coll}\n    require {require}\n}}\n"


def errors(session: api.Session, text: str) -> list[str]:
    _, diags = api.check_text(text, session, "t.pmo")
    return [f"{d.code}: {d.message}" for d in diags.errors]


# ------------------------------------------------------------------------ types --


@pytest.mark.parametrize(("fragment", "expected"), [
    ({"type": "string"}, "text"),
    ({"type": "string", "format": "date"}, "date"),
    ({"type": "string", "format": "email"}, "text"),
    ({"type": "number"}, "number"),
    ({"type": "integer"}, "number"),
    ({"type": "boolean"}, "bool"),
    ({"type": "array", "items": {"type": "string", "format": "date"}}, "list of date"),
    ({"type": "array"}, "list of any"),
    ({"items": {"type": "number"}}, "list of number"),
    ({"type": ["integer", "null"]}, "number"),
    ({"type": ["integer", "string"]}, "any"),
    ({"enum": ["a", "b", None]}, "text"),
    ({"enum": [1, 2.5]}, "number"),
    ({"enum": ["a", 1]}, "any"),
    ({"const": True}, "bool"),
    ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "text"),
    ({"anyOf": [{"type": "string"}, {"type": "number"}]}, "any"),
    ({"minLength": 1}, "any"),
    ({"$ref": "#/$defs/d"}, "date"),
])
def test_json_schema_types_map_onto_language_types(fragment, expected):
    doc = {"$defs": {"d": {"type": "string", "format": "date"}}, "projects": {"properties": {"x": fragment}}}
    ext = build_extension([ExtensionPart.from_document(doc, "t.json")])
    assert str(ext.collections["projects"].elem.fields["x"]) == expected


def test_objects_become_records_open_unless_additional_properties_is_false(acme):
    project = acme.collections()["projects"].elem
    finance = project.fields["finance"]
    assert isinstance(finance, RecordType) and not finance.open and str(finance.fields["wbs"]) == "text"
    custom = project.fields["custom"]
    assert isinstance(custom, RecordType) and custom.open
    assert {k: str(v) for k, v in custom.fields.items()} == {"cost-center": "text", "cost_center": "text",
                                                             "tier": "number"}


def test_extended_types_reach_nested_records_and_views(acme):
    colls = acme.collections()
    project = colls["projects"].elem
    assert project.name == "project" and not project.open  # still a `project` for metrics, still closed
    assert str(project.fields["budget"].fields["contingency"]) == "number"
    assert str(project.fields["budget"].fields["approved"]) == "number"  # built-ins kept
    risk = colls["risks"].elem
    assert str(risk.fields["score"]) == "number" and str(risk.fields["probability"]) == "number"
    assert risk.fields["project"] is project
    assert str(project.fields["start_date"]) == "date"  # declared as text: dates are text in JSON
    assert str(colls["people"].elem.fields["grade"]) == "number"


def test_without_an_extension_the_builtin_collections_are_used():
    session = api.Session.create(entry_points="builtin")
    assert session.extension is None and session.collections() is None


# ---------------------------------------------------------------------- checking --


def test_declared_fields_are_known_and_typed(acme):
    assert errors(acme, rule('project.cost_center matches "^CC-" and project.go_live < 2027-01-01 '
                             'and project.headcount > 2 and project.regulated and "x" in project.labels '
                             'and project.finance.wbs == "W" and project.budget.contingency >= 0')) == []
    assert errors(acme, rule("project.cost_center > 1")) == [
        "type-mismatch: cannot compare a text with a number using `>`"]
    assert errors(acme, rule("project.go_live > 5")) == [
        "type-mismatch: cannot compare a date with a number using `>`"]


def test_undeclared_fields_are_still_unknown(acme):
    (err,) = errors(acme, rule("project.cost_centre is present"))
    assert err == "unknown-field: unknown field `cost_centre` on a project record"
    (err,) = errors(acme, rule("project.finance.wbss is present"))  # additionalProperties: false
    assert err.startswith("unknown-field: unknown field `wbss`")


def test_without_the_extension_the_field_is_unknown_with_a_hint():
    session = api.Session.create(entry_points="builtin")
    _, diags = api.check_text(rule('project.cost_center == "CC-0001"'), session, "t.pmo")
    (d,) = diags.errors
    assert d.code == "unknown-field" and "schema extension" in (d.hint or "")


def test_custom_keys_get_their_declared_types(acme):
    assert errors(acme, rule('project.custom.cost_center == "x" and project.custom.tier + 1 > 2 '
                             'and project.custom["cost-center"] matches "^CC-"')) == []
    assert errors(acme, rule('project.custom["cost-center"] > 1')) == [
        "type-mismatch: cannot compare a text with a number using `>`"]
    assert errors(acme, rule("project.custom.tier > \"2\"")) == [
        "type-mismatch: cannot compare a number with a text using `>`"]
    assert errors(acme, rule("project.custom.anything_else > 1")) == []  # custom stays open


def test_views_know_extended_item_fields(acme):
    assert errors(acme, rule('risk.score > 10 and risk.project.cost_center == "CC-0001"', "risks", "risk")) == []
    assert errors(acme, rule('risk.score == "high"', "risks", "risk")) == [
        "type-mismatch: cannot compare a number with a text"]


def test_metrics_still_accept_the_extended_project(acme):
    assert errors(acme, rule("cpi(project) ?? 1 > 0.9 and risk_exposure(project) >= 0")) == []


def test_a_plugin_can_contribute_an_extension():
    class Acme:
        @pmo_rules.hookimpl
        def pmo_rules_schema(self, register):
            register(SchemaExtension("acme", {"programs": {"properties": {"sponsor_unit": {"type": "string"}}}}))

    session = api.Session.create(entry_points="builtin", extra=(("acme_schema", Acme()),))
    assert session.problems == []
    assert errors(session, rule('program.sponsor_unit == "Finance"', "programs", "program")) == []
    report = api.audit_text(rule("program.sponsor_unit is present", "programs", "program"),
                            {"programs": [{"id": "G1", "sponsor_unit": 7}, {"id": "G2", "sponsor_unit": "F"}]},
                            AS_OF, session=session)
    (rejected,) = report.data.rejected
    assert (rejected.id, rejected.field) == ("G1", "sponsor_unit")
    assert rejected.message == "7 is not of type 'string' (schema extension `acme` (plugin `acme_schema`))"


# -------------------------------------------------------------------- validation --


def audit(session: api.Session, projects: list[dict], require: str = "true", evaluator=None):
    return api.audit_text(rule(require), {"projects": projects}, AS_OF, session=session, evaluator=evaluator)


def test_a_valid_record_passes_and_keeps_typed_values(acme):
    report = audit(acme, [GOOD], 'project.go_live == 2026-12-01 and project.headcount == 3 '
                                 'and project.rate == 0.3 and project.custom.tier == 2')
    assert report.data.rejected == []
    assert [f.outcome for f in report.findings] == ["pass"]


def test_each_violation_is_a_rejected_record_with_its_field_path(acme):
    bad = dict(GOOD, id="P2", cost_center="XX-1", headcount=-1, go_live="2026-13-01",
               risks=[{"id": "R1", "score": 30}], custom={"cost-center": 5})
    report = audit(acme, [GOOD, bad, {"id": "P3"}])
    got = [(r.file, r.record, r.id, r.field, r.message) for r in report.data.rejected]
    src = f"(schema extension {acme.extension.parts[0].name})"
    assert got == [
        ("<projects>", 2, "P2", "cost_center", f"'XX-1' does not match '^CC-[0-9]{{4}}$' {src}"),
        ("<projects>", 2, "P2", "custom.cost-center", f"5 is not of type 'string' {src}"),
        ("<projects>", 2, "P2", "go_live", f"'2026-13-01' is not a 'date' {src}"),
        ("<projects>", 2, "P2", "headcount", f"-1 is less than the minimum of 0 {src}"),
        ("<projects>", 2, "P2", "risks.0.score", f"30 is greater than the maximum of 25 {src}"),
        ("<projects>", 3, "P3", "cost_center", f"'cost_center' is a required property {src}"),
    ]
    assert [f.subject for f in report.findings] == ["P1"]  # kept out of the run, never silently


def test_numbers_are_exact_and_integers_are_integers(acme):
    ok = [dict(GOOD, id=f"P{i}", rate=r) for i, r in enumerate((0.3, 1.1, 12, "0.07"))]
    assert audit(acme, ok).data.rejected == []
    bad = [dict(GOOD, id="B1", rate=0.001), dict(GOOD, id="B2", headcount=2.5), dict(GOOD, id="B3", headcount=True)]
    report = audit(acme, bad)
    assert [(r.id, r.field) for r in report.data.rejected] == [("B1", "rate"), ("B2", "headcount"),
                                                              ("B3", "headcount")]
    assert report.data.rejected[0].message.startswith("0.001 is not a multiple of 0.01")


def test_builtin_fields_are_validated_as_pydantic_read_them(tmp_path):
    ext = write(tmp_path, {"projects": {"properties": {"budget": {"properties": {"approved": {"maximum": 1000}}},
                                                       "start_date": {"format": "date"},
                                                       "sponsor": {"type": "string", "minLength": 2}},
                                        "required": ["sponsor"]}})
    session = api.Session.create(entry_points="builtin", schema_extension=ext)
    report = audit(session, [{"id": "A", "sponsor": "Ana", "budget": {"approved": "999.5"}, "start_date": "2026-01-01"},
                             {"id": "B", "sponsor": "Ana", "budget": {"approved": 1000.01}},
                             {"id": "C", "sponsor": None},
                             {"id": "D"}])
    assert [(r.id, r.field) for r in report.data.rejected] == [("B", "budget.approved"), ("C", "sponsor"),
                                                              ("D", "sponsor")]
    assert [f.subject for f in report.findings] == ["A"]


def test_absent_optional_fields_are_not_violations(tmp_path):
    ext = write(tmp_path, {"projects": {"properties": {"go_live": {"type": "string", "format": "date"}}}})
    session = api.Session.create(entry_points="builtin", schema_extension=ext)
    report = audit(session, [{"id": "P1"}], "project.go_live is missing")
    assert report.data.rejected == [] and report.findings[0].outcome == "pass"


def test_text_cells_are_read_as_the_declared_type(tmp_path):
    """CSV gives every unknown column as text; a declared type reads it as pydantic would."""
    ext = write(tmp_path, {"projects": {"properties": {
        "headcount": {"type": "integer"}, "rate": {"type": "number"}, "regulated": {"type": "boolean"},
        "go_live": {"type": "string", "format": "date"}}}})
    data = tmp_path / "data"
    data.mkdir()
    (data / "projects.csv").write_text("id,headcount,rate,regulated,go_live\n"
                                       "P1,12,0.25,yes,2026-12-01\n"
                                       "P2,twelve,0.25,maybe,2026-12-01\n", encoding="utf-8")
    session = api.Session.create(entry_points="builtin", schema_extension=ext)
    loaded = api.load_data([data], session)
    (p1,) = loaded.snapshot.projects
    assert (p1["headcount"], p1["rate"], p1["regulated"], p1["go_live"]) == (
        Decimal(12), Decimal("0.25"), True, dt.date(2026, 12, 1))
    assert [(r.file.endswith("projects.csv"), r.record, r.id, r.field) for r in loaded.rejected] == [
        (True, 2, "P2", "headcount"), (True, 2, "P2", "regulated")]


def test_yaml_dates_for_a_text_field_stay_text(tmp_path):
    ext = write(tmp_path, {"projects": {"properties": {"review": {"type": "string"}}}})
    (tmp_path / "projects.yaml").write_text("- id: P1\n  review: 2026-10-01\n", encoding="utf-8")
    session = api.Session.create(entry_points="builtin", schema_extension=ext)
    loaded = api.load_data([tmp_path / "projects.yaml"], session)
    assert loaded.rejected == [] and loaded.snapshot.projects[0]["review"] == "2026-10-01"


@pytest.mark.parametrize("evaluator", [None, ReferenceEvaluator()], ids=["indexed", "reference"])
def test_both_evaluators_see_declared_dates_as_dates(acme, evaluator):
    report = audit(acme, [dict(GOOD, start_date="2026-01-05")], "project.go_live - project.start_date > 300d",
                   evaluator=evaluator)
    assert [f.outcome for f in report.findings] == ["pass"]


def test_jsonable_is_exact():
    assert jsonable({"a": Decimal("0.30"), "b": Decimal("12.0"), "c": dt.date(2026, 1, 2), "d": [1.5]}) == {
        "a": Decimal("0.30"), "b": 12, "c": "2026-01-02", "d": [Decimal("1.5")]}


def test_digest_names_the_extension_content(tmp_path):
    one = api.Session.create(entry_points="builtin", schema_extension=write(tmp_path, ACME, "a.json"))
    two = api.Session.create(entry_points="builtin", schema_extension=write(tmp_path, ACME, "a.json"))
    other = api.Session.create(entry_points="builtin",
                               schema_extension=write(tmp_path, {"people": {}}, "a.json"))
    assert one.extension.digest == two.extension.digest != other.extension.digest
    assert len(one.extension.digest) == 64


# ----------------------------------------------------------------- bad extensions --


@pytest.mark.parametrize(("doc", "message"), [
    ("{\"projects\": {", "invalid JSON at line 1, column 15: Expecting property name"),
    ("[1, 2]", "a schema extension is an object with one JSON Schema per collection"),
    ({"project": {}}, "unknown key `project`; did you mean `projects`?"),
    ({"risks": {}}, "`risks` is a view of projects: extend its items under `projects.properties.risks.items`"),
    ({"projects": []}, "`projects` must be a JSON Schema object for one project record"),
    ({"projects": {"type": "array"}}, "`projects` describes one record, so its `type` can only be \"object\""),
    ({"projects": {"properties": {"x": {"type": "strng"}}}},
     "`projects` is not a valid JSON Schema at `projects.properties.x.type`"),
    ({"projects": {"properties": {"x": {"minLength": -1}}}}, "`projects` is not a valid JSON Schema"),
    ({"projects": {"properties": {"x": {"$ref": "https://example.com/s.json"}}}},
     "only local references like \"#/$defs/NAME\" are supported"),
    ({"$defs": {"cost": {}}, "projects": {"properties": {"x": {"$ref": "#/$defs/cots"}}}},
     "names `cots`, which is not in `$defs`; did you mean `cost`?"),
    ({"$schema": "http://json-schema.org/draft-07/schema#", "projects": {}}, "uses JSON Schema Draft 2020-12"),
    ({"projects": {"properties": {"status": {"type": "number"}}}},
     "`projects.status` is a built-in field of type text; an extension cannot redeclare it as number"),
    ({"projects": {"properties": {"budget": {"type": "string"}}}},
     "`projects.budget` is a built-in field of type a record; an extension cannot redeclare it as text"),
    ({"projects": {"properties": {"risks": {"items": {"properties": {"impact": {"type": "boolean"}}}}}}},
     "`projects.risks[].impact` is a built-in field of type number"),
    ({"people": {"properties": {"capacity": {"type": "string"}}}}, "`people.capacity` is a built-in field"),
])
def test_an_unusable_extension_is_a_usage_error_naming_file_and_problem(tmp_path, doc, message):
    path = write(tmp_path, doc)
    with pytest.raises(UsageError) as info:
        api.Session.create(entry_points="builtin", schema_extension=path)
    text = str(info.value)
    assert text.startswith(f"schema extension {path}: "), text
    assert message in text, text
    assert info.value.exit_code == 2


def test_a_missing_extension_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such schema extension file"):
        api.Session.create(entry_points="builtin", schema_extension=tmp_path / "nope.json")


def test_a_yaml_extension_file_works(tmp_path):
    path = write(tmp_path, "projects:\n  properties:\n    cost_center: {type: string}\n", "acme.yaml")
    session = api.Session.create(entry_points="builtin", schema_extension=path)
    assert errors(session, rule('project.cost_center == "x"')) == []


def test_a_file_conflicting_with_a_plugin_extension_names_both(tmp_path):
    class Acme:
        @pmo_rules.hookimpl
        def pmo_rules_schema(self, register):
            register(SchemaExtension("acme", {"projects": {"properties": {"tier": {"type": "integer"}}}}))

    path = write(tmp_path, {"projects": {"properties": {"tier": {"type": "string"}}}})
    with pytest.raises(UsageError) as info:
        api.Session.create(entry_points="builtin", extra=(("acme_schema", Acme()),), schema_extension=path)
    assert str(info.value) == (f"schema extension {path}: `projects.tier` is declared as text, but extension "
                               "`acme` (plugin `acme_schema`) declares it as number")


def test_the_same_type_declared_twice_is_fine(tmp_path):
    class Acme:
        @pmo_rules.hookimpl
        def pmo_rules_schema(self, register):
            register(SchemaExtension("acme", {"projects": {"properties": {"tier": {"type": "integer"}}}}))

    path = write(tmp_path, {"projects": {"properties": {"tier": {"type": "number", "maximum": 3}}}})
    session = api.Session.create(entry_points="builtin", extra=(("acme_schema", Acme()),), schema_extension=path)
    assert len(session.extension.parts) == 2
    report = audit(session, [{"id": "P1", "tier": 4}])
    assert [r.message.split(" (schema extension")[0] for r in report.data.rejected] == [
        "4 is greater than the maximum of 3"]


# --------------------------------------------------------------------------- CLI --

POLICY = "package acme\nrule cc {\n    for project in projects\n    require project.cost_center matches \"^CC-\"\n}\n"


def test_check_with_and_without_the_extension(tmp_path):
    (tmp_path / "acme.pmo").write_text(POLICY, encoding="utf-8")
    ext = write(tmp_path, ACME)
    runner = CliRunner()
    without = runner.invoke(main, ["check", str(tmp_path / "acme.pmo")])
    assert without.exit_code == 2 and "unknown field `cost_center`" in without.output
    ok = runner.invoke(main, ["check", "--schema-extension", str(ext), str(tmp_path / "acme.pmo")])
    assert ok.exit_code == 0, ok.output


def test_cli_reports_an_invalid_extension_with_exit_2(tmp_path):
    ext = write(tmp_path, {"projects": {"properties": {"status": {"type": "boolean"}}}})
    for command in (["check"], ["audit"]):
        result = CliRunner().invoke(main, [*command, "--schema-extension", str(ext)])
        assert result.exit_code == 2
        assert f"error: schema extension {ext}: `projects.status` is a built-in field" in result.output


def test_audit_reports_violations_and_strict_fails(tmp_path):
    (tmp_path / "acme.pmo").write_text(POLICY, encoding="utf-8")
    ext = write(tmp_path, ACME)
    data = tmp_path / "projects.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + json.dumps(dict(GOOD, id="P2", cost_center="X")) + "\n",
                    encoding="utf-8")
    args = ["audit", "--policies", str(tmp_path / "acme.pmo"), "--data", str(data), "--as-of", AS_OF,
            "--schema-extension", str(ext)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "record 2 (id P2), field `cost_center`: 'X' does not match" in result.output
    strict = CliRunner().invoke(main, [*args, "--strict"])
    assert strict.exit_code == 2
    assert "--strict: 1 invalid data record(s)" in strict.output
