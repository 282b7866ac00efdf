"""Hardening: hostile data. Every bad record is quarantined (file, record, field path), the
rest of the run proceeds, the report's `data.rejected` says how many and why, and
`pmo-rules audit --strict` exits 2.

The corpus is `tests/data/hostile/` (small files, byte-exact: CRLF, BOM, Latin-1); the
big cases (a 10 MB string, nesting 10,000 deep) are generated here.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules import api, load
from pmo_rules.cli import main
from pmo_rules.errors import DataError

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
AS_OF = "2026-11-26"

POLICY = """package h

rule approved-budget {
    severity high
    for project in projects where project.status == "active"
    require project.budget.approved is present and project.budget.approved > 0
    message "{project.id} ({project.name}) has no positive approved budget"
}

rule people-capacity {
    for person in people
    require person.capacity <= 1
}
"""

# (file, record number, field path) of every record the corpus must reject, and why.
RECORDS_REJECTED = {
    ("people.jsonl", 2, "capacity"): "valid decimal",
    ("people.jsonl", 3, "capacity"): "finite number",
    ("people.jsonl", 4, "cost_rate"): "out of range",
    ("programs.jsonl", 2, "budget_cap"): "out of range",
    ("programs.jsonl", 3, "id"): "duplicate id `G-1`",
    ("projects.jsonl", 2, "priority"): "valid integer",
    ("projects.jsonl", 3, "budget.approved"): "valid decimal (got 'lots')",
    ("projects.jsonl", 4, "budget.approved"): "finite number (got nan)",
    ("projects.jsonl", 5, "budget.approved"): "finite number (got inf)",
    ("projects.jsonl", 6, "budget.approved"): "finite number (got -inf)",
    ("projects.jsonl", 7, "budget.approved"): "number 1E+400 is out of range",
    ("projects.jsonl", 8, "budget.approved"): "number -1E+400 is out of range",
    ("projects.jsonl", 9, "start_date"): "day value is outside expected range",
    ("projects.jsonl", 10, "id"): "valid string",
    ("projects.jsonl", 11, "id"): "Field required",
    ("projects.jsonl", 12, "budget.approved"): "valid decimal (got '1,000')",
    ("projects.jsonl", 13, "budget.approved"): "Decimal input",
    ("projects.jsonl", 14, "status"): "(got 'Active')",
    ("projects.jsonl", 15, "risks"): "valid list",
    ("projects.jsonl", 16, "risks.0.probability"): "valid decimal (got 'likely')",
    ("projects.jsonl", 17, "id"): "duplicate id `P-001`",
    ("projects.jsonl", 18, "(record)"): "must be an object, not list",
    ("projects.jsonl", 19, "(record)"): "must be an object, not int",
    ("projects.jsonl", 20, "(record)"): "must be an object, not str",
    ("projects.jsonl", 21, "custom.weird"): "NaN is not a finite number",
    ("projects.jsonl", 22, "last_status_update"): "valid date",
    ("projects.jsonl", 23, "priority"): "less than or equal to 5",
    ("projects.jsonl", 24, "budget.approved"): "number 1E+999999999 is out of range",
    ("projects.jsonl", 25, "tags.0"): "valid string",
    ("projects.jsonl", 25, "tags.1"): "valid string",
    ("projects.jsonl", 28, "budget.approved"): "number 1E-400 is out of range",
    ("projects.jsonl", 29, "milestones.0.due"): "month value",
    ("projects.jsonl", 30, "(record)"): "invalid JSON: Unterminated string",
}


def _session() -> api.Session:
    return api.Session.create()


def _rejected(loaded) -> dict[tuple[str, int, str], str]:
    return {(Path(r.file).name, r.record, r.field): r.message for r in loaded.rejected}


def _assert_rejected(loaded, expected: dict[tuple[str, int, str], str]) -> None:
    got = _rejected(loaded)
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, fragment in expected.items():
        assert fragment in got[key], (key, got[key])


# ------------------------------------------------------------------- corpus --

def test_the_corpus_is_small():
    files = [p for p in HOSTILE.rglob("*") if p.is_file()]
    assert len(files) >= 12
    assert max(p.stat().st_size for p in files) < 100_000


def test_every_bad_record_is_quarantined_with_file_record_and_field():
    loaded = api.load_data([HOSTILE / "records"], _session())
    _assert_rejected(loaded, RECORDS_REJECTED)
    # The good records load, exactly, and the bad ones are not half-loaded.
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-001", "P-026", "P-027"]
    assert [p["id"] for p in loaded.snapshot.people] == ["U-1"]
    assert [p["id"] for p in loaded.snapshot.programs] == ["G-1"]
    assert loaded.snapshot.programs[0]["budget_cap"] == Decimal("1000000")
    # An id is named wherever the record had a readable one.
    by_key = {(Path(r.file).name, r.record, r.field): r for r in loaded.rejected}
    assert by_key[("projects.jsonl", 7, "budget.approved")].id == "P-007"
    assert by_key[("projects.jsonl", 18, "(record)")].id is None


def test_negative_budgets_are_loaded_exactly_and_left_to_policies(policy):
    """Decision: the data model allows a negative approved budget (models.py); it is kept
    exactly (never clamped or dropped) and a policy such as `approved-budget` flags it.
    (Recommended model change, not made here: reject negative `approved`, `budget_cap`,
    `capacity`, `allocation`, and `probability` outside 0..1.)"""
    loaded = api.load_data([HOSTILE / "records"], _session())
    neg = [p for p in loaded.snapshot.projects if p["id"] == "P-026"]
    if not neg:  # the model was tightened: then it must be a located rejection
        assert ("projects.jsonl", 26, "budget.approved") in _rejected(loaded)
        return
    assert neg[0]["budget"]["approved"] == Decimal("-5000")
    program, _ = api.load_program([policy], _session())
    report = api.audit(program, loaded, dt.date.fromisoformat(AS_OF))
    fails = {(f.rule, f.subject) for f in report.findings if f.outcome == "fail"}
    assert ("h.approved-budget", "P-026") in fails


@pytest.fixture
def policy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "h.pmo"
    path.write_text(POLICY, encoding="utf-8")
    return path


@pytest.mark.parametrize("folder,loaded_ids,expected", [
    ("crlf", ["C-1", "C-3"], {("projects.jsonl", 2, "priority"): "valid integer",
                              ("projects.jsonl", 4, "(record)"): "invalid JSON"}),
    ("bom", ["B-1", "B-3"], {("projects.json", 2, "budget.approved"): "finite number",
                             ("projects.json", 1, "capacity"): "valid decimal (got 'lots')"}),
    ("latin1", ["L-1", "L-3"], {("projects.jsonl", 2, "(record)"):
                                "line 2 is not UTF-8 text (byte 0xe9 at column 27)"}),
    ("empty", [], {}),
    ("csv", [], {("projects.csv", 1, "risks.1.probability"): "valid decimal (got 'likely')",
                 ("projects.csv", 2, "budget.approved"): "finite number (got 'NaN')",
                 ("projects.csv", 3, "budget.approved"): "finite number (got 'Infinity')",
                 ("projects.csv", 4, "budget.approved"): "number 1E+400 is out of range",
                 ("projects.csv", 5, "budget.approved"): "valid decimal (got '1,000')",
                 ("projects.csv", 6, "start_date"): "day value",
                 ("projects.csv", 7, "priority"): "valid integer",
                 ("projects.csv", 9, "(record)"): "risks.csv row 3: `project_id` `K-404` matches no project"}),
    ("yaml", ["Y-1"], {("projects.yaml", 2, "budget.approved"): "finite number",
                       ("projects.yaml", 3, "start_date"): "day value",
                       ("projects.yaml", 4, "priority"): "valid integer",
                       ("projects.yaml", 5, "(record)"): "must be an object, not str"}),
])
def test_each_corpus_folder_quarantines_its_bad_records(folder, loaded_ids, expected):
    loaded = api.load_data([HOSTILE / folder], _session())
    _assert_rejected(loaded, expected)
    if folder == "csv":
        assert [p["id"] for p in loaded.snapshot.projects] == ["K-8"]
        assert loaded.snapshot.projects[0]["budget"]["approved"] == Decimal("-250")
    else:
        assert [p["id"] for p in loaded.snapshot.projects] == loaded_ids
    if folder == "bom":
        assert loaded.snapshot.projects[0]["name"] == "with a BOM"
    if folder == "latin1":
        assert loaded.snapshot.projects[1]["name"] == "Caf\u00e9 in UTF-8"


@pytest.mark.parametrize("folder,problem", [
    ("empty-json", "the file is empty"),
    ("number", "holds a list of records or an object of collections"),
    ("latin1-json", "not UTF-8 text: byte 0xe9 at line 1, column 28"),
])
def test_a_file_that_cannot_be_read_at_all_is_a_data_error_naming_it(folder, problem):
    with pytest.raises(DataError) as exc:
        api.load_data([HOSTILE / folder], _session())
    assert str(HOSTILE / folder / "projects.json") in str(exc.value)
    assert problem in str(exc.value)


# -------------------------------------------------------------- big and deep --

def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "projects.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = '{"id": "P-1", "name": "fine", "status": "active", "budget": {"approved": 10}}'
GOOD2 = '{"id": "P-2", "name": "fine too"}'


@pytest.mark.parametrize("depth", [150, 990, 10_000])
def test_deeply_nested_custom_fields_are_quarantined_not_a_recursion_error(tmp_path, depth):
    deep = '{"id": "P-D", "custom": {"x": ' + '{"a": ' * depth + "1" + "}" * depth + "}}"
    loaded = api.load_data([_write_jsonl(tmp_path / "jsonl", [GOOD, deep, GOOD2])], _session())
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1", "P-2"]
    (r,) = loaded.rejected
    assert (r.record, r.id, r.field) == (2, "P-D", "custom.x.a.a.…")
    assert "deep" in r.message
    # The same record inside one JSON document: only that record is rejected.
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "projects.json").write_text(
        '{"projects": [' + ", ".join([GOOD, deep, GOOD2]) + '], "people": [{"id": "U-1"}]}', encoding="utf-8")
    loaded = api.load_data([tmp_path / "json"], _session())
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1", "P-2"]
    assert [p["id"] for p in loaded.snapshot.people] == ["U-1"]
    assert [(r.record, r.id, r.field) for r in loaded.rejected] == [(2, "P-D", "custom.x.a.a.…")]


def test_a_deeply_nested_list_in_a_top_level_json_list_is_quarantined(tmp_path):
    deep = '{"id": "P-L", "tags": ["x"], "custom": {"l": ' + "[" * 10_000 + "]" * 10_000 + "}}"
    (tmp_path / "projects.json").write_text("[" + GOOD + ",\n" + deep + "]", encoding="utf-8")
    loaded = api.load_data([tmp_path], _session())
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1"]
    assert [(r.record, r.id, r.field) for r in loaded.rejected] == [(2, "P-L", "custom.l.0.0.…")]


def test_deep_yaml_is_a_data_error_naming_the_file_not_a_plugin_crash(tmp_path):
    (tmp_path / "projects.yaml").write_text("- id: P-1\n  custom: " + "[" * 5_000 + "]" * 5_000 + "\n")
    with pytest.raises(DataError) as exc:
        api.load_data([tmp_path], _session())
    assert "projects.yaml" in str(exc.value) and "nests too deeply" in str(exc.value)


def test_a_10_mb_string_loads_and_is_reported_without_trouble(tmp_path):
    big = "x" * 10_000_000
    line = json.dumps({"id": "P-BIG", "name": big, "status": "active", "budget": {"approved": -1}})
    loaded = api.load_data([_write_jsonl(tmp_path, [GOOD, line])], _session())
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1", "P-BIG"]
    assert len(loaded.snapshot.projects[1]["name"]) == 10_000_000
    report = api.audit_text(POLICY, {"projects": [json.loads(line)]}, AS_OF, session=_session())
    (f,) = [f for f in report.findings if f.outcome == "fail"]
    assert f.subject == "P-BIG" and big in (f.message or "")
    session = _session()
    for name in ("text", "json", "csv"):
        out = session.registry.formats[name].render(report, {})
        assert "P-BIG" in out


@pytest.mark.parametrize("value,ok", [
    ("1e27", True), ("-9.99e27", True), ("1e-28", True), ("0e-500", True), ("0.1", True),
    ("1e28", False), ("1e-29", False), ('"1e400000000"', False), ("1e400000000", False),
    ('"-1e-400000000"', False), ("0e-400000000", False),
])
def test_numbers_out_of_range_are_rejected_before_they_can_blow_up_a_report(tmp_path, value, ok):
    """1E+400000000 is a valid Decimal, but printing it takes 400 MB: found by hand, it
    crashed the whole audit (MemoryError in the message template, ValueError in the
    distance hint). Now the record is quarantined at the field."""
    line = '{"id": "P-N", "status": "active", "budget": {"approved": ' + value + "}}"
    loaded = api.load_data([_write_jsonl(tmp_path, [line])], _session())
    if ok:
        assert loaded.rejected == [] and len(loaded.snapshot.projects) == 1
    else:
        (r,) = loaded.rejected
        assert (r.record, r.id, r.field) == (1, "P-N", "budget.approved")
        assert "out of range" in r.message and len(r.message) < 200


def test_numbers_out_of_range_in_custom_fields_are_rejected_too(tmp_path):
    line = '{"id": "P-N", "custom": {"list": [1, 2, 1e999999]}, "extra": {"x": "1e5"}}'
    loaded = api.load_data([_write_jsonl(tmp_path, [line])], _session())
    assert [(r.field, r.message[:22]) for r in loaded.rejected] == [("custom.list.2", "number 1E+999999 is ou")]


@pytest.mark.parametrize("bad_line", [b"", b"\xff\n"], ids=["utf8", "not-utf8"])
def test_jsonl_with_a_bom_a_lone_cr_and_crlf_reads_like_text_mode(tmp_path, bad_line):
    """The same lines whether the file is all UTF-8 (read as text) or not (read line by line)."""
    (tmp_path / "projects.jsonl").write_bytes(b'\xef\xbb\xbf{"id": "A"}\r{"id": "B"}\r\n{"id": "C"}\n' + bad_line
                                              + b'{"id": "D"}')
    loaded = api.load_data([tmp_path], _session())
    if not bad_line:
        assert [p["id"] for p in loaded.snapshot.projects] == ["A", "B", "C", "D"] and loaded.rejected == []
        return
    assert [p["id"] for p in loaded.snapshot.projects] == ["A", "B", "C", "D"]
    assert [(r.record, r.field) for r in loaded.rejected] == [(4, "(record)")]
    assert "line 4 is not UTF-8" in loaded.rejected[0].message


# ---------------------------------------------------------- the run goes on --

def test_the_report_lists_every_rejection_and_the_run_proceeds(tmp_path, monkeypatch, policy):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data",
                                       str(HOSTILE / "records"), "--as-of", AS_OF, "--format", "json",
                                       "--output", str(out), "--quiet"])
    assert result.exit_code in (0, 1), result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    rejected = report["data"]["rejected"]
    assert len(rejected) == len(RECORDS_REJECTED)
    got = {(Path(r["file"]).name, r["record"], r["field"]) for r in rejected}
    assert got == set(RECORDS_REJECTED)
    assert all(r["message"] for r in rejected)
    assert report["data"]["records"] == {"projects": 3, "people": 1, "programs": 1}
    # The run went on: the good records were evaluated.
    subjects = {f["subject"] for f in report["findings"]}
    assert "P-026" in subjects
    assert report["summary"]["h.approved-budget"]["counts"] == {
        "pass": 1, "fail": 2, "error": 0, "waived": 0, "not_applicable": 0}


def test_the_text_report_counts_rejections_and_names_them(tmp_path, monkeypatch, policy):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data",
                                       str(HOSTILE / "records"), "--as-of", AS_OF, "--quiet"])
    assert result.exit_code in (0, 1)
    assert f"Rejected records ({len(RECORDS_REJECTED)}):" in result.output
    assert "projects.jsonl, record 7 (id P-007), field `budget.approved`: number 1E+400 is out of range" \
        in result.output


@pytest.mark.parametrize("folder", ["records", "crlf", "bom", "latin1", "csv", "yaml"])
def test_strict_turns_any_rejection_into_exit_2(tmp_path, monkeypatch, policy, folder):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data", str(HOSTILE / folder),
                                       "--as-of", AS_OF, "--strict", "--format", "json"])
    assert result.exit_code == 2, result.output
    assert "--strict" in result.output and "invalid data record" in result.output
    assert "Traceback" not in result.output


def test_strict_with_clean_data_is_not_an_error(tmp_path, monkeypatch, policy):
    monkeypatch.chdir(tmp_path)
    _write_jsonl(tmp_path / "d", [GOOD, GOOD2])
    result = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data", str(tmp_path / "d"),
                                       "--as-of", AS_OF, "--strict", "--quiet"])
    assert result.exit_code == 0, result.output


def test_unreadable_files_exit_2_naming_the_file(tmp_path, monkeypatch, policy):
    monkeypatch.chdir(tmp_path)
    for folder in ("empty-json", "number", "latin1-json"):
        result = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data",
                                           str(HOSTILE / folder), "--as-of", AS_OF])
        assert result.exit_code == 2, result.output
        assert f"{folder}/projects.json" in result.output and "Traceback" not in result.output


def test_the_limits_are_what_the_messages_say():
    assert load.MAX_DATA_DEPTH == 100 and load.NUMBER_EXPONENTS == (-28, 27)
