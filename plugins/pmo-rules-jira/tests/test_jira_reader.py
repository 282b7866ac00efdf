"""Reading Jira CSV exports: repeated headers gathered, empty cells absent, quoted cells intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from pmo_rules_jira.reader import custom_field_name, parse_export, read_export

DATA = Path(__file__).resolve().parent / "data"
REAL_EXPORT = DATA / "ericmedlock__planeso-jira-migration__Jira.csv"  # see data/SOURCES.md
SYNTHETIC = DATA / "synthetic.jira.csv"


def test_real_export_shape():
    export = read_export(REAL_EXPORT)
    assert len(export.rows) == 22
    assert len(export.headers) == 56
    assert export.repeated() == {"Watchers": 3, "Watchers Id": 3, "Comment": 3}
    assert "Custom field (Story Points)" in export.names
    assert export.custom_fields()[:3] == ["Development", "Issue color", "Rank"]
    keys = [row.get("Issue key") for row in export.rows]
    assert len(set(keys)) == 22 and all(k.startswith("TES-") for k in keys)


def test_real_export_repeated_columns_are_gathered_in_column_order():
    export = read_export(REAL_EXPORT)
    watchers = [len(row.all("Watchers")) for row in export.rows]
    comments = [len(row.all("Comment")) for row in export.rows]
    # Every issue has a first watcher; 8 a second, 3 a third (counted from the file).
    assert all(n >= 1 for n in watchers)
    assert sum(n >= 2 for n in watchers) == 8
    assert sum(n == 3 for n in watchers) == 3
    assert sum(n >= 1 for n in comments) == 9 and sum(n == 3 for n in comments) == 3
    for row in export.rows:
        assert len(row.all("Watchers Id")) == len(row.all("Watchers"))
        assert row.get("Watchers") == row.all("Watchers")[0]


def test_real_export_empty_cells_are_absent():
    export = read_export(REAL_EXPORT)
    assert all(row.get("Description") is None for row in export.rows)
    assert all(row.all("Custom field (Team)") == [] for row in export.rows)
    assert sum(row.get("Due date") is not None for row in export.rows) == 2
    assert sum(row.get("Assignee") is not None for row in export.rows) == 11


def test_real_export_multiline_cells_are_intact():
    export = read_export(REAL_EXPORT)
    multi = [(row.get("Issue key"), c) for row in export.rows for c in row.all("Comment") if "\n" in c]
    assert len(multi) == 4
    assert sorted(k for k, _ in multi) == ["TES-11", "TES-4", "TES-8", "TES-9"]
    for _, comment in multi:
        # Comments are packed as `date;author account id;text`; the text keeps its lines.
        when, _, rest = comment.partition(";")
        assert when.endswith(("AM", "PM"))
        assert rest.count(";") >= 1
    # the rows after a multi-line cell still line up with the header
    assert all(row.get("Status Category") in ("To Do", "In Progress", "Done") for row in export.rows)


def test_synthetic_repeated_custom_and_labels():
    export = read_export(SYNTHETIC)
    epic = next(r for r in export.rows if r.get("Issue key") == "PAY-1")
    assert epic.all("Labels") == ["customer-facing", "q3"]
    assert epic.all("Custom field (Components tag)") == ["web", "mobile"]
    assert epic.get("Description") == 'Rebuild the checkout.\nPhase 1: cart, "quick pay"\nPhase 2: wallets'
    story = next(r for r in export.rows if r.get("Issue key") == "PAY-10")
    assert story.all("Sprint") == ["PAY Sprint 4", "PAY Sprint 5"]


def test_header_lookup_ignores_case_and_spaces():
    export = parse_export("Issue Key , summary\nA-1,  Hello  \n")
    assert export.rows[0].get("issue key") == "A-1"
    assert export.rows[0].get("Summary") == "Hello"


def test_byte_order_mark_crlf_and_semicolons():
    export = parse_export("\ufeffIssue key;Summary;Labels;Labels\r\nA-1;x;a;\r\n\r\nA-2;y;;b\r\n")
    assert [r.get("Issue key") for r in export.rows] == ["A-1", "A-2"]
    assert [r.all("Labels") for r in export.rows] == [["a"], ["b"]]
    assert [r.rowno for r in export.rows] == [1, 3]


def test_not_a_jira_export():
    with pytest.raises(ValueError, match="no `Issue key` column"):
        parse_export("id,name\nP-1,x\n", "projects.jira.csv")
    with pytest.raises(ValueError, match="empty"):
        parse_export("\n\n", "x.jira.csv")


def test_broken_quoting_names_the_line():
    with pytest.raises(ValueError, match="x.jira.csv line"):
        parse_export('Issue key,Summary\nA-1,"unterminated\n', "x.jira.csv")


def test_extra_cells_are_refused():
    with pytest.raises(ValueError, match="row 1: 3 cells but only 2 headers"):
        parse_export("Issue key,Summary\nA-1,x,surplus\n", "x")
    # trailing empty cells (some tools pad rows) are fine
    assert parse_export("Issue key,Summary\nA-1,x,,\n").rows[0].get("Summary") == "x"


@pytest.mark.parametrize(("header", "name"), [
    ("Custom field (Story Points)", "Story Points"),
    ("custom field (Epic Link)", "Epic Link"),
    ("Custom field ()", None),
    ("Summary", None),
])
def test_custom_field_name(header, name):
    assert custom_field_name(header) == name
