"""Infer the type of every expression and report names, fields and operations that
cannot work, before any data is read.

One function per node family, each returning the node's `Type` and adding diagnostics to
the `Scope`. Unknown things infer as `ANY` so one mistake is reported once, not cascaded.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import re2

from .. import ast
from ..diagnostics import Diagnostic, did_you_mean, one_of
from ..registry import FunctionSpec
from ..types import (
    ANY,
    ANY_LIST,
    ANY_RECORD,
    BOOL,
    DATE,
    DURATION,
    NULL,
    NUMBER,
    TEXT,
    ListType,
    RecordType,
    Type,
    compatible,
    is_any,
    unify,
)

AGGREGATES = ("all", "any", "none", "count", "sum", "min", "max", "avg")
ORDERED = (NUMBER, DATE, DURATION, TEXT)


@dataclass
class Scope:
    """What names mean inside one rule (or waiver condition, or test value)."""

    collections: dict[str, ListType]
    params: dict[str, Type]
    param_values: dict[str, object]
    functions: dict[str, FunctionSpec]
    locals: dict[str, Type] = field(default_factory=dict)
    diags: list[Diagnostic] = field(default_factory=list)
    duration_sums: set = field(default_factory=set)

    def child(self, name: str, t: Type) -> Scope:
        s = Scope(self.collections, self.params, self.param_values, self.functions, dict(self.locals),
                  self.diags, self.duration_sums)
        s.locals[name] = t
        return s

    def error(self, code: str, message: str, span, hint: str | None = None, details: tuple[str, ...] = ()) -> None:
        self.diags.append(Diagnostic(code, message, span, details, hint))

    def visible_names(self) -> list[str]:
        return [*self.locals, *self.params, *self.collections]


def type_of_value(value: object) -> Type:
    from datetime import date
    from decimal import Decimal

    from ..values import Duration

    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, Decimal):
        return NUMBER
    if isinstance(value, str):
        return TEXT
    if isinstance(value, date):
        return DATE
    if isinstance(value, Duration):
        return DURATION
    return ANY


def infer(e: ast.Expr, s: Scope) -> Type:
    fn = _DISPATCH.get(type(e))
    assert fn is not None, type(e)
    return fn(e, s)


def _literal(e: ast.Literal, s: Scope) -> Type:
    if e.kind == "invalid":
        return ANY  # already reported by the parser; do not pile a type error on top
    return type_of_value(e.value)


def _list(e: ast.ListLit, s: Scope) -> Type:
    t: Type = NULL
    for item in e.items:
        t = unify(t, infer(item, s))
    return ListType("list", ANY if t == NULL else t)


def _object(e: ast.ObjectLit, s: Scope) -> Type:
    return RecordType("record", {k: infer(v, s) for k, v in zip(e.keys, e.values)}, True)


def _today(e: ast.Today, s: Scope) -> Type:
    return DATE


def _name(e: ast.Name, s: Scope) -> Type:
    if e.name in s.locals:
        return s.locals[e.name]
    if e.name in s.params:
        return s.params[e.name]
    if e.name in s.collections:
        return s.collections[e.name]
    hint = did_you_mean(e.name, s.visible_names())
    if e.name in s.functions or e.name in AGGREGATES:
        hint = f"`{e.name}` is a function: call it as `{e.name}(...)`"
    s.error("unknown-name", f"unknown name `{e.name}`", e.span, hint,
            (f"names in scope here: {one_of(s.visible_names())}",))
    return ANY


def _field_type(obj_t: Type, key: str, e: ast.Expr, s: Scope, dotted: bool) -> Type:
    if is_any(obj_t) or obj_t == NULL:
        return ANY
    if isinstance(obj_t, RecordType):
        if key in obj_t.fields:
            return obj_t.fields[key]
        if obj_t.open:
            return ANY
        if not dotted:
            return ANY  # x["key"] reads any key, kept from the data as it is
        s.error("unknown-field", f"unknown field `{key}` on a {obj_t}", e.span,
                did_you_mean(key, obj_t.fields) or
                f"declare it in a schema extension, or read it with [\"{key}\"]",
                (f"valid fields: {one_of(obj_t.fields)}",))
        return ANY
    if isinstance(obj_t, ListType):
        s.error("type-mismatch", f"`{e.text}` reads a field of a list", e.span,
                "use a comprehension, e.g. `all(x.field ... for x in list)`, or `count(list)`")
        return ANY
    s.error("type-mismatch", f"`{e.text}` reads a field of a {obj_t}", e.span)
    return ANY


def _attr(e: ast.Attr, s: Scope) -> Type:
    return _field_type(infer(e.obj, s), e.name, e, s, dotted=True)


def _index(e: ast.Index, s: Scope) -> Type:
    obj_t = infer(e.obj, s)
    key_t = infer(e.key, s)
    if isinstance(obj_t, ListType):
        if not (is_any(key_t) or key_t == NUMBER):
            s.error("type-mismatch", f"a list is indexed by a number, not a {key_t}", e.key.span)
        return obj_t.elem
    if not (is_any(key_t) or key_t == TEXT):
        s.error("type-mismatch", f"a record key must be text, not a {key_t}", e.key.span)
        return ANY
    if isinstance(e.key, ast.Literal) and isinstance(e.key.value, str):
        return _field_type(obj_t, e.key.value, e, s, dotted=False)
    return ANY


def _unary(e: ast.Unary, s: Scope) -> Type:
    t = infer(e.operand, s)
    if e.op == "not":
        _want_bool(t, e.operand, s, "`not`")
        return BOOL
    if t in (NUMBER, DURATION) or is_any(t):
        return t
    s.error("type-mismatch", f"cannot negate a {t}", e.span)
    return ANY


def _want_bool(t: Type, e: ast.Expr, s: Scope, what: str) -> None:
    if not (t == BOOL or t == NULL or is_any(t)):
        s.error("type-mismatch", f"{what} needs true or false, but `{e.text}` is a {t}", e.span,
                "compare it with something, e.g. `x > 0` or `x is present`")


ARITH = {
    ("+", NUMBER, NUMBER): NUMBER, ("-", NUMBER, NUMBER): NUMBER,
    ("*", NUMBER, NUMBER): NUMBER, ("/", NUMBER, NUMBER): NUMBER,
    ("-", DATE, DATE): DURATION, ("+", DATE, DURATION): DATE, ("-", DATE, DURATION): DATE,
    ("+", DURATION, DATE): DATE,
    ("+", DURATION, DURATION): DURATION, ("-", DURATION, DURATION): DURATION,
    ("*", DURATION, NUMBER): DURATION, ("*", NUMBER, DURATION): DURATION,
    ("/", DURATION, NUMBER): DURATION, ("/", DURATION, DURATION): NUMBER,
    ("+", TEXT, TEXT): TEXT,
}


def arith_result(op: str, lt: Type, rt: Type) -> Type | None:
    return ARITH.get((op, lt, rt))


def _binary(e: ast.Binary, s: Scope) -> Type:
    lt = infer(e.left, s)
    rt = infer(e.right, s)
    if e.op in ("and", "or", "implies"):
        _want_bool(lt, e.left, s, f"`{e.op}`")
        _want_bool(rt, e.right, s, f"`{e.op}`")
        return BOOL
    if e.op == "??":
        if lt != NULL and rt != NULL and not compatible(lt, rt):
            s.error("type-mismatch", f"`??` gives a {lt} or a {rt}; both sides must have one type",
                    e.span)
        return unify(lt, rt)
    if lt == NULL or rt == NULL:
        s.error("null-operand", f"`{e.op}` on null always gives an error", e.span,
                "use `??` to give a default")
        return ANY
    if is_any(lt) or is_any(rt):
        known = rt if is_any(lt) else lt
        if is_any(known):
            return ANY
        if e.op in ("*", "/") and known == DURATION:
            return ANY
        if known == DATE and e.op == "-":
            return ANY
        return known
    result = arith_result(e.op, lt, rt)
    if result is None:
        hint = None
        if DURATION in (lt, rt) and NUMBER in (lt, rt) and e.op in "+-":
            hint = "add a duration such as `14d`, or convert with `days(...)`"
        elif DATE in (lt, rt) and NUMBER in (lt, rt):
            hint = "add a duration such as `14d` to a date, not a number"
        s.error("type-mismatch", f"cannot apply `{e.op}` to a {lt} and a {rt}", e.span, hint)
        return ANY
    return result


def _compare(e: ast.Compare, s: Scope) -> Type:
    lt = infer(e.left, s)
    rt = infer(e.right, s)
    op = e.op
    if op in ("==", "!="):
        if not compatible(lt, rt):
            s.error("type-mismatch", f"cannot compare a {lt} with a {rt}", e.span, _compare_hint(lt, rt))
        return BOOL
    if op in ("<", "<=", ">", ">="):
        for side, t in ((e.left, lt), (e.right, rt)):
            if t == NULL:
                s.error("null-operand", f"`{op}` with null always gives an error", side.span)
                return BOOL
        if is_any(lt) or is_any(rt):
            known = rt if is_any(lt) else lt
            if not (is_any(known) or known in ORDERED):
                s.error("type-mismatch", f"a {known} has no order for `{op}`", e.span)
            return BOOL
        if lt != rt or lt not in ORDERED:
            s.error("type-mismatch", f"cannot compare a {lt} with a {rt} using `{op}`", e.span,
                    _compare_hint(lt, rt))
        return BOOL
    if op in ("in", "not in"):
        _container(rt, lt, e.right, e, s)
        return BOOL
    if op == "contains":
        _container(lt, rt, e.left, e, s)
        return BOOL
    if op == "matches":
        if not (lt == TEXT or is_any(lt)):
            s.error("type-mismatch", f"`matches` needs text on the left, not a {lt}", e.left.span)
        _check_regex(e.right, s)
        return BOOL
    raise AssertionError(op)  # pragma: no cover


def _compare_hint(lt: Type, rt: Type) -> str | None:
    if {lt, rt} == {DURATION, NUMBER}:
        return "a duration never compares with a bare number: write `30d`, or use `days(x)`"
    if {lt, rt} == {DATE, TEXT}:
        return "write a date literal without quotes, e.g. 2026-11-26, or use `date(\"...\")`"
    if {lt, rt} == {NUMBER, TEXT}:
        return "numbers are written without quotes"
    return None


def _container(container: Type, item: Type, cexpr: ast.Expr, e: ast.Expr, s: Scope) -> None:
    if container == NULL:
        s.error("null-operand", f"`{e.op}` on null always gives an error", cexpr.span)  # type: ignore[attr-defined]
        return
    if is_any(container):
        return
    if container == TEXT:
        if not (item == TEXT or is_any(item) or item == NULL):
            s.error("type-mismatch", f"only text can be found in a text, not a {item}", e.span)
        return
    if isinstance(container, ListType):
        if not compatible(container.elem, item):
            s.error("type-mismatch", f"a {item} is never in a {container}", e.span)
        return
    s.error("type-mismatch", f"`{cexpr.text}` is a {container}, not a list or text", cexpr.span)


def _check_regex(e: ast.Expr, s: Scope) -> None:
    pattern = None
    if isinstance(e, ast.Literal) and isinstance(e.value, str):
        pattern = e.value
    elif isinstance(e, ast.Name) and e.name in s.params and e.name not in s.locals:
        if s.params[e.name] != TEXT:
            s.error("type-mismatch", f"`matches` needs a text pattern, and param `{e.name}` is a {s.params[e.name]}", e.span)
            return
        pattern = s.param_values.get(e.name)  # type: ignore[assignment]
    else:
        s.error("bad-regex", "`matches` takes a string literal or a text param", e.span,
                'write the pattern in quotes, e.g. `matches "^PRJ-\\d{6}$"`')
        return
    if isinstance(pattern, str):
        problem = regex_problem(pattern)
        if problem:
            s.error("bad-regex", f"invalid regular expression: {problem}", e.span,
                    "patterns use RE2 syntax (no backreferences or look-around)")


def regex_problem(pattern: str) -> str | None:
    with _quiet_stderr():
        try:
            re2.compile(pattern)
        except Exception as exc:  # noqa: BLE001 - re2 raises its own error type
            text = exc.args[0] if exc.args else ""
            if isinstance(text, bytes):
                text = text.decode("utf-8", "replace")
            return str(text) or "cannot compile"
    return None


@contextlib.contextmanager
def _quiet_stderr():
    """RE2's C++ logger writes a banner to fd 2 on the first bad pattern; keep it off the user's screen."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(fd, 2)
        os.close(fd)


def _present(e: ast.IsPresent, s: Scope) -> Type:
    infer(e.operand, s)
    return BOOL


TYPE_NAMES = {"number": NUMBER, "text": TEXT, "bool": BOOL, "date": DATE, "duration": DURATION}


def _accepts(pattern: str, t: Type) -> bool:
    if is_any(t) or t == NULL:
        return True
    for alt in pattern.split("|"):
        if alt == "any":
            return True
        if alt == "list" and isinstance(t, ListType):
            return True
        if alt == "record" and isinstance(t, RecordType):
            return True
        if alt in TYPE_NAMES and TYPE_NAMES[alt] == t:
            return True
        if isinstance(t, RecordType) and (t.name == alt or (alt == "project" and t.name == "project")):
            return True
    return False


def _call(e: ast.Call, s: Scope) -> Type:
    if e.func in AGGREGATES and len(e.args) == 1 and not (e.func in ("min", "max") and False):
        return _plain_aggregate(e, s)
    arg_types = [infer(a, s) for a in e.args]
    spec = s.functions.get(e.func)
    if spec is None:
        names = list(s.functions) + list(AGGREGATES)
        s.error("unknown-function", f"unknown function `{e.func}`", e.name_span,
                did_you_mean(e.func, names), (f"functions: {one_of(names)}",))
        return ANY
    min_args = spec.min_args if spec.min_args is not None else len(spec.params)
    max_args = None if spec.varargs else len(spec.params)
    n = len(e.args)
    if n < min_args or (max_args is not None and n > max_args):
        want = f"{min_args}" if min_args == max_args else (f"{min_args} or more" if max_args is None else f"{min_args} to {max_args}")
        s.error("bad-arity", f"`{e.func}` takes {want} argument(s), not {n}", e.span,
                f"signature: {spec.signature}")
        return _returns(spec, arg_types)
    for i, (a, t) in enumerate(zip(e.args, arg_types)):
        pattern = spec.params[min(i, len(spec.params) - 1)]
        if not _accepts(pattern, t):
            s.error("type-mismatch", f"argument {i + 1} of `{e.func}` must be a {pattern.replace('|', ' or ')}, not a {t}",
                    a.span, f"signature: {spec.signature}")
    return _returns(spec, arg_types)


def _returns(spec: FunctionSpec, arg_types: list[Type]) -> Type:
    if spec.returns == "same":
        return arg_types[0] if arg_types else ANY
    return TYPE_NAMES.get(spec.returns, ANY)


def _aggregate_type(agg: str, elem: Type, e: ast.Expr, elem_expr: ast.Expr, s: Scope) -> Type:
    if agg in ("all", "any", "none"):
        _want_bool(elem, elem_expr, s, f"`{agg}`")
        return BOOL
    if agg == "count":
        return NUMBER
    if agg in ("sum", "avg"):
        if agg == "sum" and elem == DURATION:
            s.duration_sums.add(e.span)
        if not (is_any(elem) or elem in (NUMBER, DURATION) or elem == NULL):
            s.error("type-mismatch", f"cannot {agg} a {elem}", elem_expr.span,
                    "sum and avg take numbers or durations; use `count(...)` to count items")
            return ANY
        return elem if elem != NULL else ANY
    if agg in ("min", "max"):
        if not (is_any(elem) or elem in ORDERED or elem == NULL):
            s.error("type-mismatch", f"cannot take the {agg} of a {elem}", elem_expr.span)
            return ANY
        return elem
    raise AssertionError(agg)  # pragma: no cover


def _plain_aggregate(e: ast.Call, s: Scope) -> Type:
    t = infer(e.args[0], s)
    if is_any(t):
        return ANY if e.func not in ("all", "any", "none", "count") else (BOOL if e.func != "count" else NUMBER)
    if not isinstance(t, ListType):
        s.error("type-mismatch", f"`{e.func}` of one argument needs a list, not a {t}", e.args[0].span,
                f"`{e.func}(a, b)` with two or more values" if e.func in ("min", "max") else
                f"write `{e.func}(x for x in ...)`")
        return ANY
    if e.func == "count":
        return NUMBER
    return _aggregate_type(e.func, t.elem, e, e.args[0], s)


def _comprehension(e: ast.Comprehension, s: Scope) -> Type:
    if e.agg not in AGGREGATES:
        s.error("unknown-aggregate", f"unknown aggregate `{e.agg}`", e.agg_span,
                did_you_mean(e.agg, AGGREGATES), (f"aggregates: {', '.join(AGGREGATES)}",))
    coll_t = infer(e.collection, s)
    if isinstance(coll_t, ListType):
        elem_t = coll_t.elem
    elif is_any(coll_t):
        elem_t = ANY
    else:
        s.error("type-mismatch", f"`{e.collection.text}` is a {coll_t}, not a collection", e.collection.span)
        elem_t = ANY
    if e.var in s.locals or e.var in s.params or e.var in s.collections:
        s.error("shadowed-name", f"`{e.var}` is already a name here", e.span,
                "pick another variable name for the comprehension")
    inner = s.child(e.var, elem_t)
    if e.where is not None:
        _want_bool(infer(e.where, inner), e.where, inner, "`where`")
    el = infer(e.element, inner)
    if e.agg == "count":
        _want_bool(el, e.element, inner, "`count(... for ...)`")
        return NUMBER
    if e.agg not in AGGREGATES:
        return ANY
    return _aggregate_type(e.agg, el, e, e.element, inner)


_DISPATCH = {
    ast.Literal: _literal,
    ast.ListLit: _list,
    ast.ObjectLit: _object,
    ast.Today: _today,
    ast.Name: _name,
    ast.Attr: _attr,
    ast.Index: _index,
    ast.Unary: _unary,
    ast.Binary: _binary,
    ast.Compare: _compare,
    ast.IsPresent: _present,
    ast.Call: _call,
    ast.Comprehension: _comprehension,
}

__all__ = ["Scope", "infer", "AGGREGATES", "ANY_LIST", "ANY_RECORD", "regex_problem", "type_of_value"]
