"""The Jira source plugin (plugins/pmo-rules-jira), registered directly into isolated sessions.

The root CI installs only pmo-rules (`pip install -e '.[test]'`), so the plugin is imported
from its source folder. Its own, fuller tests are in plugins/pmo-rules-jira/tests. The
real export used here is a public Jira Cloud file (Apache-2.0; origin and checksum in
plugins/pmo-rules-jira/tests/data/SOURCES.md), read-only fixture data.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "pmo-rules-jira"
if str(PLUGIN / "src") not in sys.path:
    sys.path.insert(0, str(PLUGIN / "src"))

import pmo_rules_jira  # noqa: E402

from pmo_rules import api  # noqa: E402
from pmo_rules.load import load_paths  # noqa: E402

DATA = PLUGIN / "tests" / "data"
REAL_EXPORT = DATA / "ericmedlock__planeso-jira-migration__Jira.csv"
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
'''


@pytest.fixture(scope="module")
def jira_session() -> api.Session:
    s = api.Session.create(entry_points="builtin", extra=(("jira", pmo_rules_jira),))
    assert s.problems == []
    return s


def copy_as(src: Path, folder: Path, name: str) -> Path:
    return Path(shutil.copyfile(src, folder / name))


def test_plugin_registers_the_jira_source():
    s = api.Session.create(entry_points="none", extra=(("jira", pmo_rules_jira),))
    assert s.problems == []
    assert list(s.registry.sources) == ["jira"]
    spec = s.registry.sources["jira"]
    assert ".jira.csv" in spec.extensions and spec.plugin == "jira"


def test_real_export_repeated_columns_and_multiline_cells():
    export = pmo_rules_jira.read_export(REAL_EXPORT)
    assert (len(export.rows), len(export.headers)) == (22, 56)
    assert export.repeated() == {"Watchers": 3, "Watchers Id": 3, "Comment": 3}
    assert max(len(r.all("Watchers")) for r in export.rows) == 3
    assert sum(len(r.all("Comment")) for r in export.rows) == 17
    assert sum("\n" in c for r in export.rows for c in r.all("Comment")) == 4


def test_real_export_dates_and_records():
    (project,) = pmo_rules_jira.load(REAL_EXPORT)["projects"]
    assert project["id"] == "TES"
    assert project["start_date"] == dt.date(2025, 8, 20)
    assert project["last_status_update"] == dt.date(2025, 9, 22)
    assert len(project["issues"]) == 22
    assert sorted(i["due"] for i in project["issues"] if "due" in i) == [dt.date(2025, 9, 17), dt.date(2025, 9, 18)]
    assert all(isinstance(i["opened"], dt.date) for i in project["issues"])


@pytest.mark.parametrize(("src", "projects"), [(REAL_EXPORT, 1), (SYNTHETIC, 5)], ids=["real", "synthetic"])
def test_loads_through_the_core_without_rejections(jira_session, tmp_path, src, projects):
    path = copy_as(src, tmp_path, "projects.jira")
    for target in (path, tmp_path):  # the file, and a --data folder holding it
        result = load_paths([target], jira_session.registry)
        assert result.rejected == []
        assert result.records["projects"] == projects


def test_synthetic_epics_risks_and_children(jira_session, tmp_path):
    result = load_paths([copy_as(SYNTHETIC, tmp_path, "x.jira")], jira_session.registry)
    projects = {p["id"]: p for p in result.snapshot.projects}
    assert list(projects) == ["PAY-1", "PAY-2", "PAY-3", "PAY", "OPS"]
    assert [projects[k]["status"] for k in projects] == ["active", "cancelled", "proposed", "active", "active"]
    epic = projects["PAY-1"]
    assert epic["planned_end"] == dt.date(2025, 6, 30) and epic["tags"] == ["customer-facing", "q3"]
    assert epic["custom"]["Story Points"] == Decimal("40")
    assert [i["id"] for i in epic["issues"]] == ["PAY-10", "PAY-11"]  # by Parent id, sub-task via its story
    assert [i["id"] for i in projects["PAY-3"]["issues"]] == ["PAY-12"]  # by Epic Link
    risk = epic["risks"][0]
    assert (risk["id"], risk["status"], risk["probability"], risk["impact"]) == (
        "PAY-20", "open", Decimal("0.4"), Decimal("120000"))
    assert [r["id"] for r in epic["risks"]] == ["PAY-20", "PAY-21"]  # PAY-21: a task labelled risk
    assert [r["id"] for r in projects["OPS"]["risks"]] == ["OPS-2"]


def test_audit_of_the_real_export_produces_findings(jira_session, tmp_path):
    program, diags = api.check_text(POLICY, jira_session)
    assert program is not None, diags.render()
    data = load_paths([copy_as(REAL_EXPORT, tmp_path, "export.jira")], jira_session.registry)
    report = api.audit(program, data, dt.date(2025, 10, 1))
    fails = [f for f in report.findings if f.outcome == "fail"]
    assert len([f for f in fails if f.rule == "jira_checks.open-issues-owned"]) == 9
    assert [f.subject for f in fails if f.rule == "jira_checks.active-projects-have-end"] == ["TES"]
    assert report.totals["error"] == 0


def test_jira_csv_suffix_when_the_core_supports_it(jira_session, tmp_path):
    if jira_session.registry.source_for(Path("x.jira.csv")) is not jira_session.registry.sources["jira"]:
        pytest.skip("the core picks a source by the last suffix only; `.jira.csv` goes to the csv source")
    result = load_paths([copy_as(SYNTHETIC, tmp_path, "projects.jira.csv")], jira_session.registry)
    assert result.rejected == [] and result.records["projects"] == 5
    assert load_paths([tmp_path], jira_session.registry).records["projects"] == 5
