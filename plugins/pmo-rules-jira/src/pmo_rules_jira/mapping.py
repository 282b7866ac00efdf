"""Map a parsed Jira export to pmo-rules records (the README's mapping table, in code).

- Each Epic becomes a project; when the export has no epics, each Jira project (the
  `Project key`) does. Issues under no epic (in an export that has epics) go to a project
  named by their project key, created only when it has such issues.
- Issues of type Risk (or any issue labelled `risk`) become `risks` of their project; the
  other issues become its `issues`. An issue's project is found by following `Parent id`,
  `Parent`, `Custom field (Epic Link)` or `Custom field (Parent Link)` (an issue key or an
  issue id) up to an epic, through sub-tasks and stories; when there is none, the project
  key is used.
- Dates are `datetime.date`; numbers `Decimal`; a date cell that Jira's formats do not
  read is passed on as text, so that validation rejects the record naming the field.
- An issue row without an `Issue key`, or repeating one, cannot be placed: it becomes a
  `BadRecord` naming the row, which the core reports (never silently dropped).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pmo_rules.registry import BadRecord

from .dates import parse_jira_date
from .reader import JiraExport, JiraRow, custom_field_name

# Jira status categories, by the `Status Category` cell (Cloud exports have it).
TODO, IN_PROGRESS, DONE = "To Do", "In Progress", "Done"
_CATEGORY_NAMES = {"to do": TODO, "new": TODO, "in progress": IN_PROGRESS, "indeterminate": IN_PROGRESS,
                   "done": DONE, "complete": DONE}
# Without a `Status Category` column, the category of common status names.
_TODO_STATUSES = {"to do", "todo", "open", "new", "backlog", "reopened", "selected for development",
                  "ready", "ready for development", "proposed", "funnel", "idea"}
_DONE_STATUSES = {"done", "closed", "resolved", "complete", "completed", "cancelled", "canceled",
                  "won't do", "won't fix", "rejected", "declined", "abandoned"}
_ON_HOLD_STATUSES = {"on hold", "on-hold", "paused", "parked", "suspended"}
_CANCELLED_RESOLUTIONS = {"won't do", "won't fix", "cancelled", "canceled", "declined", "rejected",
                          "abandoned", "duplicate", "obsolete"}
_UNRESOLVED = {"unresolved", "none"}

PROJECT_STATUS = {TODO: "proposed", IN_PROGRESS: "active", DONE: "completed"}

# Jira priority names -> the 1 (highest) to 5 (lowest) scale of `project.priority`.
PROJECT_PRIORITY = {"highest": 1, "blocker": 1, "high": 2, "critical": 2, "medium": 3, "major": 3,
                    "low": 4, "minor": 4, "lowest": 5, "trivial": 5}

PARENT_FIELDS = ("Parent id", "Parent", "Parent key", "Custom field (Epic Link)", "Custom field (Parent Link)")


# ------------------------------------------------------------------------- cells --

def date_of(text: str | None) -> Any:
    """A Jira date cell as a date; unreadable text is passed on for validation to reject."""
    if text is None:
        return None
    d = parse_jira_date(text)
    return d if d is not None else text


_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")


def custom_value(text: str) -> Any:
    """A custom field cell: a date if Jira formatted one, a number if it is one, else text."""
    if _NUMBER.fullmatch(text):
        return Decimal(text)
    d = parse_jira_date(text)
    return d if d is not None else text


def probability_of(text: str | None) -> Decimal | None:
    """A probability: `0.3` or `30%` -> Decimal("0.3"); anything else (`High`, `3`) -> None."""
    if text is None:
        return None
    t = text.strip().replace(" ", "")
    pct = t.endswith("%")
    try:
        d = Decimal(t[:-1] if pct else t)
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    if pct:
        d = d / 100
    return d if 0 <= d <= 1 else None


_MONEY = re.compile(r"(?P<n>-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)\s*(?P<mag>[kKmMbB])?")
_MAGNITUDE = {"k": Decimal(1000), "m": Decimal(1_000_000), "b": Decimal(1_000_000_000)}


def amount_of(text: str | None) -> Decimal | None:
    """A cost: `120000`, `$120,000`, `120k`, `EUR 1.5M` -> Decimal; anything else -> None."""
    if text is None:
        return None
    t = re.sub(r"^(?:[$€£¥]|[A-Z]{3}\s)\s*|\s*(?:[$€£¥]|\s[A-Z]{3})$", "", text.strip())
    m = _MONEY.fullmatch(t)
    if m is None:
        return None
    d = Decimal(m.group("n").replace(",", ""))
    if m.group("mag"):
        d *= _MAGNITUDE[m.group("mag").lower()]
    return d


# ---------------------------------------------------------------------- statuses --

def status_category(row: JiraRow) -> str | None:
    """`To Do`, `In Progress` or `Done`: the `Status Category` cell, else guessed from the status."""
    cat = row.get("Status Category")
    if cat is not None and cat.casefold() in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[cat.casefold()]
    status = (row.get("Status") or "").casefold()
    if status in _DONE_STATUSES:
        return DONE
    if status in _TODO_STATUSES:
        return TODO
    if resolution(row) is not None:
        return DONE
    return IN_PROGRESS if status else None


def resolution(row: JiraRow) -> str | None:
    r = row.get("Resolution")
    return None if r is None or r.casefold() in _UNRESOLVED else r


def open_or_closed(row: JiraRow) -> str | None:
    """`closed` once resolved (or in the Done category), else `open`."""
    if resolution(row) is not None or status_category(row) == DONE:
        return "closed"
    return "open" if row.get("Status") or row.get("Status Category") else None


def project_status(row: JiraRow) -> str | None:
    cat = status_category(row)
    if cat == DONE:
        r = resolution(row)
        return "cancelled" if r is not None and r.casefold() in _CANCELLED_RESOLUTIONS else "completed"
    if cat == IN_PROGRESS and (row.get("Status") or "").casefold() in _ON_HOLD_STATUSES:
        return "on_hold"
    return PROJECT_STATUS.get(cat) if cat else None


# ------------------------------------------------------------------------ issues --

def issue_type(row: JiraRow) -> str:
    return (row.get("Issue Type") or "").casefold()


def is_epic(row: JiraRow) -> bool:
    return issue_type(row) == "epic"


def is_risk(row: JiraRow) -> bool:
    return "risk" in issue_type(row).split() or any(lbl.casefold() == "risk" for lbl in labels(row))


def labels(row: JiraRow) -> list[str]:
    return row.all("Labels")


def project_key(row: JiraRow) -> str | None:
    pk = row.get("Project key")
    if pk is not None:
        return pk
    key = row.get("Issue key")
    return key.rsplit("-", 1)[0] if key and "-" in key else None


# Custom fields that only link issues (read as parents, kept in `jira.parent`).
_LINK_FIELDS = {"epic link", "parent link"}


def custom_fields(export: JiraExport, row: JiraRow) -> dict[str, Any]:
    """`Custom field (X)` values by X; a field with several values (columns) is a list."""
    out: dict[str, Any] = {}
    for header in export.names:
        name = custom_field_name(header)
        if name is None or name.casefold() in _LINK_FIELDS:
            continue
        values = [custom_value(v) for v in row.all(header)]
        if values:
            out[name] = values[0] if len(values) == 1 else values
    return out


def _custom_like(custom: dict[str, Any], *words: str) -> Any:
    for name, value in custom.items():
        if any(w in name.casefold() for w in words):
            return value
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value)


def jira_details(row: JiraRow) -> dict[str, Any]:
    """What Jira says that the pmo-rules fields do not hold, under the record's `jira` key."""
    details: dict[str, Any] = {
        "key": row.get("Issue key"),
        "issue_type": row.get("Issue Type"),
        "project_key": project_key(row),
        "status": row.get("Status"),
        "status_category": status_category(row),
        "resolution": resolution(row),
        "resolved": date_of(row.get("Resolved")),
        "priority": row.get("Priority"),
        "reporter": row.get("Reporter"),
        "parent": row.first(*PARENT_FIELDS),
        "sprints": row.all("Sprint"),
        "components": row.all("Components") or row.all("Component/s"),
        "fix_versions": row.all("Fix versions") or row.all("Fix Version/s"),
    }
    return {k: v for k, v in details.items() if v not in (None, [])}


def _drop_empty(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None and v != [] and v != {}}


def epic_project(export: JiraExport, row: JiraRow) -> dict[str, Any]:
    priority = row.get("Priority")
    return _drop_empty({
        "id": row.get("Issue key"),
        "name": row.first("Summary", "Custom field (Epic Name)"),
        "type": row.get("Project type"),
        "status": project_status(row),
        "priority": PROJECT_PRIORITY.get(priority.casefold()) if priority else None,
        "manager": row.first("Assignee", "Project lead"),
        "start_date": date_of(row.get("Created")),
        "planned_end": date_of(row.get("Due date")),
        "last_status_update": date_of(row.get("Updated")),
        "tags": labels(row),
        "custom": custom_fields(export, row),
        "description": row.get("Description"),
        "jira": jira_details(row),
    })


def key_project(key: str, rows: list[JiraRow]) -> dict[str, Any]:
    """A Jira project as a pmo-rules project, from the project columns of its issues."""
    first = rows[0]
    cats = {status_category(r) for r in rows} - {None}
    if cats and cats <= {DONE}:
        status = "completed"
    elif cats & {IN_PROGRESS, DONE}:
        status = "active"
    elif cats:
        status = "proposed"
    else:
        status = None
    created = [d for d in (parse_jira_date(r.get("Created") or "") for r in rows) if d]
    updated = [d for d in (parse_jira_date(r.get("Updated") or "") for r in rows) if d]
    return _drop_empty({
        "id": key,
        "name": first.first("Project name") or key,
        "type": first.get("Project type"),
        "status": status,
        "manager": first.get("Project lead"),
        "start_date": min(created) if created else None,
        "last_status_update": max(updated) if updated else None,
        "description": first.get("Project description"),
        "jira": {"project_key": key},
    })


def risk_record(export: JiraExport, row: JiraRow) -> dict[str, Any]:
    custom = custom_fields(export, row)
    return _drop_empty({
        "id": row.get("Issue key"),
        "title": row.get("Summary"),
        "probability": probability_of(_text(_custom_like(custom, "probability", "likelihood"))),
        "impact": amount_of(_text(_custom_like(custom, "impact"))),
        "status": open_or_closed(row),
        "owner": row.get("Assignee"),
        "mitigation": _text(_custom_like(custom, "mitigation", "response")),
        "tags": labels(row),
        "custom": custom,
        "jira": jira_details(row),
    })


def issue_record(export: JiraExport, row: JiraRow) -> dict[str, Any]:
    priority = row.get("Priority")
    return _drop_empty({
        "id": row.get("Issue key"),
        "title": row.get("Summary"),
        "priority": priority.lower() if priority else None,
        "status": open_or_closed(row),
        "owner": row.get("Assignee"),
        "opened": date_of(row.get("Created")),
        "due": date_of(row.get("Due date")),
        "tags": labels(row),
        "custom": custom_fields(export, row),
        "jira": jira_details(row),
    })


# ----------------------------------------------------------------------- linking --

def _parent(row: JiraRow, by_ref: dict[str, JiraRow]) -> JiraRow | None:
    for name in PARENT_FIELDS:
        for ref in row.all(name):
            parent = by_ref.get(ref)
            if parent is not None and parent is not row:
                return parent
    return None


def epic_of(row: JiraRow, by_ref: dict[str, JiraRow]) -> JiraRow | None:
    """The epic above an issue, following parents (sub-task -> story -> epic), or None."""
    seen = {id(row)}
    current = _parent(row, by_ref)
    while current is not None and id(current) not in seen:
        if is_epic(current):
            return current
        seen.add(id(current))
        current = _parent(current, by_ref)
    return None


def to_collections(export: JiraExport) -> dict[str, list]:
    """`{"projects": [...]}` from a parsed export (README: "How issues map")."""
    bad: list[BadRecord] = []
    rows: list[JiraRow] = []
    by_ref: dict[str, JiraRow] = {}
    first_row: dict[str, int] = {}
    for row in export.rows:
        key = row.get("Issue key")
        if key is None:
            bad.append(BadRecord(f"{export.label} row {row.rowno}: the `Issue key` cell is empty;"
                                 " this issue was not loaded"))
            continue
        if key in first_row:
            bad.append(BadRecord(f"{export.label} row {row.rowno}: issue `{key}` repeats row"
                                 f" {first_row[key]}; this row was not loaded"))
            continue
        first_row[key] = row.rowno
        rows.append(row)
        by_ref[key] = row
    for row in rows:  # issue ids second: a key always wins over an id
        iid = row.get("Issue id")
        if iid is not None:
            by_ref.setdefault(iid, row)

    projects: dict[str, dict[str, Any]] = {}
    for row in rows:
        if is_epic(row):
            projects[row.get("Issue key")] = epic_project(export, row)  # type: ignore[index]

    by_key: dict[str, list[JiraRow]] = {}
    children: list[tuple[str, JiraRow]] = []
    for row in rows:
        if is_epic(row):
            continue
        epic = epic_of(row, by_ref)
        if epic is not None:
            home = epic.get("Issue key")
        else:
            home = project_key(row) or row.get("Issue key")
            if home not in projects:
                by_key.setdefault(home, []).append(row)  # type: ignore[arg-type]
        children.append((home, row))  # type: ignore[arg-type]
    for key, key_rows in by_key.items():
        projects.setdefault(key, key_project(key, key_rows))

    for home, row in children:
        project = projects[home]
        if is_risk(row):
            project.setdefault("risks", []).append(risk_record(export, row))
        else:
            project.setdefault("issues", []).append(issue_record(export, row))
    return {"projects": [*projects.values(), *bad]}
