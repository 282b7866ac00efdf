"""The runtime portfolio: plain dicts with exact values, plus the flattened views.

Records are validated by the pydantic models when loaded (`load.py`), then kept as plain
dicts of language values (`Decimal`, `date`, `str`, lists, dicts) because both
evaluators read them millions of times. Flattened views (`risks`, `assignments`, ...) are
built once; each item is a copy of the child record with `project` pointing at its parent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .schema.models import VIEWS


@dataclass
class Snapshot:
    projects: list[dict] = field(default_factory=list)
    people: list[dict] = field(default_factory=list)
    programs: list[dict] = field(default_factory=list)
    _views: dict[str, list[dict]] = field(default_factory=dict, repr=False)
    _ids: dict[int, str] = field(default_factory=dict, repr=False)  # view items with no id or name
    _project_ids: set[int] = field(default_factory=set, repr=False)  # id() of every project record

    def collection(self, name: str) -> list[dict]:
        if name in ("projects", "people", "programs"):
            return getattr(self, name)
        if name in VIEWS:
            if name not in self._views:
                self.build_views([name])
            return self._views[name]
        raise KeyError(name)

    def materialise_views(self) -> None:
        """Build every view now, e.g. before forking workers that must share them."""
        self.build_views(VIEWS)

    def release_views(self) -> None:
        """Drop the views (a third of a large run's memory) once nothing will read them:
        `collection` builds them again if asked."""
        self._views.clear()
        self._ids.clear()

    def build_views(self, names: Iterable[str]) -> None:
        """Build the views named (those not built yet) in one pass over the projects.

        At 100,000 projects the cost is mostly cache misses on the project records, so
        reading each project once for all the views asked for is some 40% faster than a
        pass per view; `dict.copy` then a store is faster than `{**child, ...}` too."""
        todo = [n for n in dict.fromkeys(names) if n in VIEWS and n not in self._views]
        if not todo:
            return
        self._project_ids = {id(p) for p in self.projects}
        lanes = []
        for name in todo:
            items: list[dict] = []
            self._views[name] = items
            lanes.append((VIEWS[name], name, items.append))
        ids = self._ids
        for project in self.projects:
            for key, name, append in lanes:
                children = project.get(key)
                if not children or children.__class__ is not list:
                    continue
                for i, child in enumerate(children):
                    if child.__class__ is not dict:
                        continue
                    item = child.copy()
                    item["project"] = project
                    # Most children are labelled by their own id or name, read when a
                    # finding needs it (`subject_id`); only the others are remembered
                    # by position.
                    if child.get("id").__class__ is not str and child.get("name").__class__ is not str:
                        ids[id(item)] = f"{project.get('id')}/{name}[{i}]"
                    append(item)

    def subject_id(self, record: dict) -> str:
        """The id a finding names: the record's `id`, or `PROJECT/child` for view items
        (the child's id, else its name, else `view[position]`)."""
        sid = self._ids.get(id(record))
        if sid is not None:
            return sid
        parent = record.get("project")
        if parent.__class__ is dict and id(parent) in self._project_ids:
            label = record.get("id")
            if label.__class__ is not str:
                label = record.get("name")
            return f"{parent.get('id')}/{label}"
        v = record.get("id")
        return v if isinstance(v, str) else str(v)


def project_key(project: dict) -> str:
    """What roll-ups count a view item's checks under: `rollups.project_of` of the item's
    subject id (`PROJECT/child`), without building that id."""
    return f"{project.get('id')}".split("/", 1)[0]


def normalise(value: Any) -> Any:
    """Turn loaded values into language values: every number a Decimal, recursively."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, Decimal, dt.date)):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


def from_collections(data: dict[str, list[dict]]) -> Snapshot:
    """A snapshot from already-validated records (tests, `given` blocks)."""
    return Snapshot(
        projects=[normalise(r) for r in data.get("projects", [])],
        people=[normalise(r) for r in data.get("people", [])],
        programs=[normalise(r) for r in data.get("programs", [])],
    )
