"""CSV source: one file per collection, child lists in sibling files (docs/data-formats.md).

`projects.csv` holds one project per row, nested fields under dotted headers
(`budget.approved`), `tags` and `objectives` as `;`-separated text. The project child
lists come from files next to it named after the list (`risks.csv`, `milestones.csv`, ...),
each row carrying a `project_id` column; loading `projects.csv` reads them too.
`people.csv` and `programs.csv` are read the same way, without children.

Files are UTF-8 (a byte-order mark is allowed), any line ending; the delimiter is `,`
(or `;` or a tab, when the header row holds no comma). Every cell is text, typed by the
data model (see `_tabular`); unknown columns stay text.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec
from pmo_rules_builtins.sources._tabular import CHILD_LISTS, CSV_CELLS, Table, assemble


def _delimiter(first_line: str) -> str:
    if "," in first_line:
        return ","
    for d in (";", "\t"):
        if d in first_line:
            return d
    return ","


def read_table(path: Path, name: str) -> Table:
    text = path.read_text(encoding="utf-8-sig")
    first = next((line for line in text.split("\n") if line.strip()), "")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    headers: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    rowno = 0
    try:
        for row in reader:
            rowno += 1
            if not headers:
                if any(c.strip() for c in row):
                    headers = row
                continue
            rows.append((rowno, row))
    except csv.Error as exc:
        raise ValueError(f"{path.name} row {rowno + 1}: {exc}") from None
    return Table(name, path.name, headers, rows)


def _sibling(path: Path, name: str) -> Path | None:
    for candidate in (path.with_name(name + path.suffix), path.with_name(name + ".csv")):
        if candidate.is_file():
            return candidate
    return None


def load(path: Path) -> dict[str, list]:
    name = path.stem
    if name in CHILD_LISTS:
        raise ValueError(f"{path.name} holds project {name}, which are read with `projects{path.suffix}`:"
                         " load that file (or its folder) instead")
    tables = {name: read_table(path, name)}
    if name == "projects":
        for child in CHILD_LISTS:
            sibling = _sibling(path, child)
            if sibling is not None:
                tables[child] = read_table(sibling, child)
    return assemble(tables, CSV_CELLS, projects_label=path.name)


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("csv", (".csv",), load,
                        "CSV: one file per collection (projects.csv, people.csv, programs.csv); dotted headers"
                        " nest, child lists in risks.csv, milestones.csv, ... with a project_id column"))
