"""Shared row -> record conversion for the tabular sources (CSV, Excel, SQLite).

A tabular source reads *tables*: one per collection (`projects`, `people`, `programs`)
and one per project child list (`risks`, `milestones`, `gates`, `assignments`, `issues`,
`change_requests`, `benefits`, `dependencies`, `lessons`). Each table is a header row and
data rows. This module turns them into raw records shaped exactly like the JSON data:

- a header is a field path; every `.` nests (`budget.approved` -> `{"budget": {"approved":
  ...}}`, `custom.cost-center` -> `{"custom": {"cost-center": ...}}`);
- each cell is converted by the type the pydantic model gives that field (models.py):
  numbers become `Decimal` (parsed from text, never through a float), integers `int`,
  booleans `bool` (`true/false/yes/no/1/0`), dates `datetime.date` or ISO text (the models
  parse ISO text), list-of-text fields (`tags`, `objectives`) split on `;`;
- a cell the type cannot be read from is passed on unchanged, so that validation rejects
  the record naming the file, the record and the field path (exactly as for JSON);
- an empty cell (nothing, or only spaces) is absent: the key is left out of the record;
- columns the models do not know are kept: as text in CSV, as the cell's own type
  (number -> Decimal, date -> date, text, bool) in Excel and SQLite, which store types;
- child rows carry a `project_id` column naming their project; they are attached to it in
  row order. A child row whose `project_id` matches no project cannot be attached: it is
  returned as a `BadRecord` in the `projects` list, naming the table and row, so that the
  run reports it (never silently dropped).

Structural problems (a duplicate header, a header that is both a value and an object, a
value under no header, a child table without `project_id`) make the whole file unreadable
(`ValueError`, reported by the core as a data error naming the file).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from functools import cache
from typing import Any

from pydantic import BaseModel

from pmo_rules.registry import BadRecord
from pmo_rules.schema.models import COLLECTION_MODELS, Project

# Field kinds.
TEXT, NUMBER, INT, BOOL, DATE, LIST_TEXT, MAPPING, OBJECT, CHILDREN, UNKNOWN = (
    "text", "number", "int", "bool", "date", "list_text", "mapping", "object", "children", "unknown")

LINK = "project_id"
LIST_SEPARATOR = ";"
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


@dataclass(frozen=True)
class Kind:
    kind: str
    model: type[BaseModel] | None = None


def _kind_of(tp: Any) -> Kind:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _kind_of(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _kind_of(args[0]) if len(args) == 1 else Kind(UNKNOWN)
    if origin is typing.Literal:
        return Kind(TEXT) if all(isinstance(a, str) for a in typing.get_args(tp)) else Kind(UNKNOWN)
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return Kind(CHILDREN, inner)
        return Kind(LIST_TEXT) if inner is str else Kind(UNKNOWN)
    if origin is dict:
        return Kind(MAPPING)
    if tp is bool:
        return Kind(BOOL)
    if tp is int:
        return Kind(INT)
    if tp is Decimal or tp is float:
        return Kind(NUMBER)
    if tp is dt.date:
        return Kind(DATE)
    if tp is str:
        return Kind(TEXT)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return Kind(OBJECT, tp)
    return Kind(UNKNOWN)


@cache
def field_kinds(model: type[BaseModel]) -> dict[str, Kind]:
    return {name: _kind_of(f.annotation) for name, f in model.model_fields.items()}


def kind_at(model: type[BaseModel] | None, path: Sequence[str]) -> Kind:
    """The kind of the field a header path names (UNKNOWN for fields no model declares)."""
    if model is None:
        return Kind(UNKNOWN)
    k = field_kinds(model).get(path[0], Kind(UNKNOWN))
    if len(path) == 1:
        return k
    if k.kind == OBJECT:
        return kind_at(k.model, path[1:])
    return Kind(UNKNOWN)


#: Child lists of a project, by the table (file, sheet) name that holds them.
CHILD_LISTS: dict[str, type[BaseModel]] = {
    name: k.model for name, k in field_kinds(Project).items() if k.kind == CHILDREN and k.model is not None
}
TABLE_NAMES: tuple[str, ...] = (*COLLECTION_MODELS, *CHILD_LISTS)


# ------------------------------------------------------------------------ cells --

def exact_float(x: float) -> Decimal:
    """A float as the decimal it was typed as: its shortest repr (0.1 -> Decimal("0.1"))."""
    return Decimal(repr(x))


_EXCEL = Context(prec=15)


def excel_float(x: float) -> Decimal:
    """An Excel number as Excel shows it: the shortest repr, at most 15 significant digits.

    Excel keeps 15 significant digits; a computed cell stored as 0.30000000000000004
    displays (and means) 0.3.
    """
    d = Decimal(repr(x))
    if not d.is_finite() or len(d.as_tuple().digits) <= 15:
        return d
    d = _EXCEL.plus(d)
    if d.as_tuple().exponent < 0:  # type: ignore[operator]
        d = d.normalize()
        if d.as_tuple().exponent > 0:  # type: ignore[operator]
            d = d.quantize(Decimal(1))
    return d


@dataclass(frozen=True)
class Cells:
    """How a source's native cell values read: CSV gives text only; Excel and SQLite types."""

    typed: bool
    float_to_decimal: Callable[[float], Decimal] = exact_float


CSV_CELLS = Cells(typed=False)
EXCEL_CELLS = Cells(typed=True, float_to_decimal=excel_float)
SQLITE_CELLS = Cells(typed=True, float_to_decimal=exact_float)


def is_empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _parse_decimal(text: str) -> Decimal | None:
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def _plain(d: Decimal) -> str:
    from pmo_rules.values import format_number

    return format_number(d)


def _as_text(v: Any, cells: Cells) -> Any:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return v  # not text: validation says so
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        d = cells.float_to_decimal(v)
        return _plain(d) if d.is_finite() else v
    if isinstance(v, Decimal):
        return _plain(v) if v.is_finite() else v
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time(0) else v.isoformat()
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return v


def _as_number(v: Any, cells: Cells) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        d = _parse_decimal(v)
        return v if d is None else d
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        return cells.float_to_decimal(v)
    return v


def _as_int(v: Any, cells: Cells) -> Any:
    d = _as_number(v, cells)
    if isinstance(d, Decimal) and d == d.to_integral_value():
        return int(d)
    return v


def _as_bool(v: Any, cells: Cells) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        t = v.strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        return v
    if isinstance(v, (int, float, Decimal)) and v in (0, 1):
        return bool(v)
    return v


def _as_date(v: Any, cells: Cells) -> Any:
    if isinstance(v, dt.datetime):
        return v.date() if v.time() == dt.time(0) else v
    if isinstance(v, str):
        return v.strip()
    return v


def _as_list(v: Any, cells: Cells) -> Any:
    t = _as_text(v, cells)
    if not isinstance(t, str):
        return v
    return [p.strip() for p in t.split(LIST_SEPARATOR) if p.strip()]


def _as_unknown(v: Any, cells: Cells) -> Any:
    if isinstance(v, str) or not cells.typed:
        return v
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        d = cells.float_to_decimal(v)
        return d if d.is_finite() else repr(v)
    if isinstance(v, dt.datetime):
        return v.date() if v.time() == dt.time(0) else v.isoformat()
    if isinstance(v, dt.time):
        return v.isoformat()
    return v


_CONVERT: dict[str, Callable[[Any, Cells], Any]] = {
    TEXT: _as_text, NUMBER: _as_number, INT: _as_int, BOOL: _as_bool, DATE: _as_date,
    LIST_TEXT: _as_list, UNKNOWN: _as_unknown,
}


def convert(value: Any, kind: Kind, cells: Cells) -> Any:
    """A non-empty cell as the field's type; unreadable values are returned unchanged."""
    fn = _CONVERT.get(kind.kind)
    return fn(value, cells) if fn else value


# ----------------------------------------------------------------------- tables --

@dataclass
class Table:
    """One table of a tabular source.

    ``name`` is the collection or child list it holds; ``label`` names it in messages
    (``risks.csv``, ``sheet `risks```); ``rows`` yields ``(row number, cells)``, the row
    number as the user sees it in their tool (the header is usually row 1).
    """

    name: str
    label: str
    headers: Sequence[Any]
    rows: Iterable[tuple[int, Sequence[Any]]]


@dataclass
class _Column:
    index: int
    header: str
    path: tuple[str, ...]
    kind: Kind


@dataclass
class _Layout:
    columns: list[_Column] = field(default_factory=list)
    link: int | None = None
    width: int = 0


def _layout(table: Table, model: type[BaseModel] | None, child: bool) -> _Layout:
    layout = _Layout(width=len(table.headers))
    seen: dict[tuple[str, ...], str] = {}
    for i, raw in enumerate(table.headers):
        if is_empty(raw):
            continue
        header = str(raw).strip()
        if child and header == LINK:
            if layout.link is not None:
                raise ValueError(f"{table.label}: column `{LINK}` appears twice")
            layout.link = i
            continue
        path = tuple(p.strip() for p in header.split("."))
        if any(not p for p in path):
            raise ValueError(f"{table.label}: column `{header}` has an empty part between dots")
        if path in seen:
            raise ValueError(f"{table.label}: column `{header}` appears twice")
        seen[path] = header
        kind = kind_at(model, path)
        if not child and model is Project and field_kinds(Project).get(path[0], Kind(UNKNOWN)).kind == CHILDREN:
            raise ValueError(f"{table.label}: column `{header}`: the project's {path[0]} come from their own"
                             f" table (`{path[0]}` with a `{LINK}` column), not from a column")
        layout.columns.append(_Column(i, header, path, kind))
    paths = set(seen)
    for path, header in seen.items():
        for n in range(1, len(path)):
            if path[:n] in paths:
                raise ValueError(f"{table.label}: column `{seen[path[:n]]}` holds a value, so there can be no"
                                 f" column `{header}` inside it")
    if child and layout.link is None:
        raise ValueError(f"{table.label}: no `{LINK}` column naming each row's project")
    return layout


def _record(layout: _Layout, table: Table, rowno: int, cells_: Sequence[Any], cells: Cells) -> dict:
    for j in range(layout.width, len(cells_)):
        if not is_empty(cells_[j]):
            raise ValueError(f"{table.label} row {rowno}: a value ({cells_[j]!r}) in column {j + 1}, which has no header")
    rec: dict[str, Any] = {}
    for col in layout.columns:
        v = cells_[col.index] if col.index < len(cells_) else None
        if is_empty(v):
            continue
        target = rec
        for part in col.path[:-1]:
            target = target.setdefault(part, {})
        target[col.path[-1]] = convert(v, col.kind, cells)
    return rec


def records(table: Table, cells: Cells, model: type[BaseModel] | None = None,
            child: bool = False) -> Iterable[tuple[int, Any, dict]]:
    """``(row number, project_id or None, record)`` for each non-blank row of ``table``."""
    layout = _layout(table, model, child)
    headerless = [i for i, h in enumerate(table.headers) if is_empty(h)]
    for rowno, row in table.rows:
        if all(is_empty(v) for v in row):
            continue
        for j in headerless:
            if j < len(row) and not is_empty(row[j]):
                raise ValueError(f"{table.label} row {rowno}: a value ({row[j]!r}) in column {j + 1}, which has no header")
        link = None
        if layout.link is not None and layout.link < len(row) and not is_empty(row[layout.link]):
            link = _as_text(row[layout.link], cells)
            link = link.strip() if isinstance(link, str) else str(link)
        yield rowno, link, _record(layout, table, rowno, row, cells)


def assemble(tables: dict[str, Table], cells: Cells, projects_label: str = "projects") -> dict[str, list]:
    """Collections of raw records from a source's tables, children attached to projects."""
    out: dict[str, list] = {}
    for name, table in tables.items():
        if name in CHILD_LISTS:
            continue
        out[name] = [rec for _, _, rec in records(table, cells, COLLECTION_MODELS.get(name))]
    children = [n for n in CHILD_LISTS if n in tables]
    if not children:
        return out
    projects = out.setdefault("projects", [])
    index: dict[str, dict] = {}
    for rec in projects:
        pid = rec.get("id")
        if isinstance(pid, str):
            index.setdefault(pid.strip(), rec)
    orphans: list[BadRecord] = []
    for name in children:
        table = tables[name]
        for rowno, link, rec in records(table, cells, CHILD_LISTS[name], child=True):
            parent = index.get(link) if link is not None else None
            if parent is None:
                why = (f"`{LINK}` is empty" if link is None
                       else f"`{LINK}` `{link}` matches no project in {projects_label}")
                orphans.append(BadRecord(f"{table.label} row {rowno}: {why}; this {name} row was not loaded"))
                continue
            parent.setdefault(name, []).append(rec)
    projects.extend(orphans)
    return out
