"""The tabular sources (CSV, Excel, SQLite) read the same portfolio as JSON, exactly.

One portfolio is written as JSON and, from the same Python data, as CSV files, an Excel
workbook (openpyxl) and a SQLite database (sqlite3); every format must load to identical
snapshots and give an identical audit report. Then the failure cases: a bad number cell,
a child row of no project, structural problems.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path

import openpyxl
import pytest
from pmo_rules_builtins.formats import json_report
from pmo_rules_builtins.metrics import earned_value, risk, schedule
from pmo_rules_builtins.sources import _tabular, csv_source, sqlite_source, xlsx_source

from pmo_rules import api
from pmo_rules.errors import DataError
from pmo_rules.jsonout import dumps
from pmo_rules.load import load_paths

D = Decimal
AS_OF = dt.date(2026, 11, 26)
CHILDREN = tuple(_tabular.CHILD_LISTS)


# The entry-point names these modules get in pyproject.toml; until they are there, the
# test session registers them itself (and never twice once they are).
PLUGINS = (
    ("sources_csv", csv_source), ("sources_xlsx", xlsx_source), ("sources_sqlite", sqlite_source),
    ("metrics_earned_value", earned_value), ("metrics_schedule", schedule), ("metrics_risk", risk),
)


def plugin_session() -> api.Session:
    have = {ep.name for ep in entry_points(group="pmo_rules")}
    return api.Session.create(extra=tuple((n, m) for n, m in PLUGINS if n not in have))


@pytest.fixture(scope="module")
def session() -> api.Session:
    return plugin_session()


# --------------------------------------------------------------- the portfolio --

def portfolio() -> dict[str, list[dict]]:
    return {
        "projects": [
            {
                "id": "P-001", "name": "Ærø Café Relaunch — Zürich", "portfolio": "Retail", "program": "PG-1",
                "type": "change", "status": "active", "phase": "execution", "health": "amber", "priority": 2,
                "methodology": "PRINCE2", "sponsor": "U1", "manager": "U2",
                "start_date": dt.date(2026, 1, 5), "planned_end": dt.date(2026, 12, 31),
                "forecast_end": dt.date(2027, 1, 20), "last_status_update": dt.date(2026, 11, 20),
                "budget": {"approved": D("1234.56"), "actual_cost": D("100"), "planned_value": D("100.25"),
                           "earned_value": D("90"), "currency": "EUR"},
                "risks": [
                    {"id": "R1", "title": "Supplier «late»", "probability": D("0.3"), "impact": D("1000"),
                     "status": "open", "owner": "U1", "mitigation": "Second supplier; weekly call"},
                    {"id": "R2", "title": "FX", "probability": D("0.1"), "status": "closed"},
                ],
                "milestones": [
                    {"name": "Design", "baseline": dt.date(2026, 3, 1), "due": dt.date(2026, 3, 1),
                     "completed": dt.date(2026, 2, 27)},
                    {"name": "Build", "baseline": dt.date(2026, 9, 1), "due": dt.date(2026, 12, 1)},
                ],
                "gates": [
                    {"name": "G1", "required": True, "approved_by": "U1", "approved_on": dt.date(2026, 1, 2)},
                    {"name": "G2", "required": False},
                ],
                "assignments": [
                    {"person": "U2", "role": "PM", "allocation": D("0.5")},
                    {"person": "U3", "role": "Entwickler", "allocation": D("1")},
                ],
                "tags": ["digital", "café"],
                "custom": {"cost-center": "CC-12", "region": "Nord"},
                "business_case": {"status": "approved", "approved_by": "U1", "approved_on": dt.date(2025, 12, 1)},
                "tolerances": {"time_days": D("14"), "cost_pct": D("0.1")},
                "issues": [
                    {"id": "I1", "title": "Permit", "priority": "high", "status": "open", "owner": "U2",
                     "opened": dt.date(2026, 10, 1), "due": dt.date(2026, 11, 1)},
                ],
                "change_requests": [
                    {"id": "CR1", "cost_impact": D("5000.25"), "status": "approved", "approved_by": "U1",
                     "approved_on": dt.date(2026, 5, 5), "implemented_on": dt.date(2026, 6, 1)},
                ],
                "benefits": [{"name": "Footfall", "owner": "U1", "measure": "visits/week", "target": "+10%"}],
                "dependencies": [{"project": "P-002", "needed_by": dt.date(2026, 6, 1)}],
                "lessons": [{"title": "Book permits early", "recorded_on": dt.date(2026, 4, 1)}],
                "objectives": ["OBJ-1", "OBJ-2"],
                "region_code": "N-1",
            },
            {
                "id": "P-002", "name": "Проект Б", "status": "proposed", "priority": 5,
                "budget": {"approved": D("0"), "actual_cost": D("0")},
                "tags": ["rnd"],
            },
            {
                "id": "P-003", "name": "北京 office move", "status": "active", "phase": "closing",
                "budget": {"approved": D("250000"), "actual_cost": D("260000.10"), "planned_value": D("250000"),
                           "earned_value": D("240000"), "currency": "CNY"},
                "risks": [{"id": "R9", "title": "Unassessed", "status": "open", "impact": D("50000")}],
                "gates": [{"name": "G1", "required": True}],
                "assignments": [{"person": "U1", "allocation": D("0.25")}],
            },
        ],
        "people": [
            {"id": "U1", "name": "Zoë Ångström", "capacity": D("1.0"), "cost_rate": D("950.5")},
            {"id": "U2", "name": "李雷", "capacity": D("0.8")},
            {"id": "U3", "name": "Ola Nordmann"},
        ],
        "programs": [
            {"id": "PG-1", "name": "Transformation", "budget_cap": D("5000000.00")},
            {"id": "PG-2", "name": "Run"},
        ],
    }


def tables_of(data: dict[str, list[dict]]) -> dict[str, tuple[list[str], list[dict]]]:
    """The portfolio as tables: dotted headers, `;` lists, child tables with project_id."""
    out: dict[str, tuple[list[str], list[dict]]] = {}

    def flat(rec: dict, prefix: str = "") -> dict:
        row: dict = {}
        for k, v in rec.items():
            if isinstance(v, dict):
                row.update(flat(v, f"{prefix}{k}."))
            elif isinstance(v, list):
                row[prefix + k] = ";".join(v)
            else:
                row[prefix + k] = v
        return row

    for coll, records in data.items():
        rows = []
        for rec in records:
            top = {k: v for k, v in rec.items() if k not in CHILDREN}
            rows.append(flat(top))
            if coll == "projects":
                for child in CHILDREN:
                    for item in rec.get(child, []):
                        out.setdefault(child, ([], []))[1].append({"project_id": rec["id"], **flat(item)})
        out[coll] = ([], rows)
    for headers, rows in out.values():
        for r in rows:
            for h in r:
                if h not in headers:
                    headers.append(h)
    return out


def write_json(data: dict, folder: Path) -> Path:
    folder.mkdir()
    for coll, records in data.items():
        (folder / f"{coll}.json").write_text(dumps(records), encoding="utf-8")
    return folder


def _csv_text(v) -> str:
    if v is None:
        return ""
    if v is True:
        return "yes"
    if v is False:
        return "No"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def write_csv(data: dict, folder: Path) -> Path:
    folder.mkdir()
    for name, (headers, rows) in tables_of(data).items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n")
            w.writerow(headers)
            for r in rows:
                w.writerow([_csv_text(r.get(h)) for h in headers])
    return folder


def write_xlsx(data: dict, path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active["A1"] = "Portfolio register, exported for the audit"
    for name, (headers, rows) in tables_of(data).items():
        ws = wb.create_sheet(name.capitalize() if name == "risks" else name)
        ws.append(headers)
        for i, r in enumerate(rows):
            cells = []
            for h in headers:
                v = r.get(h)
                if isinstance(v, Decimal):  # as Excel holds them: a float, or an int
                    v = int(v) if v == v.to_integral_value() and "." not in str(v) else float(v)
                cells.append(v)
            ws.append(cells)
            if i == 0:
                ws.append([None] * len(headers))  # a blank row is skipped
    wb.save(path)
    return path


def write_sqlite(data: dict, path: Path) -> Path:
    con = sqlite3.connect(path)
    for name, (headers, rows) in tables_of(data).items():
        def decl(h: str) -> str:
            if h in ("budget.approved", "capacity", "probability"):
                return "REAL"
            if h == "priority" or h == "required":
                return "INTEGER"
            return "TEXT"

        cols = ", ".join(f'"{h}" {decl(h)}' for h in headers)
        con.execute(f'CREATE TABLE "{name}" ({cols})')
        for r in rows:
            vals = []
            for h in headers:
                v = r.get(h)
                if isinstance(v, Decimal):
                    v = float(v) if decl(h) == "REAL" else str(v)
                elif isinstance(v, dt.date):
                    v = v.isoformat()
                vals.append(v)
            con.execute(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(headers))})', vals)
    con.execute("CREATE TABLE audit_log (x TEXT)")
    con.commit()
    con.close()
    return path


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    data = portfolio()
    return {
        "json": write_json(data, root / "json"),
        "csv": write_csv(data, root / "csv"),
        "xlsx": write_xlsx(data, root / "portfolio.xlsx"),
        "sqlite": write_sqlite(data, root / "portfolio.sqlite"),
    }


POLICY = """
package t

rule cpi-floor {
    severity high
    for project in projects where project.status == "active"
    require cpi(project) >= 0.95 else "CPI {cpi(project)} of {project.name}"
}

rule risks-assessed {
    for risk in risks where risk.status == "open"
    require risk.probability is present and risk.owner is present
}

rule gates-approved {
    for gate in gates where gate.required
    require gate.approved_by is present
}

rule tagged {
    for project in projects
    require "digital" in project.tags and project.custom["cost-center"] == "CC-12"
}

rule booked {
    for person in people
    let load = sum(a.allocation for a in assignments where a.person == person.id)
    require load <= person.capacity
}

rule prioritised {
    for project in projects
    require project.priority <= 3
}

rule slip {
    for project in projects where project.planned_end is present
    require (schedule_slip(project) ?? 0) <= 14
    message "{project.id} slips {schedule_slip(project)} days"
}
"""


def _load(session: api.Session, path: Path):
    return load_paths([path], session.registry)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sqlite"])
def test_same_snapshot_as_json(session, written, fmt):
    ref = _load(session, written["json"])
    got = _load(session, written[fmt])
    assert ref.rejected == [] and got.rejected == []
    assert got.records == ref.records == {"projects": 3, "people": 3, "programs": 2}
    for coll in ("projects", "people", "programs"):
        assert getattr(got.snapshot, coll) == getattr(ref.snapshot, coll), coll


def test_exact_values_and_types(session, written):
    for fmt in ("csv", "xlsx", "sqlite"):
        p1 = _load(session, written[fmt]).snapshot.projects[0]
        assert p1["budget"]["approved"] == D("1234.56") and isinstance(p1["budget"]["approved"], Decimal)
        assert str(p1["tolerances"]["cost_pct"]) == "0.1", fmt
        assert p1["start_date"] == dt.date(2026, 1, 5)
        assert p1["gates"][0]["required"] is True and p1["gates"][1]["required"] is False
        assert p1["tags"] == ["digital", "café"]
        assert p1["custom"] == {"cost-center": "CC-12", "region": "Nord"}
        assert p1["region_code"] == "N-1"
        assert p1["name"] == "Ærø Café Relaunch — Zürich"
        assert p1["risks"][1]["impact"] is None
        p2 = _load(session, written[fmt]).snapshot.projects[1]
        assert p2["risks"] == [] and p2["business_case"] is None and p2["custom"] == {}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sqlite"])
def test_same_audit_report_as_json(session, written, fmt):
    program, diags = api.check_text(POLICY, session, "t.pmo")
    assert program is not None, diags.render()

    def report(path: Path) -> dict:
        rep = api.audit(program, _load(session, path), AS_OF)
        data = json.loads(json_report.render(rep))
        data["data"].pop("sources")
        return data

    ref = report(written["json"])
    assert ref["totals"]["fail"] > 0 and ref["totals"]["error"] > 0  # the report has substance
    assert report(written[fmt]) == ref


def test_csv_folder_finds_collections_and_children(session, written):
    result = _load(session, written["csv"])
    assert sorted(Path(f).name for f in result.files) == ["people.csv", "programs.csv", "projects.csv"]
    assert [m["name"] for m in result.snapshot.projects[0]["milestones"]] == ["Design", "Build"]


# ---------------------------------------------------------------- bad records --

def test_bad_number_cell_is_rejected_with_file_record_field(session, tmp_path):
    (tmp_path / "projects.csv").write_text(
        "id,name,budget.approved\nP1,Good,10\nP2,Bad,12k€\n", encoding="utf-8")
    (tmp_path / "risks.csv").write_text(
        "project_id,id,probability,impact\nP1,R1,0.2,oops\n", encoding="utf-8")
    result = _load(session, tmp_path)
    by_id = {r.id: r for r in result.rejected}
    assert set(by_id) == {"P1", "P2"}
    bad = by_id["P2"]
    assert bad.file.endswith("projects.csv") and bad.record == 2 and bad.field == "budget.approved"
    assert "12k€" in bad.message
    child = by_id["P1"]
    assert child.record == 1 and child.field == "risks.0.impact" and "oops" in child.message
    assert result.snapshot.projects == []


def test_bad_number_in_xlsx_and_sqlite(session, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "people"
    ws.append(["id", "capacity"])
    ws.append(["U1", "lots"])
    wb.save(tmp_path / "p.xlsx")
    r = _load(session, tmp_path / "p.xlsx").rejected
    assert [(x.record, x.id, x.field) for x in r] == [(1, "U1", "capacity")]
    con = sqlite3.connect(tmp_path / "p.db")
    con.execute('CREATE TABLE programs (id TEXT, budget_cap TEXT)')
    con.execute("INSERT INTO programs VALUES ('PG', 'n/a'), ('PG2', '1e3')")
    con.commit()
    con.close()
    res = _load(session, tmp_path / "p.db")
    assert [(x.record, x.id, x.field) for x in res.rejected] == [(1, "PG", "budget_cap")]
    assert res.snapshot.programs[0]["budget_cap"] == D("1000")


def test_child_of_unknown_project_is_reported(session, tmp_path):
    (tmp_path / "projects.csv").write_text("id,name\nP1,One\n", encoding="utf-8")
    (tmp_path / "milestones.csv").write_text(
        "project_id,name,baseline\nP1,Kick-off,2026-01-01\nP9,Ghost,2026-02-01\n,Nobody,2026-03-01\n",
        encoding="utf-8")
    result = _load(session, tmp_path)
    assert [m["name"] for m in result.snapshot.projects[0]["milestones"]] == ["Kick-off"]
    msgs = [r.message for r in result.rejected]
    assert len(msgs) == 2 and all(r.file.endswith("projects.csv") for r in result.rejected)
    assert "milestones.csv row 3" in msgs[0] and "`P9`" in msgs[0] and "matches no project" in msgs[0]
    assert "milestones.csv row 4" in msgs[1] and "empty" in msgs[1]


def test_orphans_in_xlsx_and_sqlite_name_sheet_and_table(session, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "projects"
    wb.active.append(["id"])
    wb.active.append(["P1"])
    ws = wb.create_sheet("gates")
    ws.append(["project_id", "name", "required"])
    ws.append(["P2", "G1", True])
    wb.save(tmp_path / "w.xlsx")
    (r,) = _load(session, tmp_path / "w.xlsx").rejected
    assert "sheet `gates` row 2" in r.message and "`P2`" in r.message
    con = sqlite3.connect(tmp_path / "w.db")
    con.execute('CREATE TABLE projects (id TEXT)')
    con.execute('CREATE TABLE risks (project_id TEXT, id TEXT)')
    con.execute("INSERT INTO projects VALUES ('P1')")
    con.execute("INSERT INTO risks VALUES ('P1', 'R1'), ('PX', 'R2')")
    con.commit()
    con.close()
    res = _load(session, tmp_path / "w.db")
    (r,) = res.rejected
    assert "table `risks` row 2" in r.message and "`PX`" in r.message
    assert [x["id"] for x in res.snapshot.projects[0]["risks"]] == ["R1"]


# ------------------------------------------------------------------ details --

def test_csv_bom_crlf_semicolons_and_quotes(session, tmp_path):
    text = ('\ufeffid;name;tags;budget.approved;custom.cost-center\r\n'
            'P1;"Smith; Sons ""Ltd""";a; b ;;0.1;\r\n'
            '\r\n'
            'P2;"multi\r\nline";;1234.56;CC-9\r\n')
    # With `;` as the delimiter an unquoted list `a; b ;` spills into columns that have no
    # header: the file is refused. Quoted, it is one cell.
    (tmp_path / "projects.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="no header"):
        _load(session, tmp_path)
    text = ('\ufeffid;name;tags;budget.approved;custom.cost-center\r\n'
            'P1;"Smith; Sons ""Ltd""";"a; b ;";0.1;\r\n'
            '\r\n'
            'P2;"multi\r\nline";;1234.56;CC-9\r\n')
    (tmp_path / "projects.csv").write_text(text, encoding="utf-8")
    res = _load(session, tmp_path)
    assert res.rejected == []
    p1, p2 = res.snapshot.projects
    assert p1["id"] == "P1" and p1["name"] == 'Smith; Sons "Ltd"' and p1["tags"] == ["a", "b"]
    assert p1["budget"]["approved"] == D("0.1") and p1["custom"] == {}
    assert p2["name"] == "multi\nline" and p2["tags"] == [] and p2["custom"] == {"cost-center": "CC-9"}


def test_unknown_columns_stay_text_in_csv_and_typed_in_xlsx(session, tmp_path):
    (tmp_path / "projects.csv").write_text("id,custom.score,extra\nP1,007,2026-01-01\n", encoding="utf-8")
    p = _load(session, tmp_path).snapshot.projects[0]
    assert p["custom"] == {"score": "007"} and p["extra"] == "2026-01-01"
    wb = openpyxl.Workbook()
    wb.active.title = "projects"
    wb.active.append(["id", "custom.score", "extra"])
    wb.active.append([1001, 7.5, dt.datetime(2026, 1, 1)])
    wb.save(tmp_path / "x.xlsx")
    p = _load(session, tmp_path / "x.xlsx").snapshot.projects[0]
    assert p["id"] == "1001" and p["custom"] == {"score": D("7.5")} and p["extra"] == dt.date(2026, 1, 1)


def test_excel_floats_are_the_decimals_excel_shows():
    assert _tabular.excel_float(0.1) == D("0.1")
    assert str(_tabular.excel_float(0.1 + 0.2)) == "0.3"
    assert str(_tabular.excel_float(1234.56)) == "1234.56"
    assert str(_tabular.excel_float(100.00000000000001)) == "100"
    assert _tabular.exact_float(0.1 + 0.2) == D("0.30000000000000004")


@pytest.mark.parametrize("headers,match", [
    ("id,name,name", "appears twice"),
    ("id,budget,budget.approved", "holds a value"),
    ("id,risks", "own"),
    ("id,budget.", "empty part"),
])
def test_structural_header_problems_fail_the_file(session, tmp_path, headers, match):
    (tmp_path / "projects.csv").write_text(headers + "\n" + ",".join("x" for _ in headers.split(",")) + "\n",
                                           encoding="utf-8")
    with pytest.raises(DataError, match=match):
        _load(session, tmp_path)


def test_child_table_without_project_id_fails(session, tmp_path):
    (tmp_path / "projects.csv").write_text("id\nP1\n", encoding="utf-8")
    (tmp_path / "risks.csv").write_text("id,title\nR1,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="project_id"):
        _load(session, tmp_path)


def test_child_csv_given_directly_is_refused(session, tmp_path):
    (tmp_path / "risks.csv").write_text("project_id,id\nP1,R1\n", encoding="utf-8")
    with pytest.raises(DataError, match="projects.csv"):
        _load(session, tmp_path / "risks.csv")


def test_not_a_workbook_or_database(session, tmp_path):
    (tmp_path / "bad.xlsx").write_text("hello", encoding="utf-8")
    (tmp_path / "bad.db").write_text("hello" * 100, encoding="utf-8")
    with pytest.raises(DataError, match="xlsx"):
        _load(session, tmp_path / "bad.xlsx")
    with pytest.raises(DataError, match="SQLite"):
        _load(session, tmp_path / "bad.db")


def test_sqlite_is_opened_read_only(session, written):
    before = written["sqlite"].read_bytes()
    _load(session, written["sqlite"])
    assert written["sqlite"].read_bytes() == before


def test_single_sheet_workbook_named_after_its_collection(session, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["id", "name", "capacity"])
    wb.active.append(["U1", "Ana", 0.5])
    wb.save(tmp_path / "people.xlsx")
    res = _load(session, tmp_path)
    assert res.snapshot.people == [{"id": "U1", "name": "Ana", "capacity": D("0.5"), "cost_rate": None}]


def test_sources_are_registered(session):
    srcs = session.registry.sources
    assert {".csv", ".xlsx", ".db", ".sqlite", ".sqlite3"} <= {e for s in srcs.values() for e in s.extensions}
    assert not session.problems
