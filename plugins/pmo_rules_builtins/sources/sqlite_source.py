"""SQLite source: one database, one table (or view) per collection or child list.

Tables are named like the CSV files (`projects`, `people`, `programs`, `risks`,
`milestones`, ...; case ignored); other tables are not read. Columns follow the CSV
conventions: dotted column names nest (`"budget.approved"`), `tags` and `objectives` hold
`;`-separated text, child tables have a `project_id` column. Rows are read in rowid order
(insertion order), which is the order of child lists.

The database is opened read-only (`mode=ro`). NULL is absent; INTEGER and REAL values are
numbers (a REAL becomes the decimal of its shortest repr: 0.1 -> Decimal("0.1")); TEXT stays
text unless the data model says the field is a number, a date or a flag. For money, TEXT
or INTEGER columns are exact; REAL ones are exact only for values that were typed as
decimals.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec
from pmo_rules_builtins.sources._tabular import SQLITE_CELLS, TABLE_NAMES, Table, assemble


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(con: sqlite3.Connection, table: str, name: str) -> Table:
    try:
        cur = con.execute(f"SELECT * FROM {_quote(table)} ORDER BY rowid")
    except sqlite3.OperationalError:  # a view or a WITHOUT ROWID table
        cur = con.execute(f"SELECT * FROM {_quote(table)}")
    headers = [d[0] for d in cur.description]
    rows = [(i, row) for i, row in enumerate(cur.fetchall(), start=1)]
    return Table(name, f"table `{table}`", headers, rows)


def load(path: Path) -> dict[str, list]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise ValueError(f"cannot open the SQLite database: {exc}") from None
    try:
        found = {row[0].strip().lower(): row[0] for row in
                 con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")}
        tables = {name: _table(con, found[name], name) for name in TABLE_NAMES if name in found}
    except sqlite3.Error as exc:
        raise ValueError(f"not a readable SQLite database: {exc}") from None
    finally:
        con.close()
    if not tables:
        raise ValueError("no table named " + ", ".join(TABLE_NAMES))
    return assemble(tables, SQLITE_CELLS, projects_label="table `projects`")


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("sqlite", (".db", ".sqlite", ".sqlite3"), load,
                        "SQLite database: one table per collection or child list (projects, people, programs,"
                        " risks, ...), same columns as CSV, opened read-only"))
