"""Issues -> projects, risks and issues (README "How issues map")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pmo_rules_jira
import pytest
from pmo_rules_jira.mapping import amount_of, probability_of

from pmo_rules.registry import BadRecord

DATA = Path(__file__).resolve().parent / "data"
REAL_EXPORT = DATA / "ericmedlock__planeso-jira-migration__Jira.csv"  # see data/SOURCES.md
SYNTHETIC = DATA / "synthetic.jira.csv"
D = dt.date


@pytest.fixture(scope="module")
def projects() -> dict[str, dict]:
    out = pmo_rules_jira.load(SYNTHETIC)
    assert list(out) == ["projects"]
    return {p["id"]: p for p in out["projects"]}


def ids(items):
    return [i["id"] for i in items]


def test_epics_then_project_keys(projects):
    assert list(projects) == ["PAY-1", "PAY-2", "PAY-3", "PAY", "OPS"]


def test_epic_becomes_a_project(projects):
    p = projects["PAY-1"]
    assert p["name"] == "Checkout redesign"
    assert p["status"] == "active"
    assert p["manager"] == "Ben Okafor"                     # the epic's assignee
    assert p["start_date"] == D(2025, 1, 10)                # Created, `yyyy-MM-dd HH:mm`
    assert p["planned_end"] == D(2025, 6, 30)               # Due date, `dd/MMM/yy h:mm a`
    assert p["last_status_update"] == D(2025, 9, 22)        # Updated, date part
    assert p["tags"] == ["customer-facing", "q3"]           # Labels x3, empty ones absent
    assert p["priority"] == 2                               # High
    assert p["type"] == "software"
    assert p["custom"] == {"Story Points": Decimal("40"), "Start date": D(2025, 1, 15),
                           "Components tag": ["web", "mobile"]}
    assert p["description"].count("\n") == 2
    assert p["jira"]["status"] == "In Progress" and p["jira"]["issue_type"] == "Epic"


def test_epic_status_mapping(projects):
    assert projects["PAY-2"]["status"] == "cancelled"      # Done, resolution Won't Do
    assert projects["PAY-3"]["status"] == "proposed"       # To Do
    assert projects["PAY-2"]["manager"] == "Ana Rivera"     # no assignee: the project lead
    assert "planned_end" not in projects["PAY-3"]           # no due date: absent, not empty


def test_children_follow_parents_up_to_their_epic(projects):
    # PAY-10 by Parent id (an issue id); PAY-11 is a sub-task of PAY-10; PAY-12 by Epic Link (a key)
    assert ids(projects["PAY-1"]["issues"]) == ["PAY-10", "PAY-11"]
    assert ids(projects["PAY-3"]["issues"]) == ["PAY-12"]
    assert "issues" not in projects["PAY-2"]


def test_issue_records(projects):
    story, subtask = projects["PAY-1"]["issues"]
    assert story == {
        "id": "PAY-10", "title": "Cart page", "priority": "highest", "status": "open", "owner": "Ben Okafor",
        "opened": D(2025, 1, 20), "due": D(2025, 10, 15), "tags": ["ui"], "custom": {"Story Points": Decimal("5")},
        "jira": {"key": "PAY-10", "issue_type": "Story", "project_key": "PAY", "status": "In Review",
                 "status_category": "In Progress", "priority": "Highest", "reporter": "Ana Rivera",
                 "parent": "20001", "sprints": ["PAY Sprint 4", "PAY Sprint 5"]},
    }
    assert subtask["status"] == "closed"
    assert subtask["custom"] == {"Story Points": Decimal("1.5")}
    assert subtask["jira"]["resolved"] == D(2025, 1, 25)
    assert "due" not in subtask


def test_risks(projects):
    r20, r21 = projects["PAY-1"]["risks"]
    assert r20["id"] == "PAY-20" and r20["title"] == "Payment provider API changes before launch"
    assert (r20["status"], r20["owner"]) == ("open", "Ben Okafor")
    assert r20["probability"] == Decimal("0.4") and r20["impact"] == Decimal("120000")
    assert r20["mitigation"] == "Pin the API version; dual-run for a sprint"
    # a Task labelled `Risk` is a risk too; resolved -> closed; 30% and 50k are read
    assert (r21["id"], r21["status"], r21["probability"], r21["impact"]) == (
        "PAY-21", "closed", Decimal("0.3"), Decimal("50000"))
    assert "owner" not in r21
    # qualitative values are not numbers: null, the text stays in `custom`
    (r22,) = projects["PAY-3"]["risks"]
    assert "probability" not in r22 and "impact" not in r22
    assert r22["custom"] == {"Probability": "High", "Impact": "Severe"}


def test_issues_under_no_epic_go_to_their_jira_project(projects):
    pay = projects["PAY"]
    assert pay["name"] == "Payments Platform" and pay["manager"] == "Ana Rivera"
    assert ids(pay["issues"]) == ["PAY-30"] and "risks" not in pay
    assert pay["status"] == "active"
    ops = projects["OPS"]
    assert ids(ops["issues"]) == ["OPS-1"] and ids(ops["risks"]) == ["OPS-2"]
    assert (ops["start_date"], ops["last_status_update"]) == (D(2025, 5, 5), D(2025, 9, 15))
    assert ops["type"] == "business"


def test_real_export_without_epics_is_one_project_per_key():
    (project,) = pmo_rules_jira.load(REAL_EXPORT)["projects"]
    assert project["id"] == "TES"
    assert project["status"] == "active"
    assert project["start_date"] == D(2025, 8, 20)
    assert project["last_status_update"] == D(2025, 9, 22)
    assert len(project["issues"]) == 22 and "risks" not in project
    issues = {i["id"]: i for i in project["issues"]}
    assert sum(i["status"] == "closed" for i in issues.values()) == 10
    assert sorted(i["due"] for i in issues.values() if "due" in i) == [D(2025, 9, 17), D(2025, 9, 18)]
    assert all(i["priority"] == "medium" for i in issues.values())
    assert all(isinstance(i["opened"], dt.date) for i in issues.values())
    assert sum("owner" in i for i in issues.values()) == 11
    assert sum(len(i["jira"].get("sprints", [])) for i in issues.values()) == 18


HEAD = "Issue key,Issue id,Issue Type,Summary,Status,Resolution,Parent id,Labels,Created\n"


def test_without_status_category_the_status_name_decides():
    out = pmo_rules_jira.loads(HEAD + "\n".join([
        "E-1,1,Epic,a,Backlog,,,,", "E-2,2,Epic,b,Closed,Fixed,,,", "E-3,3,Epic,c,In Review,,,,",
        "E-4,4,Epic,d,On Hold,,,,", "E-5,5,Epic,e,Weird,Done,,,", "E-6,6,Epic,f,,,,,",
    ]))
    assert [p.get("status") for p in out["projects"]] == [
        "proposed", "completed", "active", "on_hold", "completed", None]


def test_rows_that_cannot_be_placed_are_bad_records():
    out = pmo_rules_jira.loads(HEAD + ",9,Task,no key,To Do,,,,\nA-1,1,Task,x,To Do,,,,\nA-1,2,Task,again,To Do,,,,\n",
                               "x.jira.csv")
    first, *bad = out["projects"]
    assert first["id"] == "A" and ids(first["issues"]) == ["A-1"]
    assert all(isinstance(b, BadRecord) for b in bad)
    assert [b.message for b in bad] == [
        "x.jira.csv row 1: the `Issue key` cell is empty; this issue was not loaded",
        "x.jira.csv row 3: issue `A-1` repeats row 2; this row was not loaded",
    ]


def test_parent_cycles_and_unknown_parents_fall_back_to_the_project_key():
    out = pmo_rules_jira.loads(HEAD + "A-1,1,Story,x,To Do,,2,,\nA-2,2,Story,y,To Do,,1,,\n"
                               "A-3,3,Story,z,To Do,,999,,\nA-4,4,Epic,e,To Do,,,,\n")
    assert [(p["id"], ids(p.get("issues", []))) for p in out["projects"]] == [
        ("A-4", []), ("A", ["A-1", "A-2", "A-3"])]


def test_unreadable_date_is_passed_on_for_validation():
    (p,) = pmo_rules_jira.loads(HEAD + "E-1,1,Epic,a,To Do,,,,22/Okt/25 9:26 AM\n")["projects"]
    assert p["start_date"] == "22/Okt/25 9:26 AM"


@pytest.mark.parametrize(("text", "value"), [
    ("0.25", Decimal("0.25")), ("25%", Decimal("0.25")), (" 100 % ", Decimal("1")), ("0", Decimal("0")),
    ("1", Decimal("1")), ("3", None), ("High", None), ("-0.1", None), ("NaN", None), ("", None), (None, None),
])
def test_probability_of(text, value):
    assert probability_of(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("120000", Decimal("120000")), ("$120,000", Decimal("120000")), ("€ 1,250.50", Decimal("1250.50")),
    ("50k", Decimal("50000")), ("EUR 1.5M", Decimal("1500000")), ("1.5M EUR", Decimal("1500000")),
    ("Severe", None), ("12,34", None), ("", None), (None, None),
])
def test_amount_of(text, value):
    assert amount_of(text) == value
