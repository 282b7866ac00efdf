"""Scope and join indexes: which subjects a rule can select, which items a join can meet.

Both are exact or absent: an index answers only when skipping the other items cannot
change a result (all keys of one type, hashable; `==` between different types is an
error the full scan must meet). Otherwise it answers None and the caller scans.

NOTE: patterns not indexed (left to the scan): conditions that are not the first
conjunct, `!=` and ordering comparisons, keys computed by calls, and nested collections
such as `project.risks` (already per subject).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from .. import ast
from ..values import type_name


def first_conjunct(e: ast.Expr) -> ast.Expr:
    while isinstance(e, ast.Binary) and e.op == "and":
        e = e.left
    return e


def path_keys(e: ast.Expr, var: str) -> tuple[str, ...] | None:
    """`v.a["b"].c` -> ("a", "b", "c") when rooted at `var` with literal keys."""
    keys: list[str] = []
    while True:
        if isinstance(e, ast.Attr):
            keys.append(e.name)
            e = e.obj
        elif isinstance(e, ast.Index) and isinstance(e.key, ast.Literal) and isinstance(e.key.value, str):
            keys.append(e.key.value)
            e = e.obj
        elif isinstance(e, ast.Name) and e.name == var:
            return tuple(reversed(keys)) if keys else None
        else:
            return None


def mentions(e: ast.Expr, name: str) -> bool:
    if isinstance(e, ast.Name):
        return e.name == name
    for f in dataclasses.fields(e):
        v = getattr(e, f.name)
        if isinstance(v, ast.Expr) and mentions(v, name):
            return True
        if isinstance(v, tuple) and any(isinstance(x, ast.Expr) and mentions(x, name) for x in v):
            return True
    return False


def _is_pure_outer(e: ast.Expr, var: str) -> bool:
    """An outer key: names, paths and literals only (no calls, no comprehensions)."""
    if isinstance(e, (ast.Literal, ast.Today)):
        return True
    if isinstance(e, ast.Name):
        return e.name != var
    if isinstance(e, ast.Attr):
        return _is_pure_outer(e.obj, var)
    if isinstance(e, ast.Index):
        return _is_pure_outer(e.obj, var) and isinstance(e.key, ast.Literal)
    return False


def _values(items: list, keys: tuple[str, ...]) -> list:
    """The key of each item: `keys` read in turn (`milestone.project.status`), a null staying
    null, a field of anything else but a record a TypeError. A level at a time, each read
    in C where every value is a record (300,000 milestones' projects, then their status)."""
    values = items
    for k in keys:
        kinds = set(map(type, values))
        if kinds <= {dict}:
            values = list(map(dict.get, values, repeat(k)))
        elif kinds <= {dict, type(None)}:
            values = [None if v is None else v.get(k) for v in values]
        else:
            raise TypeError("field of a non-record")
    return values


def _grouped(keys: Iterable[Any]) -> dict[Any, list[int]]:
    """Each key -> the positions holding it, in order (TypeError for an unhashable key)."""
    groups: dict[Any, list[int]] = {}
    get = groups.get
    for pos, k in enumerate(keys):
        group = get(k)
        if group is None:
            groups[k] = [pos]
        else:
            group.append(pos)
    return groups


class Index:
    """Items of a collection grouped by one key path, in collection order: the positions
    of the items whose key is of class C and `==` value v, for each (C, v) (`positions`).

    With one class of key (and nulls), the key alone tells the groups apart and they are
    kept by it (`plain`): a (class, key) pair for every group would cost a tuple each,
    and at 100,000 projects by id a list each too, so when every key is different (ids)
    `plain` holds each one's position itself. `buckets` gives every form as (class, key)
    -> positions."""

    __slots__ = ("_buckets", "plain", "kind", "unique", "types", "usable")

    def __init__(self) -> None:
        self._buckets: dict[tuple[type, Any], list[int]] = {}
        self.plain: dict[Any, Any] | None = None  # key -> [positions] (or position, if `unique`)
        self.kind: type | None = None  # the class of every key of `plain` that is not null
        self.unique = False
        self.types: set[str] = set()
        self.usable = True

    @classmethod
    def build(cls, items: list, keys: tuple[str, ...]) -> Index:
        idx = cls()
        try:
            values = _values(items, keys)
            kinds = set(map(type, values)) - {type(None)}
            if len(kinds) <= 1:
                idx._group_plain(values)
                if kinds:
                    idx.kind = kinds.pop()
                    idx.types.add(type_name(next(v for v in values if v is not None)))
                return idx
            idx._buckets = _grouped((k.__class__, k) for k in values)
        except TypeError:  # an unhashable key (a list or record), or a field of a non-record
            idx.usable = False
            idx._buckets = {}
            idx.plain = None
            return idx
        for _cls, k in idx._buckets:
            if k is not None:
                idx.types.add(type_name(k))
        return idx

    def _group_plain(self, values: list) -> None:
        at = dict(zip(values, range(len(values))))  # a key seen twice keeps its last position
        if len(at) == len(values):
            self.plain, self.unique = at, True
            return
        self.plain = _grouped(values)

    def positions(self, value: Any) -> list[int]:
        """Positions of the items whose key is of `value`'s class and `==` it (no type check)."""
        plain = self.plain
        if plain is None:
            return self._buckets.get((value.__class__, value), [])
        if value is not None and value.__class__ is not self.kind:
            return []
        hit = plain.get(value)
        if hit is None:
            return []
        return [hit] if self.unique else hit

    @property
    def buckets(self) -> dict[tuple[type, Any], list[int]]:
        if self.plain is None:
            return self._buckets
        return {(k.__class__, k): ([v] if self.unique else v) for k, v in self.plain.items()}

    def lookup(self, value: Any) -> list | None:
        """Positions of the items whose key `==` value, or None when only a scan is exact."""
        if not self.usable:
            return None
        if value is None:
            return self.positions(None)
        if isinstance(value, (list, dict)):
            return None
        if self.types - {type_name(value)}:
            return None  # `==` between different types is an error the scan must meet
        return self.positions(value)


class LazyItems:
    """A join index built on first use, answering with items only."""

    def __init__(self, items: list, keys: tuple[str, ...]):
        self._items = items
        self._keys = keys
        self._index: Index | None = None
        self._answers: dict[Any, list] = {}  # by (class, key)
        # by the key itself when it is text (no value but a text `==` a text): what the
        # verdicts read first, without a call (`fastpath._items`)
        self.texts: dict[str, list] = {}

    def build(self) -> None:
        if self._index is None:
            self._index = Index.build(self._items, self._keys)

    def lookup(self, value: Any) -> list | None:
        if self._index is None:
            self._index = Index.build(self._items, self._keys)
        text = value.__class__ is str
        try:
            return self.texts[value] if text else self._answers[(value.__class__, value)]
        except (KeyError, TypeError):
            pass
        hits = self._index.lookup(value)
        if hits is None:
            return None
        items = [self._items[pos] for pos in hits]
        try:
            if text:
                self.texts[value] = items
            else:
                self._answers[(value.__class__, value)] = items
        except TypeError:
            pass
        return items


class JoinIndexes:
    """Per-run cache of indexes, shared by every rule (one per collection and key path)."""

    def __init__(self, snapshot: Any):
        self.snapshot = snapshot
        self._joins: dict[tuple[str, tuple[str, ...]], LazyItems] = {}

    def index(self, collection: str, keys: tuple[str, ...]) -> LazyItems:
        k = (collection, keys)
        if k not in self._joins:
            self._joins[k] = LazyItems(self.snapshot.collection(collection), keys)
        return self._joins[k]

    def build_all(self) -> None:
        """Build every join index asked for so far now (before workers fork and share them)."""
        for lazy in self._joins.values():
            lazy.build()


@dataclass(frozen=True)
class Join:
    collection: str
    inner: tuple[str, ...]
    outer: ast.Expr


def find_join(e: ast.Comprehension, collections: frozenset[str] | set[str]) -> Join | None:
    """A join on the first conjunct of the `where` or, for `any`/`none`/`count` without a
    `where`, of the element: items outside the bucket make that conjunct false, which
    cannot change those aggregates."""
    if not (isinstance(e.collection, ast.Name) and e.collection.name in collections):
        return None
    if e.where is not None:
        cond = first_conjunct(e.where)
    elif e.agg in ("any", "none", "count"):
        cond = first_conjunct(e.element)
    else:
        return None
    if not (isinstance(cond, ast.Compare) and cond.op == "=="):
        return None
    for inner, outer in ((cond.left, cond.right), (cond.right, cond.left)):
        keys = path_keys(inner, e.var)
        if keys is not None and _is_pure_outer(outer, e.var) and not mentions(outer, e.var):
            return Join(e.collection.name, keys, outer)
    return None


ScopeTest = tuple[str, tuple[str, ...], Any]  # (op, key path, wanted value)


def scope_test(rule: ast.Rule, params: dict[str, Any]) -> ScopeTest | None:
    """The indexable first conjunct of the rule's `where`, worked out once per run, as
    (op, key path, wanted value); None when there is none."""
    fc = rule.for_clause
    if fc is None or fc.where is None:
        return None
    cond = first_conjunct(fc.where)
    if not isinstance(cond, ast.Compare) or cond.op not in ("==", "in"):
        return None
    keys = path_keys(cond.left, fc.var)
    other = cond.right
    if keys is None and cond.op == "==":
        keys, other = path_keys(cond.right, fc.var), cond.left
    if keys is None:
        return None
    if isinstance(other, ast.Literal):
        wanted = other.value
    elif isinstance(other, ast.ListLit) and all(isinstance(i, ast.Literal) for i in other.items):
        wanted = [i.value for i in other.items]  # type: ignore[attr-defined]
    elif isinstance(other, ast.Name) and other.name in params:
        wanted = params[other.name]
    else:
        return None
    return cond.op, keys, wanted


def scope_holds(test: ScopeTest | None) -> bool:
    """Does every subject `scope_candidates` selects make the first conjunct true? So for
    `subject.f == VALUE` (not null, not a list or record): its bucket holds exactly the
    subjects whose key has VALUE's type and equals it. Not for `in`, whose candidates
    include the nulls (an error the full evaluation must meet)."""
    return (test is not None and test[0] == "==" and test[2] is not None
            and not isinstance(test[2], (list, dict)))


def after_first_conjunct(e: ast.Expr) -> ast.Expr | None:
    """`e` without its first conjunct (`a and b and c` -> `b and c`; `a` -> None)."""
    if not (isinstance(e, ast.Binary) and e.op == "and"):
        return None
    rest = after_first_conjunct(e.left)
    return e.right if rest is None else ast.Binary(e.span, "and", rest, e.right)


def scope_candidates(test: ScopeTest | None, index_of: Callable[[tuple[str, ...]], Index]) -> list[int] | None:
    """Positions of the subjects a rule's `where` (its `scope_test`) can select, or None
    for all of them. `index_of(keys)` is the scope index of the subjects being evaluated
    (a worker's chunk) by that key path: the caller builds it once for all the rules over
    those subjects."""
    if test is None:
        return None
    op, keys, wanted = test
    idx = index_of(keys)
    if not idx.usable:
        return None
    if op == "==":
        return idx.lookup(wanted)
    if not isinstance(wanted, list) or any(isinstance(w, (list, dict)) for w in wanted):
        return None
    kinds = {type_name(w) for w in wanted if w is not None}
    if len(kinds) > 1 or (idx.types and kinds and idx.types != kinds):
        return None
    positions = list(idx.positions(None))  # `null in [...]` is an error
    seen: set = set()
    for w in wanted:
        if w is None or (w.__class__, w) in seen:
            continue
        seen.add((w.__class__, w))
        positions.extend(idx.positions(w))
    return sorted(positions)
