"""The `pmo-rules` command line (SPEC 5): audit, check, schema; exit codes; golden errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules.cli import main

GOLDEN = Path(__file__).resolve().parent / "golden" / "errors"
GOLDEN_FILES = sorted(GOLDEN.glob("*.pmo"))
RAW_TOKEN = re.compile(
    r"\b(RBRACE|LBRACE|LPAR|RPAR|LBRACKET|RBRACKET|NAME|RULE_ID|QUALIFIED_ID|NUMERIC|STRING|COMP_OP|"
    r"COALESCE|COMMA|COLON|DOT|EQ|PLUS|MINUS|STAR|SLASH|_NL|__ANON_\d+)\b|\$END|Token\(|Tree\("
)
REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None, monkeypatch=None):
    if cwd is not None:
        assert monkeypatch is not None
        monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    # A crash inside the command must never surface as a Python exception or traceback.
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert "Traceback" not in result.output
    return result


def pmo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("pmo-rules")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "pmo_rules", *args]
    env = {k: v for k, v in os.environ.items() if k not in ("CI",)}
    env["NO_COLOR"] = "1"
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


# ---------------------------------------------------------------- workspace --

POLICY = """package t
param cap = 100
param stale_after = 14d
param start = 2026-01-01
param label = "x"
rule within-cap {
    enforcement ENF
    for project in projects where project.status == "active"
    let total = project.budget.approved
    require total <= cap else "{project.id}: {total} over {cap}"
}
"""


def workspace(tmp_path: Path, projects: list, policy: str = POLICY, enforcement: str = "soft",
              extra: dict | None = None) -> Path:
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "t.pmo").write_text(policy.replace("ENF", enforcement), encoding="utf-8")
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "projects.json").write_text(json.dumps(projects), encoding="utf-8")
    for name, records in (extra or {}).items():
        (tmp_path / "data" / f"{name}.json").write_text(json.dumps(records), encoding="utf-8")
    return tmp_path


def active(pid: str, approved) -> dict:
    return {"id": pid, "status": "active", "budget": {"approved": approved}}


def audit(tmp_path, monkeypatch, *extra: str):
    return cli("audit", "--policies", "policies", "--data", "data", "--as-of", "2026-11-26", *extra,
               cwd=tmp_path, monkeypatch=monkeypatch)


def audit_json(tmp_path, monkeypatch, *extra: str) -> tuple[int, dict]:
    r = audit(tmp_path, monkeypatch, "--format", "json", *extra)
    return r.exit_code, json.loads(r.stdout)


# ---------------------------------------------------------------- defaults --


def test_audit_with_no_arguments_uses_the_bundled_sample(tmp_path):
    r = pmo("audit", "--as-of", "2026-11-26", cwd=tmp_path)
    assert "Traceback" not in r.stderr + r.stdout
    assert r.returncode in (0, 1), r.stderr
    assert r.stdout.strip()


def test_audit_with_no_arguments_json(tmp_path, monkeypatch):
    r = cli("audit", "--as-of", "2026-11-26", "--format", "json", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code in (0, 1), r.stderr
    data = json.loads(r.stdout)
    assert data["summary"], "the bundled library has rules"
    assert data["as_of"] == "2026-11-26"


def test_check_with_no_arguments_checks_the_bundled_library(tmp_path, monkeypatch):
    r = cli("check", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0, r.stderr
    assert "ok" in r.stdout


# --------------------------------------------------------------------- audit --


def test_json_report_shape(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150), active("P2", 50)])
    code, data = audit_json(tmp_path, monkeypatch)
    assert code == 1
    for key in ("version", "as_of", "summary", "findings", "waivers"):
        assert key in data
    assert data["as_of"] == "2026-11-26"
    assert data["summary"]["t.within-cap"]["counts"]["fail"] == 1
    assert data["summary"]["t.within-cap"]["counts"]["pass"] == 1
    (f,) = data["findings"]  # passes are left out by default
    assert f["rule"] == "t.within-cap" and f["subject"] == "P1" and f["outcome"] == "fail"
    assert f["severity"] == "medium" and f["enforcement"] == "soft"
    assert f["message"] == "P1: 150 over 100"
    ev = {e["expr"]: e["value"] for e in f["evidence"]}
    assert ev["total"] == 150 and ev["cap"] == 100


def test_include_passes(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150), active("P2", 50)])
    _, data = audit_json(tmp_path, monkeypatch, "--include-passes")
    assert sorted((f["subject"], f["outcome"]) for f in data["findings"]) == [("P1", "fail"), ("P2", "pass")]


def test_json_numbers_are_exact(tmp_path, monkeypatch):
    policy = POLICY.replace("let total = project.budget.approved", "let total = project.budget.approved + 0.2")
    workspace(tmp_path, [active("P1", 0.1)], policy=policy.replace("param cap = 100", "param cap = 0.29"))
    r = audit(tmp_path, monkeypatch, "--format", "json")
    assert r.exit_code == 1
    assert re.search(r'"value":\s*0\.3\b', r.stdout), r.stdout
    assert "0.30000000000000004" not in r.stdout


def test_as_of_is_respected(tmp_path, monkeypatch):
    policy = """package t
rule fresh {
    for project in projects
    require today - project.last_status_update <= 14d else "{today - project.last_status_update} old"
}
"""
    workspace(tmp_path, [{"id": "P1", "last_status_update": "2026-11-01"}], policy=policy)
    r = cli("audit", "--policies", "policies", "--data", "data", "--as-of", "2026-11-10", "--format", "json",
            cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0
    assert json.loads(r.stdout)["as_of"] == "2026-11-10"
    r = cli("audit", "--policies", "policies", "--data", "data", "--as-of", "2026-11-26", "--format", "json",
            cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 1
    assert json.loads(r.stdout)["findings"][0]["message"] == "25d old"


def test_bad_as_of_is_a_usage_error(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)])
    r = cli("audit", "--policies", "policies", "--data", "data", "--as-of", "2026-02-30",
            cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "2026-02-30" in r.stderr


# ---------------------------------------------------------------- exit codes --


def test_exit_0_when_everything_passes(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 50)])
    assert audit(tmp_path, monkeypatch).exit_code == 0


@pytest.mark.parametrize("enforcement, code", [("soft", 1), ("hard", 1), ("advisory", 0)])
def test_exit_code_by_enforcement(tmp_path, monkeypatch, enforcement, code):
    workspace(tmp_path, [active("P1", 150)], enforcement=enforcement)
    assert audit(tmp_path, monkeypatch).exit_code == code


def test_exit_0_when_the_only_failure_is_waived(tmp_path, monkeypatch):
    policy = POLICY + ('waiver W-1 {\n    rule t.within-cap\n    subjects "P1"\n    reason "ok"\n'
                       '    approved_by "CFO"\n    expires 2027-01-31\n}\n')
    workspace(tmp_path, [active("P1", 150)], policy=policy)
    code, data = audit_json(tmp_path, monkeypatch)
    assert code == 0
    (f,) = data["findings"]
    assert f["outcome"] == "waived"
    assert f["waiver"]["id"] == "W-1" and f["waiver"]["approved_by"] == "CFO"
    assert data["waivers"][0]["status"] == "active"


def test_exit_1_when_the_waiver_has_expired(tmp_path, monkeypatch):
    policy = POLICY + ('waiver W-1 {\n    rule t.within-cap\n    subjects "P1"\n    reason "ok"\n'
                       '    approved_by "CFO"\n    expires 2026-11-01\n}\n')
    workspace(tmp_path, [active("P1", 150)], policy=policy)
    assert audit(tmp_path, monkeypatch).exit_code == 1


def test_exit_3_on_evaluation_errors(tmp_path, monkeypatch):
    workspace(tmp_path, [{"id": "P1", "status": "active"}])
    code, data = audit_json(tmp_path, monkeypatch)
    assert code == 3
    (f,) = data["findings"]
    assert f["outcome"] == "error"
    assert "`total`" in f["message"]  # the null operand (a `let` holding project.budget.approved)
    assert "policies/t.pmo:" in f["message"] + (f.get("location") or "")


def test_exit_2_on_invalid_policies_with_location(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)], policy=POLICY.replace("total <= cap", "total <= cpa"))
    r = audit(tmp_path, monkeypatch)
    assert r.exit_code == 2
    assert re.search(r"policies/t\.pmo:10:\d+: error", r.stderr), r.stderr
    assert "cap" in r.stderr


def test_exit_2_on_unknown_format(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)])
    assert audit(tmp_path, monkeypatch, "--format", "nope").exit_code == 2


def test_exit_2_on_missing_policy_path(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)])
    r = cli("audit", "--policies", "nowhere", "--data", "data", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "nowhere" in r.stderr


# -------------------------------------------------------------------- params --


def test_param_override_changes_the_outcome(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150)])
    assert audit(tmp_path, monkeypatch).exit_code == 1
    assert audit(tmp_path, monkeypatch, "--param", "t.cap=200").exit_code == 0
    assert audit(tmp_path, monkeypatch, "--param", "t.cap=250k").exit_code == 0
    assert audit(tmp_path, monkeypatch, "--param", "t.cap=149.99").exit_code == 1


def test_param_override_is_reported(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150)])
    _, data = audit_json(tmp_path, monkeypatch, "--param", "t.cap=120.5")
    f = data["findings"][0]
    assert f["message"] == "P1: 150 over 120.5"


@pytest.mark.parametrize("override, type_name", [
    ("t.cap=abc", "number"),
    ("t.cap=14d", "number"),
    ("t.stale_after=5", "duration"),
    ("t.stale_after=2026-01-01", "duration"),
    ("t.start=14d", "date"),
    ("t.start=2026-02-30", "date"),
])
def test_param_of_the_wrong_type_exits_2_naming_the_type(tmp_path, monkeypatch, override, type_name):
    workspace(tmp_path, [active("P1", 1)])
    r = audit(tmp_path, monkeypatch, "--param", override)
    assert r.exit_code == 2
    assert type_name in r.stderr
    assert override.split("=")[0] in r.stderr


def test_unknown_param_exits_2(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)])
    r = audit(tmp_path, monkeypatch, "--param", "t.capp=3")
    assert r.exit_code == 2
    assert "t.cap" in r.stderr


def test_param_without_package_exits_2(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 1)])
    assert audit(tmp_path, monkeypatch, "--param", "cap=3").exit_code == 2


# ---------------------------------------------------------------------- data --

MIXED = [active("P1", 150), {"id": "P2", "status": "bogus", "budget": {"approved": 500}},
         active("P3", 50), {"id": "P4", "status": "active", "budget": {"approved": "lots"}}]


def test_invalid_records_are_reported_and_kept_out(tmp_path, monkeypatch):
    workspace(tmp_path, MIXED)
    code, data = audit_json(tmp_path, monkeypatch, "--include-passes")
    rejected = data["data"]["rejected"]
    assert [(r["record"], r["field"]) for r in rejected] == [(2, "status"), (4, "budget.approved")]
    assert all(r["file"].endswith("projects.json") for r in rejected)
    subjects = {f["subject"] for f in data["findings"]}
    assert subjects == {"P1", "P3"}
    assert sum(data["summary"]["t.within-cap"]["counts"].values()) == 2
    assert code == 1


def test_invalid_records_are_named_in_the_text_report(tmp_path, monkeypatch):
    workspace(tmp_path, MIXED)
    r = audit(tmp_path, monkeypatch)
    text = r.stdout + r.stderr
    assert "projects.json" in text
    assert re.search(r"record 2\b", text)
    assert "status" in text


def test_strict_with_an_invalid_record_exits_2(tmp_path, monkeypatch):
    workspace(tmp_path, MIXED)
    r = audit(tmp_path, monkeypatch, "--strict")
    assert r.exit_code == 2
    assert "projects.json" in r.stderr and "record 2" in r.stderr


def test_strict_with_valid_data_runs_normally(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 50)])
    assert audit(tmp_path, monkeypatch, "--strict").exit_code == 0


def test_data_folder_with_people_and_programs(tmp_path, monkeypatch):
    policy = "package t\nrule cap {\n    for program in programs\n" \
             "    require sum(p.budget.approved for p in projects where p.program == program.id) <= program.budget_cap\n}\n"
    workspace(tmp_path, [{"id": "P1", "program": "PG", "budget": {"approved": 0.1}},
                         {"id": "P2", "program": "PG", "budget": {"approved": 0.2}}],
              policy=policy, extra={"programs": [{"id": "PG", "budget_cap": 0.3}], "people": []})
    assert audit(tmp_path, monkeypatch).exit_code == 0


# --------------------------------------------------------------------- check --


def test_check_broken_file_prints_location_and_exits_2(tmp_path, monkeypatch):
    (tmp_path / "broken.pmo").write_text("package t\nrule r {\n    for project in projects\n"
                                         "    require project.budget.approved > 10x\n}\n")
    r = cli("check", "broken.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "broken.pmo:4:39: error" in r.stderr
    assert "^^^" in r.stderr


def test_check_broken_file_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "broken.pmo").write_text("package t\nrule r {\n    for project in projects\n    require (\n}\n")
    r = pmo("check", "broken.pmo", cwd=tmp_path)
    assert r.returncode == 2
    assert re.search(r"broken\.pmo:\d+:\d+: error", r.stderr)
    assert "Traceback" not in r.stderr + r.stdout


def test_check_good_file(tmp_path, monkeypatch):
    workspace(tmp_path, [])
    r = cli("check", "policies/t.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0
    assert r.stderr == ""
    assert "1 rule" in r.stdout


def test_check_bad_regex_prints_only_our_diagnostic(tmp_path):
    (tmp_path / "rx.pmo").write_text('package t\nrule r {\n    for project in projects\n'
                                     '    require project.id matches "("\n}\n')
    r = pmo("check", "rx.pmo", cwd=tmp_path)
    assert r.returncode == 2
    assert "rx.pmo:4:32: error" in r.stderr
    # No C++ library log lines (absl / re2.cc) may leak into what an author reads.
    assert "re2.cc" not in r.stderr and "absl" not in r.stderr, r.stderr


def test_check_file_with_bom_and_crlf(tmp_path, monkeypatch):
    text = POLICY.replace("ENF", "soft").replace("\n", "\r\n")
    (tmp_path / "bom.pmo").write_bytes(b"\xef\xbb\xbf" + text.encode())
    r = cli("check", "bom.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 0, r.stderr


def test_check_invalid_utf8_reports_position(tmp_path, monkeypatch):
    (tmp_path / "bad.pmo").write_bytes(b"package t\nparam x = \"caf\xe9\"\n")
    r = cli("check", "bad.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "bad.pmo:2:15: error" in r.stderr


def test_check_nul_reports_position(tmp_path, monkeypatch):
    (tmp_path / "nul.pmo").write_bytes(b"package t\n\nparam x\x00 = 1\n")
    r = cli("check", "nul.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "nul.pmo:3:8: error" in r.stderr


def test_check_reports_errors_from_every_file(tmp_path, monkeypatch):
    (tmp_path / "a.pmo").write_text("package a\nrule r {\n    for project in projcts\n    require true\n}\n")
    (tmp_path / "b.pmo").write_text("package b\nrule r {\n    for project in projects\n    require x = 1\n}\n")
    r = cli("check", "a.pmo", "b.pmo", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 2
    assert "a.pmo:3:20: error" in r.stderr
    assert "b.pmo:4:15: error" in r.stderr


# -------------------------------------------------------------------- schema --


def test_schema_prints_json_schema_with_projects():
    r = CliRunner().invoke(main, ["schema"])
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    assert "projects" in schema["properties"]
    assert "people" in schema["properties"] and "programs" in schema["properties"]
    assert "$schema" in schema


def test_version_option():
    r = CliRunner().invoke(main, ["--version"])
    assert r.exit_code == 0
    assert "pmo-rules" in r.stdout


# -------------------------------------------------------------------- golden --


def test_there_are_enough_golden_error_files():
    assert len(GOLDEN_FILES) >= 12


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden_error_output(path, monkeypatch, update_golden):
    r = cli("check", path.name, cwd=GOLDEN, monkeypatch=monkeypatch)
    assert r.exit_code == 2, f"{path.name} should not check cleanly"
    expected_path = path.with_suffix(".err")
    if update_golden:
        expected_path.write_text(r.stderr, encoding="utf-8")
    assert expected_path.exists(), f"missing {expected_path.name}; run pytest --update-golden"
    assert r.stderr == expected_path.read_text(encoding="utf-8")
    assert r.stdout == ""


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden_messages_are_for_people(path):
    expected = path.with_suffix(".err")
    if not expected.exists():
        pytest.skip("no .err yet")
    text = expected.read_text(encoding="utf-8")
    assert not RAW_TOKEN.search(text), text
    first = text.splitlines()[0]
    assert re.match(rf"{re.escape(path.name)}:\d+:\d+: error\[[a-z-]+\]: ", first), first
    assert "^" in text
    assert "error(s) found" in text.splitlines()[-1]


# -------------------------------------------------------------- more options --


def test_output_file(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150)])
    r = audit(tmp_path, monkeypatch, "--format", "json", "--output", "report.json")
    assert r.exit_code == 1
    data = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert data["findings"][0]["subject"] == "P1"


def test_repeatable_policies_and_data(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 150)])
    (tmp_path / "more.pmo").write_text("package u\nrule named {\n    for project in projects\n"
                                       "    require project.name is present\n}\n")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "people.json").write_text(json.dumps([{"id": "U1"}]))
    r = cli("audit", "--policies", "policies", "--policies", "more.pmo", "--data", "data", "--data", "more",
            "--as-of", "2026-11-26", "--format", "json", cwd=tmp_path, monkeypatch=monkeypatch)
    data = json.loads(r.stdout)
    assert set(data["summary"]) == {"t.within-cap", "u.named"}
    assert data["data"]["records"]["people"] == 1


def test_one_data_file_holding_all_collections(tmp_path, monkeypatch):
    workspace(tmp_path, [])
    (tmp_path / "portfolio.json").write_text(json.dumps({
        "projects": [active("P1", 150)], "people": [{"id": "U1"}], "programs": [{"id": "PG"}]}))
    r = cli("audit", "--policies", "policies", "--data", "portfolio.json", "--as-of", "2026-11-26",
            "--format", "json", cwd=tmp_path, monkeypatch=monkeypatch)
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["data"]["records"] == {"projects": 1, "people": 1, "programs": 1}


def test_duplicate_ids_are_rejected_not_silently_merged(tmp_path, monkeypatch):
    workspace(tmp_path, [active("P1", 50), active("P1", 150)])
    _, data = audit_json(tmp_path, monkeypatch, "--include-passes")
    assert [r["record"] for r in data["data"]["rejected"]] == [2]
    assert [f["outcome"] for f in data["findings"]] == ["pass"]


def test_invalid_regex_given_as_a_param_override_exits_2(tmp_path, monkeypatch):
    policy = 'package t\nparam pat = "^P"\nrule r {\n    for project in projects\n    require project.id matches pat\n}\n'
    workspace(tmp_path, [active("P1", 1)], policy=policy)
    r = audit(tmp_path, monkeypatch, "--param", "t.pat=(")
    assert r.exit_code == 2
    assert "regular expression" in r.stderr
