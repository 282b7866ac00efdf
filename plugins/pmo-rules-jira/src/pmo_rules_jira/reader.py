"""Read a Jira "Export CSV" file into rows of gathered fields.

Jira writes one column per value of a multi-value field and repeats the header
(`Labels,Labels,Labels`, `Watchers` x N, `Comment` x N, `Sprint` x N, `Fix versions` x N,
and multi-select `Custom field (X)` columns). So the file is read with `csv.reader`, never
`DictReader` (which keeps only the last of equal headers), and every field of a row is
the list of its non-empty cells in column order. Empty cells (nothing, or only spaces)
are absent. Quoted cells may span lines (descriptions, comments) and are kept intact.

Files are UTF-8 (a byte-order mark is allowed), any line ending. Jira writes commas; a
header row without a comma but with `;` or a tab is read with that delimiter.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

KEY = "Issue key"


@dataclass
class JiraRow:
    """One issue: its data row number (1 = the first row after the header) and its fields."""

    rowno: int
    fields: dict[str, list[str]] = field(default_factory=dict)

    def all(self, name: str) -> list[str]:
        """Every non-empty value of a field (of all columns with that header), in order."""
        return self.fields.get(name.casefold(), [])

    def get(self, name: str) -> str | None:
        """The first non-empty value of a field, or None."""
        values = self.all(name)
        return values[0] if values else None

    def first(self, *names: str) -> str | None:
        """The first non-empty value among several field names, tried in order."""
        for n in names:
            v = self.get(n)
            if v is not None:
                return v
        return None


@dataclass
class JiraExport:
    """A parsed export: headers as written, their names (in order, once each) and the rows."""

    label: str
    headers: list[str]
    rows: list[JiraRow]

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(h.strip() for h in self.headers if h.strip()))

    def has(self, name: str) -> bool:
        return any(h.strip().casefold() == name.casefold() for h in self.headers)

    def repeated(self) -> dict[str, int]:
        """Header names that occur more than once, with their count."""
        counts: dict[str, int] = {}
        for h in self.headers:
            if h.strip():
                counts[h.strip()] = counts.get(h.strip(), 0) + 1
        return {h: n for h, n in counts.items() if n > 1}

    def custom_fields(self) -> list[str]:
        """The `X` of every `Custom field (X)` header, in order, once each."""
        return [n for n in (custom_field_name(h) for h in self.names) if n is not None]


def custom_field_name(header: str) -> str | None:
    """`Custom field (Story Points)` -> `Story Points`; None for other headers."""
    h = header.strip()
    prefix = "custom field ("
    if h.casefold().startswith(prefix) and h.endswith(")"):
        inner = h[len(prefix):-1].strip()
        return inner or None
    return None


def _delimiter(text: str) -> str:
    first = next((line for line in text.split("\n") if line.strip()), "")
    if "," in first:
        return ","
    for d in (";", "\t"):
        if d in first:
            return d
    return ","


def _rows(text: str, label: str) -> Iterator[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"{label} line {reader.line_num}: {exc}") from None


def parse_export(text: str, label: str = "<jira>") -> JiraExport:
    """Parse the text of a Jira CSV export; raises ValueError when it is not one."""
    if text.startswith("\ufeff"):
        text = text[1:]
    headers: list[str] | None = None
    keys: list[str] = []
    rows: list[JiraRow] = []
    rowno = 0
    for cells in _rows(text, label):
        if headers is None:
            if any(c.strip() for c in cells):
                headers = cells
                keys = [h.strip().casefold() for h in headers]
            continue
        rowno += 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(headers) and any(c.strip() for c in cells[len(headers):]):
            raise ValueError(f"{label} row {rowno}: {len(cells)} cells but only {len(headers)} headers")
        row = JiraRow(rowno)
        for key, cell in zip(keys, cells):
            if key and cell.strip():
                row.fields.setdefault(key, []).append(cell.strip())
        rows.append(row)
    if headers is None:
        raise ValueError(f"{label} is empty: no header row")
    if KEY.casefold() not in keys:
        raise ValueError(f"{label} is not a Jira CSV export: it has no `{KEY}` column"
                         " (export with Jira's \"Export CSV (all fields)\" or \"(current fields)\")")
    return JiraExport(label, headers, rows)


def read_export(path: Path) -> JiraExport:
    """Read a Jira CSV export file (UTF-8, byte-order mark allowed)."""
    return parse_export(path.read_text(encoding="utf-8-sig"), path.name)
