"""The plugin inside pmo-rules: registration, loading through the core, validation, an audit."""

from __future__ import annotations

import datetime as dt
import shutil
from importlib.metadata import entry_points
from pathlib import Path

import pmo_rules_jira
import pytest

from pmo_rules import api
from pmo_rules.load import load_paths

DATA = Path(__file__).resolve().parent / "data"
REAL_EXPORT = DATA / "ericmedlock__planeso-jira-migration__Jira.csv"  # see data/SOURCES.md
SYNTHETIC = DATA / "synthetic.jira.csv"

POLICY = '''package jira_checks

rule open-issues-owned {
    for issue in issues where issue.status == "open"
    require issue.owner is present
    message "{issue.id} has no owner"
}

rule active-projects-have-end {
    for project in projects where project.status == "active"
    require project.planned_end is present
}

rule open-risks-assessed {
    for risk in risks where risk.status == "open"
    require risk.probability is present and risk.impact is present
}

rule status-fresh {
    for project in projects where project.status == "active"
    require today - project.last_status_update <= 14d
}
'''


@pytest.fixture(scope="module")
def session() -> api.Session:
    """The built-in plugins (functions, metrics) plus this one, registered directly."""
    s = api.Session.create(entry_points="builtin", extra=(("jira", pmo_rules_jira),))
    assert s.problems == []
    return s


def as_jira(src: Path, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(src, folder / name))


def test_registers_one_source():
    s = api.Session.create(entry_points="none", extra=(("jira", pmo_rules_jira),))
    assert s.problems == []
    spec = s.registry.sources["jira"]
    assert spec.plugin == "jira" and spec.extensions == (".jira.csv", ".jira")
    assert spec.load is pmo_rules_jira.load
    assert s.registry.source_for(Path("export.jira")) is spec
    assert s.registry.source_for(Path("export.csv")) is None


def test_no_clash_with_the_builtin_sources(session):
    assert session.registry.source_for(Path("projects.csv")).name == "csv"
    assert session.registry.source_for(Path("export.jira")).name == "jira"


@pytest.mark.parametrize("src", [REAL_EXPORT, SYNTHETIC], ids=["real", "synthetic"])
def test_every_record_validates(session, tmp_path, src):
    path = as_jira(src, tmp_path, "export.jira")
    result = load_paths([path], session.registry)
    assert result.rejected == []
    assert result.files == [str(path)]
    assert result.records["projects"] == (1 if src == REAL_EXPORT else 5)


def test_a_folder_with_projects_jira(session, tmp_path):
    as_jira(SYNTHETIC, tmp_path, "projects.jira")
    result = load_paths([tmp_path], session.registry)
    assert result.rejected == [] and result.records["projects"] == 5
    risks = result.snapshot.collection("risks")
    assert sorted(r["id"] for r in risks) == ["OPS-2", "PAY-20", "PAY-21", "PAY-22"]
    assert {r["project"]["id"] for r in risks} == {"PAY-1", "PAY-3", "OPS"}


def test_jira_csv_extension(session, tmp_path):
    """`*.jira.csv` needs the core to match the longest suffix first (README, "File names")."""
    if session.registry.source_for(Path("x.jira.csv")) is not session.registry.sources["jira"]:
        pytest.skip("this pmo-rules picks a source by the last suffix only (`.csv`)")
    path = as_jira(SYNTHETIC, tmp_path, "export.jira.csv")
    result = load_paths([path], session.registry)
    assert result.rejected == [] and result.records["projects"] == 5
    as_jira(SYNTHETIC, tmp_path / "folder", "projects.jira.csv")
    assert load_paths([tmp_path / "folder"], session.registry).records["projects"] == 5


def test_bad_rows_and_dates_are_reported_not_dropped(session, tmp_path):
    path = tmp_path / "bad.jira"
    path.write_text("Issue key,Issue Type,Summary,Created\n,Task,no key,\nE-1,Epic,a,22/Okt/25 9:26 AM\n"
                    "E-2,Epic,b,22/Oct/25 9:26 AM\n", encoding="utf-8")
    result = load_paths([path], session.registry)
    assert [p["id"] for p in result.snapshot.projects] == ["E-2"]
    assert sorted(((r.id or ""), r.field) for r in result.rejected) == [("", ""), ("E-1", "start_date")]


def test_not_a_jira_file_is_a_data_error(session, tmp_path):
    from pmo_rules.errors import DataError

    path = tmp_path / "x.jira"
    path.write_text("id,name\nP-1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="cannot be read as jira: .*no `Issue key` column"):
        load_paths([path], session.registry)


def test_audit_of_the_real_export_has_findings(session, tmp_path):
    program, diags = api.check_text(POLICY, session)
    assert program is not None, diags.render()
    data = load_paths([as_jira(REAL_EXPORT, tmp_path, "export.jira")], session.registry)
    report = api.audit(program, data, dt.date(2025, 10, 1))
    fails = [f for f in report.findings if f.outcome == "fail"]
    by_rule = {}
    for f in fails:
        by_rule.setdefault(f.rule, []).append(f.subject)
    # 12 issues are not done; 9 of them have no assignee (counted from the file with `csv`)
    assert len(by_rule["jira_checks.open-issues-owned"]) == 9
    assert all(s.startswith("TES/TES-") for s in by_rule["jira_checks.open-issues-owned"])
    assert by_rule["jira_checks.active-projects-have-end"] == ["TES"]
    assert "jira_checks.status-fresh" not in by_rule          # updated 22 Sep, audited 1 Oct
    assert report.totals["error"] == 0


def test_audit_of_the_synthetic_export(session, tmp_path):
    program, diags = api.check_text(POLICY, session)
    assert program is not None, diags.render()
    data = load_paths([as_jira(SYNTHETIC, tmp_path, "export.jira")], session.registry)
    report = api.audit(program, data, dt.date(2025, 10, 1))
    fails = sorted((f.rule.split(".")[1], f.subject) for f in report.findings if f.outcome == "fail")
    assert fails == [
        ("active-projects-have-end", "OPS"),
        ("active-projects-have-end", "PAY"),
        ("open-issues-owned", "PAY-3/PAY-12"),
        ("open-risks-assessed", "PAY-3/PAY-22"),
        ("status-fresh", "OPS"),                           # last updated 15 Sep
        ("status-fresh", "PAY"),                           # last updated 11 Sep
    ]
    assert report.totals["error"] == 0


def _installed() -> bool:
    return any(ep.name == "jira" for ep in entry_points(group="pmo_rules"))


@pytest.mark.skipif(not _installed(), reason="pmo-rules-jira is not installed (entry point `jira`)")
def test_cli_with_the_installed_plugin(tmp_path):
    from click.testing import CliRunner

    from pmo_rules.cli import main

    r = CliRunner().invoke(main, ["plugins"])
    assert r.exit_code == 0 and "jira" in r.output
    policy = tmp_path / "jira.pmo"
    policy.write_text(POLICY, encoding="utf-8")
    data = as_jira(SYNTHETIC, tmp_path, "projects.jira")
    r = CliRunner().invoke(main, ["audit", "--policies", str(policy), "--data", str(data),
                                  "--as-of", "2025-10-01", "--format", "json"])
    assert r.exit_code == 1, r.output
    assert '"open-risks-assessed"' in r.output or "jira_checks.open-risks-assessed" in r.output


def test_readme_policy_checks_and_runs(session, tmp_path):
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    policy = re.search(r"```\n(package jira\n.*?)```", readme, re.S).group(1)
    program, diags = api.check_text(policy, session)
    assert program is not None, diags.render()
    data = load_paths([as_jira(SYNTHETIC, tmp_path, "export.jira")], session.registry)
    report = api.audit(program, data, dt.date(2025, 10, 1))
    assert report.totals["error"] == 0
    assert [(f.rule, f.subject) for f in report.findings] == [("jira.open-issues-owned", "PAY-3/PAY-12")]
