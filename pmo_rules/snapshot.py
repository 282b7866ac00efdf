"""The runtime portfolio: plain dicts with exact values, plus the flattened views.

Records are validated by the pydantic models when loaded (`load.py`), then kept as plain
dicts of language values (`Decimal`, `date`, `str`, lists, dicts) because both
evaluators read them millions of times. Flattened views (`risks`, `assignments`, ...) are
built once, whole, or in parts by evaluation workers (`view_slices`); each item is a copy
of the child record with `project` pointing at its parent.
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
    #: Every record was validated by the schema (`load.py`), so a project's lists of
    #: children hold records only: `view_slices` need not look at each child to know.
    validated: bool = field(default=False, repr=False)

    def collection(self, name: str) -> list[dict]:
        if name in ("projects", "people", "programs"):
            return getattr(self, name)
        if name in VIEWS:
            if name not in self._views:
                self.build_views([name])
            return self._views[name]
        raise KeyError(name)

    def has_view(self, name: str) -> bool:
        """Is the whole view `name` built (kept until `release_views`)?"""
        return name in self._views

    def materialise_views(self) -> None:
        """Build every view now, e.g. before forking workers that must share them."""
        self.build_views(VIEWS)

    def release_views(self) -> None:
        """Drop the views (a third of a large run's memory) once nothing will read them:
        `collection` builds them again if asked."""
        self._views.clear()
        self._ids.clear()

    def build_views(self, names: Iterable[str]) -> list[str]:
        """Build the views named (those not built yet) in one pass over the projects, and
        say which those were.

        At 100,000 projects the cost is mostly cache misses on the project records, so
        reading each project once for all the views asked for is some 40% faster than a
        pass per view; `dict.copy` then a store is faster than `{**child, ...}` too."""
        todo = [n for n in dict.fromkeys(names) if n in VIEWS and n not in self._views]
        if todo:
            self.index_projects()
            self._views.update(self._flatten(todo, self.projects, self._ids))
        return todo

    def index_projects(self) -> None:
        """Remember which records are projects (`subject_id` tells view items by their parent)."""
        self._project_ids = {id(p) for p in self.projects}

    def view_slices(self, names: Iterable[str], lo: int, hi: int, block: int | None = None) -> ViewSlices:
        """The items of the views named whose projects are `projects[lo:hi]`: the part of
        each view a worker's chunk evaluates (`with snapshot.view_slices(...) as views`),
        instead of whole views built by one process before the others start.

        Not built as items: each view is two lists, its children (the records themselves)
        and their projects, in view order. Copying 1.1 million children of 100,000
        projects into items took 0.8 s, and freeing them 0.25 s more; the fast verdicts
        read a child and its project as they are (`fastpath`, `pair`), and only the
        items the full evaluator takes are made (`ViewSlices.item`), named while the
        `with` lasts, so that `subject_id` need not tell their projects (`index_projects`).

        `block`: where each `block` projects, and their children in each view, begin and
        end is kept (`ViewSlices.bounds`), for a caller that goes through the projects a
        block at a time (None: one block)."""
        views: dict[str, tuple[list[dict], list[dict]]] = {}
        positions: dict[str, list[int]] = {}  # of each child in its project's list, where not implied
        lanes = []
        for name in dict.fromkeys(names):
            children: list[dict] = []
            parents: list[dict] = []
            views[name] = (children, parents)
            lanes.append((VIEWS[name], children.extend, parents.extend))
        projects = self.projects[lo:hi]
        step = block or max(len(projects), 1)
        starts = range(0, len(projects), step)
        blocks = [projects[start:start + step] for start in starts]
        bounds: dict[str, list[int]] = {"projects": [*starts, len(projects)], **{name: [0] for name in views}}
        for some in blocks:
            for project in some:
                for key, add_children, add_parents in lanes:
                    listed = project.get(key)
                    if listed and listed.__class__ is list:
                        add_children(listed)
                        add_parents((project,) * len(listed))
            for name, (children, _) in views.items():
                bounds[name].append(len(children))
        for name, (children, parents) in views.items():
            if self.validated or set(map(type, children)) <= {dict}:  # at 100k projects, 0.12 s
                continue
            # Not only records (a snapshot not loaded from data): those alone, as `_flatten` keeps.
            children.clear()
            parents.clear()
            at = positions[name] = []
            ends = bounds[name] = [0]
            for some in blocks:
                for project in some:
                    listed = project.get(VIEWS[name])
                    for i, child in enumerate(listed if listed.__class__ is list else ()):
                        if child.__class__ is dict:
                            children.append(child)
                            parents.append(project)
                            at.append(i)
                ends.append(len(children))
        return ViewSlices(self, views, positions, bounds)

    @staticmethod
    def _flatten(todo: list[str], projects: list[dict], ids: dict[int, str]) -> dict[str, list[dict]]:
        views: dict[str, list[dict]] = {}
        lanes = []
        for name in todo:
            items: list[dict] = []
            views[name] = items
            lanes.append((VIEWS[name], name, items.append))
        for project in projects:
            for key, name, append in lanes:
                children = project.get(key)
                if not children or children.__class__ is not list:
                    continue
                for i, child in enumerate(children):
                    if child.__class__ is not dict:
                        continue
                    item = view_item(child, project)
                    # Most children are labelled by their own id or name, read when a
                    # finding needs it (`subject_id`); only the others are remembered
                    # by position.
                    if label(child) is None:
                        ids[id(item)] = f"{project.get('id')}/{name}[{i}]"
                    append(item)
        return views

    def subject_id(self, record: dict) -> str:
        """The id a finding names: the record's `id`, or `PROJECT/child` for view items
        (the child's id, else its name, else `view[position]`)."""
        sid = self._ids.get(id(record))
        if sid is not None:
            return sid
        parent = record.get("project")
        if parent.__class__ is dict and id(parent) in self._project_ids:
            own = label(record)
            return f"{parent.get('id')}/{own if own is not None else record.get('name')}"
        v = record.get("id")
        return v if isinstance(v, str) else str(v)


class ViewSlices:
    """View slices (`Snapshot.view_slices`): per view, its children and their projects
    (`views`), and the items made of them for the full evaluator (`item`), known to
    `subject_id` while the `with` lasts. An item's name is remembered by its `id()`, so
    the items are kept until then: no other object may take that id."""

    def __init__(self, snapshot: Snapshot, views: dict[str, tuple[list[dict], list[dict]]],
                 positions: dict[str, list[int]], bounds: dict[str, list[int]]):
        self.snapshot, self.views, self.positions = snapshot, views, positions
        # per view, and for the projects themselves: where each block of projects (and
        # their children) begins in the slice, and where the last ends
        self.bounds = bounds
        self.ids: dict[int, str] = {}
        self.items: list[dict] = []

    def __enter__(self) -> ViewSlices:
        return self

    def __exit__(self, *exc: object) -> None:
        ids = self.snapshot._ids
        for key in self.ids:
            ids.pop(key, None)
        self.ids.clear()
        self.items.clear()

    def item(self, name: str, i: int) -> dict:
        """The view item at `i`: a copy of the child with `project`, as whole views hold."""
        children, parents = self.views[name]
        item = view_item(children[i], parents[i])
        sid = self.ids[id(item)] = self.subject_id(name, i)
        self.snapshot._ids[id(item)] = sid
        self.items.append(item)
        return item

    def subject_id(self, name: str, i: int) -> str:
        """`Snapshot.subject_id` of the item at `i`, without making it."""
        children, parents = self.views[name]
        pid = parents[i].get("id")
        own = label(children[i])
        return f"{pid}/{own}" if own is not None else f"{pid}/{name}[{self._position(name, i)}]"

    def _position(self, name: str, i: int) -> int:
        """The child's position in its project's list: given, or counted from where the
        project's children begin (they are next to each other, all of them)."""
        given = self.positions.get(name)
        if given is not None:
            return given[i]
        parents = self.views[name][1]
        first = i
        while first > 0 and parents[first - 1] is parents[i]:
            first -= 1
        return i - first


def view_item(child: dict, project: dict) -> dict:
    """An item of a flattened view: a copy of the child record with `project`, its parent."""
    item = child.copy()
    item["project"] = project
    return item


def label(child: dict) -> str | None:
    """What names a view item after its project (`PROJECT/label`): the child's id, else its
    name; None when neither is text (the item is then named by its position)."""
    own = child.get("id")
    if own.__class__ is str:
        return own
    own = child.get("name")
    return own if own.__class__ is str else None


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
