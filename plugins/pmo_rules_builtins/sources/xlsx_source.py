"""Excel source: one `.xlsx` workbook, one sheet per collection or child list.

Sheets are named like the CSV files (`projects`, `people`, `programs`, `risks`,
`milestones`, `gates`, `assignments`, `issues`, `change_requests`, `benefits`,
`dependencies`, `lessons`; case and surrounding spaces ignored); other sheets (notes,
lookup lists) are not read. Row 1 is the header (same conventions as CSV: dotted headers
nest, `;`-separated lists, `project_id` on child sheets); blank rows are skipped.

Read with openpyxl in read-only mode with cached formula results (`data_only=True`): a
formula cell of a workbook that was never recalculated and saved by Excel has no value
and reads as empty. Numbers arrive as int or float: a float becomes the decimal Excel
shows (its shortest repr, at most 15 significant digits), so a cell holding 0.1 is
exactly Decimal("0.1"); date cells become dates.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec
from pmo_rules_builtins.sources._tabular import EXCEL_CELLS, TABLE_NAMES, Table, assemble, is_empty


def _table(ws, name: str) -> Table:
    headers: list = []
    rows: list[tuple[int, tuple]] = []
    for rowno, row in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        if not headers:
            if any(not is_empty(v) for v in row):
                headers = list(row)
            continue
        rows.append((rowno, row))
    while headers and is_empty(headers[-1]):
        headers.pop()
    return Table(name, f"sheet `{ws.title}`", headers, rows)


def load(path: Path) -> dict[str, list]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(f"not a readable .xlsx workbook: {exc}") from None
    try:
        sheets = {ws.title.strip().lower(): ws for ws in wb.worksheets}
        tables = {name: _table(sheets[name], name) for name in TABLE_NAMES if name in sheets}
        if not tables and path.stem in TABLE_NAMES and len(wb.worksheets) == 1:
            # `people.xlsx` with a single `Sheet1`: the file names the collection.
            tables = {path.stem: _table(wb.worksheets[0], path.stem)}
        if not tables:
            raise ValueError("no sheet named " + ", ".join(TABLE_NAMES)
                             + f" (the workbook has {', '.join(repr(ws.title) for ws in wb.worksheets)})")
    finally:
        wb.close()
    return assemble(tables, EXCEL_CELLS, projects_label="sheet `projects`")


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("xlsx", (".xlsx",), load,
                        "Excel workbook: one sheet per collection or child list (projects, people, programs,"
                        " risks, milestones, ...), header in row 1, same columns as CSV"))
