"""The indexed evaluator: the reference semantics, without the quadratic scans.

Per subject it runs exactly the reference interpreter's code, so outcomes, messages and
evidence are identical by construction; what it changes is *which* items are visited:

- Scope index: a rule whose `where` starts with `subject.f == LITERAL` (or `in [LITERALS]`)
  only meets the subjects whose value can satisfy it; the others are `not_applicable`
  without being evaluated.
- Join index: a comprehension over a whole collection whose `where` starts with
  `v.f == outer.g` is answered from a hash index of the collection by `v.f`, built once
  per run, so person-load and program-total rules are linear instead of quadratic.

Both indexes fall back to the full scan whenever skipping items could change the result:
mixed value types (where `==` raises a type error), unhashable keys, or an outer value
that cannot be computed. NOTE: patterns not indexed (left to the scan): conditions that
are not the first conjunct, `!=`/`<` comparisons, calls in keys, nested collections
(`project.risks`, already per subject).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .. import ast
from ..program import Program
from ..snapshot import Snapshot
from ..values import DECIMAL_CONTEXT, type_name
from . import Evaluation, RunContext
from .errors import EvalError
from .reference import _Env, _waiver_matches, evaluate, evaluate_subject
from .waivers import apply_waivers


def _first_conjunct(e: ast.Expr) -> ast.Expr:
    while isinstance(e, ast.Binary) and e.op == "and":
        e = e.left
    return e


def _path_keys(e: ast.Expr, var: str) -> tuple[str, ...] | None:
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


def _mentions(e: ast.Expr, name: str) -> bool:
    import dataclasses

    if isinstance(e, ast.Name):
        return e.name == name

    for f in dataclasses.fields(e):
        v = getattr(e, f.name)
        if isinstance(v, ast.Expr) and _mentions(v, name):
            return True
        if isinstance(v, tuple) and any(isinstance(x, ast.Expr) and _mentions(x, name) for x in v):
            return True
    return False


def _is_pure_outer(e: ast.Expr, var: str) -> bool:
    """An outer key: names, paths and literals only (no calls, no comprehensions), not using `var`."""
    if isinstance(e, (ast.Literal, ast.Today)):
        return True
    if isinstance(e, ast.Name):
        return e.name != var
    if isinstance(e, ast.Attr):
        return _is_pure_outer(e.obj, var)
    if isinstance(e, ast.Index):
        return _is_pure_outer(e.obj, var) and isinstance(e.key, ast.Literal)
    return False


def _read(record: Any, keys: tuple[str, ...]) -> Any:
    value = record
    for k in keys:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise TypeError("field of a non-record")
        value = value.get(k)
    return value


@dataclass
class _Index:
    """Items of a collection grouped by one key path, in collection order."""

    buckets: dict[Any, list] = field(default_factory=dict)
    types: set[str] = field(default_factory=set)
    usable: bool = True

    @classmethod
    def build(cls, items: list, keys: tuple[str, ...]) -> _Index:
        idx = cls()
        for pos, item in enumerate(items):
            try:
                k = _read(item, keys)
                hash(k)
            except TypeError:
                idx.usable = False
                return idx
            if isinstance(k, (list, dict)):
                idx.usable = False
                return idx
            if k is not None:
                idx.types.add(type_name(k))
            idx.buckets.setdefault(k, []).append((pos, item))
        return idx

    def lookup(self, value: Any) -> list | None:
        """Items whose key `==` value, or None when only a full scan is exact."""
        if not self.usable:
            return None
        if value is None:
            return self.buckets.get(None, [])
        if isinstance(value, (list, dict)):
            return None
        t = type_name(value)
        if self.types - {t}:
            return None  # `==` between different types is an error the scan must meet
        return self.buckets.get(value, [])


@dataclass(frozen=True)
class _Join:
    collection: str
    inner: tuple[str, ...]
    outer: ast.Expr


def find_join(e: ast.Comprehension, collections: set[str]) -> _Join | None:
    """A join on the first conjunct of the `where` or, for `any`/`none`/`count` without a
    `where`, of the element: items outside the bucket make that conjunct false, which
    cannot change those aggregates."""
    if not (isinstance(e.collection, ast.Name) and e.collection.name in collections):
        return None
    if e.where is not None:
        cond = _first_conjunct(e.where)
    elif e.agg in ("any", "none", "count"):
        cond = _first_conjunct(e.element)
    else:
        return None
    if not (isinstance(cond, ast.Compare) and cond.op == "=="):
        return None
    for inner, outer in ((cond.left, cond.right), (cond.right, cond.left)):
        keys = _path_keys(inner, e.var)
        if keys is not None and _is_pure_outer(outer, e.var) and not _mentions(outer, e.var):
            return _Join(e.collection.name, keys, outer)
    return None


def _comprehensions(e: Any):
    import dataclasses

    if isinstance(e, ast.Comprehension):
        yield e
    if dataclasses.is_dataclass(e):
        for f in dataclasses.fields(e):
            v = getattr(e, f.name)
            if isinstance(v, (ast.Expr, ast.Template, ast.TemplateField)):
                yield from _comprehensions(v)
            elif isinstance(v, tuple):
                for x in v:
                    if isinstance(x, (ast.Expr, ast.TemplateField)) or dataclasses.is_dataclass(x):
                        yield from _comprehensions(x)


def _rule_exprs(rule: ast.Rule):
    fc = rule.for_clause
    if fc is not None and fc.where is not None:
        yield fc.where
    for let in rule.lets:
        yield let.expr
    for req in rule.requires:
        yield req.cond
        if req.otherwise is not None:
            yield req.otherwise
    if rule.message is not None:
        yield rule.message


class _Joiner:
    """The `narrow` hook: answers joined comprehensions from per-run hash indexes."""

    def __init__(self, snapshot: Snapshot, joins: dict[ast.Span, _Join]):
        self.snapshot = snapshot
        self.joins = joins
        self.indexes: dict[tuple[str, tuple[str, ...]], _Index] = {}

    def __call__(self, e: ast.Comprehension, coll: list, env: _Env) -> list:
        join = self.joins.get(e.span)
        if join is None or coll is not self.snapshot.collection(join.collection):
            return coll
        key = (join.collection, join.inner)
        idx = self.indexes.get(key)
        if idx is None:
            idx = self.indexes[key] = _Index.build(coll, join.inner)
        try:
            value = evaluate(join.outer, env)
        except EvalError:
            return coll
        hits = idx.lookup(value)
        if hits is None:
            return coll
        return [item for _, item in hits]


def _scope_candidates(rule: ast.Rule, subjects: list, params: dict[str, Any]) -> list[int] | None:
    """Positions of the subjects a rule's `where` can select, or None for all of them."""
    fc = rule.for_clause
    if fc is None or fc.where is None:
        return None
    cond = _first_conjunct(fc.where)
    if not isinstance(cond, ast.Compare) or cond.op not in ("==", "in"):
        return None
    keys = _path_keys(cond.left, fc.var)
    other = cond.right
    if keys is None and cond.op == "==":
        keys, other = _path_keys(cond.right, fc.var), cond.left
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
    idx = _Index.build(subjects, keys)
    if not idx.usable:
        return None
    if cond.op == "==":
        hits = idx.lookup(wanted)
        return None if hits is None else [pos for pos, _ in hits]
    if not isinstance(wanted, list) or any(isinstance(w, (list, dict)) for w in wanted):
        return None
    kinds = {type_name(w) for w in wanted if w is not None}
    if len(kinds) > 1 or (idx.types and kinds and idx.types != kinds):
        return None
    positions = [pos for pos, _ in idx.buckets.get(None, [])]  # `null in [...]` is an error
    seen = set()
    for w in wanted:
        if w is None or w in seen:
            continue
        seen.add(w)
        positions.extend(pos for pos, _ in idx.buckets.get(w, []))
    return sorted(positions)


class IndexedEvaluator:
    """Reference semantics with scope and join indexes."""

    def evaluate(self, program: Program, snapshot: Snapshot, as_of: dt.date, *,
                 include_passes: bool = False) -> Evaluation:
        out = Evaluation()
        collections = {"projects", "people", "programs", "risks", "issues", "milestones", "gates",
                       "assignments", "change_requests"}
        joins: dict[ast.Span, _Join] = {}
        for rule in program.rules:
            for expr in _rule_exprs(rule):
                for comp in _comprehensions(expr):
                    j = find_join(comp, collections)
                    if j is not None:
                        joins[comp.span] = j
        joiner = _Joiner(snapshot, joins)
        run = RunContext(snapshot, as_of)
        with decimal.localcontext(DECIMAL_CONTEXT):
            for rule in program.rules:
                counts: Counter = Counter()
                out.counts[rule.id] = counts
                fc = rule.for_clause
                assert fc is not None and isinstance(fc.collection, ast.Name)
                params = program.params.get(rule.package, {})
                subjects = snapshot.collection(fc.collection.name)
                positions = _scope_candidates(rule, subjects, params)
                chosen = subjects if positions is None else [subjects[i] for i in positions]
                counts["not_applicable"] += len(subjects) - len(chosen)
                for subject in chosen:
                    env = _Env(program, params, run)
                    env.narrow = joiner
                    res = evaluate_subject(rule, subject, env)
                    counts[res.outcome] += 1
                    if res.outcome != "not_applicable" and (res.outcome != "pass" or include_passes):
                        out.results.append(res)
            apply_waivers(program, snapshot, as_of, out,
                          lambda w, rule, subject: _waiver_matches(program, run, w, rule, subject))
        return out

