"""A fast verdict per rule: generated Python that decides the common outcomes, or defers.

Most (rule, subject) pairs of a real audit pass or are out of scope, and for those no
evidence, message or hint is ever shown. So each rule is also compiled, once per run, into
one plain Python function of the subject (generated source, `exec`-ed): locals instead of
an environment, no evidence recording, operators inlined for the usual operand types. It
answers only what it can prove:

- `True`: every `require` holds (the outcome is `pass`);
- `False`: the `where` scope is false (`not_applicable`);
- `None`, or any exception: "not sure", and the caller runs the full compiled closure
  (`compiled.py`), which mirrors the reference interpreter and builds the evidence.

A null operand, an unknown truth value, mixed types, a failing requirement, a plugin that
raises: each defers instead of being decided here, so the only way this module can be
wrong is by claiming `pass` or `not_applicable` where the oracle would not. The
differential tests (`tests/test_differential*.py`, `tests/test_fastpath.py`) hold it to that.
Metrics go through the run's shared metric cache, so each is still computed at most once
per subject whichever path asks first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import re2

from .. import ast
from ..schema.models import ALL_COLLECTIONS
from ..snapshot import view_item
from ..values import Duration
from . import RunContext, ops
from .compiled import AGGREGATES
from .errors import EvalError
from .indexes import JoinIndexes, after_first_conjunct, find_join
from .reference import (
    AGG_BOOL,
    RESULT_TYPES,
    _Env,
    check_result,
    evaluate_unrecorded,
    invoke,
    invoke_metric,
)

Verdict = Callable[..., "bool | None"]  # of a subject (and None); of a view item's child and project (`pair`)


class Defer(Exception):  # noqa: N818 - not an error: "ask the full evaluator"
    """Raised inside a verdict when only the full evaluator can decide."""


# ------------------------------------------------------------ runtime helpers --
# Each mirrors an operator of `ops.py` for the operand types it handles and defers on
# anything else (including every case where `ops` would raise an EvalError).

_SIMPLE_EQ = frozenset({str, Decimal, dt.date, bool, Duration})
_ORDERED = frozenset({str, Decimal, dt.date, Duration})


def _defer() -> Any:
    raise Defer


def _get(obj: Any, key: str) -> Any:
    if obj.__class__ is dict:
        return obj.get(key)
    if obj is None:
        return None
    raise Defer


def _coalesce(v: Any, otherwise: Callable[[], Any]) -> Any:
    return v if v is not None else otherwise()


def _truth(v: Any) -> bool:
    if v is True or v is False:
        return v
    raise Defer


def _eq(a: Any, b: Any, e: ast.Compare) -> bool:
    c = a.__class__
    if c is b.__class__ and c in _SIMPLE_EQ:
        return a == b
    return ops.equal(a, b, e)


def _lt(a: Any, b: Any, e: ast.Compare) -> bool:
    c = a.__class__
    if c is b.__class__ and c in _ORDERED:
        return a < b
    return ops.order("<", a, b, e)


def _le(a: Any, b: Any, e: ast.Compare) -> bool:
    c = a.__class__
    if c is b.__class__ and c in _ORDERED:
        return a <= b
    return ops.order("<=", a, b, e)


def _gt(a: Any, b: Any, e: ast.Compare) -> bool:
    c = a.__class__
    if c is b.__class__ and c in _ORDERED:
        return a > b
    return ops.order(">", a, b, e)


def _ge(a: Any, b: Any, e: ast.Compare) -> bool:
    c = a.__class__
    if c is b.__class__ and c in _ORDERED:
        return a >= b
    return ops.order(">=", a, b, e)


def _in_set(item: Any, kind: type, members: frozenset, e: ast.Compare) -> bool:
    """`item in [literals of one type]`: the set answers for an item of that type."""
    if item.__class__ is kind:
        return item in members
    return ops.contains([m for m in members], item, e, e.right, e.left)


def _contains(container: Any, item: Any, e: ast.Compare, cexpr: ast.Expr, iexpr: ast.Expr) -> bool:
    return ops.contains(container, item, e, cexpr, iexpr)


def _matcher(e: ast.Compare, regexes: dict[str, Any]) -> Callable[[Any, Any], bool]:
    """`text matches pattern`, remembering answers: names and codes repeat across a
    portfolio, and a regex answer depends on nothing else. Patterns compile once per run
    (`regexes` is the run's cache, `RunContext.regexes`)."""
    answers: dict[tuple[str, str], bool] = {}

    def matches(text: Any, pattern: Any) -> bool:
        if pattern.__class__ is not str or text.__class__ is not str:
            raise Defer
        found = answers.get((pattern, text))
        if found is None:
            rx = regexes.get(pattern)
            if rx is None:
                rx = regexes[pattern] = re2.compile(pattern)
            found = ops.matches(text, rx, e)
            if len(answers) < _MEMO_LIMIT:
                answers[(pattern, text)] = found
        return found
    return matches


_MEMO_LIMIT = 100_000
#: What `check_result` passes on as it is (its exact classes: a subclass goes through it).
_LANGUAGE_VALUES = frozenset({*RESULT_TYPES, type(None), Duration})
_NOT_FOLDED = object()


def _add(a: Any, b: Any, e: ast.Binary) -> Any:
    c = a.__class__
    if c is Decimal and b.__class__ is Decimal:
        return a + b
    if c is dt.date and b.__class__ is Duration:
        days = b.days  # as ops._shift_date; a fraction of a day or an overflow is left to ops
        if days == days.to_integral_value() and -100_000 < days < 100_000:
            return a + dt.timedelta(days=int(days))
    return ops.arith("+", a, b, e)


def _sub(a: Any, b: Any, e: ast.Binary) -> Any:
    c = a.__class__
    if c is b.__class__:
        if c is Decimal:
            return a - b
        if c is dt.date:
            return Duration(Decimal((a - b).days))  # as ops.arith: date - date is a duration
    return ops.arith("-", a, b, e)


def _mul(a: Any, b: Any, e: ast.Binary) -> Any:
    if a.__class__ is Decimal and b.__class__ is Decimal:
        return a * b
    return ops.arith("*", a, b, e)


def _div(a: Any, b: Any, e: ast.Binary) -> Any:
    if a.__class__ is Decimal and b.__class__ is Decimal and b:
        return a / b  # the run's context is the language's (28 digits); 0 is left to ops
    return ops.arith("/", a, b, e)


def _neg(a: Any, e: ast.Unary) -> Any:
    if a.__class__ is Decimal:
        return -a
    return ops.negate(a, e)


def _count(n: int) -> Decimal:
    return Decimal(n)


def _values(agg: str, e: ast.Expr, duration_zero: bool) -> Callable[[list], Any]:
    def aggregate(values: list) -> Any:
        return ops.aggregate_values(agg, values, e, duration_zero)
    return aggregate


def _plain(func: str, e: ast.Call, duration_zero: bool) -> Callable[[Any], Any]:
    """`sum(list)`, `any(list)`...: as `compiled._plain_aggregate`, deferring on errors."""
    def plain(values: Any) -> Any:
        if values.__class__ is not list:
            raise Defer
        if func == "count":
            return Decimal(len(values))
        if func in AGG_BOOL:
            unknown = False
            for v in values:
                if v is None:
                    unknown = True
                elif v is not True and v is not False:
                    raise Defer
            if unknown:
                raise Defer
            if func == "all":
                return all(values)
            if func == "any":
                return any(values)
            return not any(values)
        return ops.aggregate_values(func, values, e, duration_zero)
    return plain


def _caller(spec: Any, e: ast.Call, run: RunContext, arity: int) -> Callable[..., Any]:
    """A function or metric call, sharing the run's metric cache (`reference.metric_key`)."""
    null_ok, context, is_metric = spec.null_ok, spec.context, spec.kind == "metric"
    cache = run.metric_cache
    pins = cache.pins.append
    name = spec.name

    if is_metric and arity == 1 and not context:
        def metric1(value: Any) -> Any:  # `cpi(project)`: the key `metric_key` makes, built inline
            c = value.__class__
            if c is dict or c is list:
                key = (name, id(value))
                found = cache.get(key, cache)
                if found is not cache:
                    return found
                result = cache[key] = invoke(spec, e, [value])
                pins(value)  # as `invoke_metric` does
                return result
            if value is None and not null_ok:
                raise Defer
            key = (name, value)
            found = cache.get(key, cache)
            if found is not cache:
                return found
            result = cache[key] = invoke(spec, e, [value])
            return result
        return metric1

    if not is_metric and arity == 1 and not context:
        func = spec.func

        def call1(value: Any) -> Any:  # `len(project.risks)`: `invoke` without its frames
            if value is None and not null_ok:
                raise Defer
            result = func(value)  # raising, it defers: the full evaluator names the plugin
            if result.__class__ in _LANGUAGE_VALUES:
                return result
            return check_result(spec, result, e)
        return call1

    def call(*values: Any) -> Any:
        if not null_ok and None in values:  # no language value but null equals None
            raise Defer
        args = [run, *values] if context else list(values)
        if is_metric:
            return invoke_metric(spec, e, args, cache)
        return invoke(spec, e, args)
    return call


def _items(joins: JoinIndexes | None, collection: str | None, keys: tuple[str, ...] | None) -> Callable[..., list]:
    """The list a comprehension walks: a join bucket when the compiled evaluator would use one."""
    index = source = texts = None
    if joins is not None and collection is not None and keys is not None:
        source = joins.snapshot.collection(collection)
        index = joins.index(collection, keys)
        texts = index.texts  # a person or program id's bucket, found without a call

    def items(coll: Any, outer: Any = None) -> list:
        if coll.__class__ is not list:
            raise Defer  # null or not a list: an error the full evaluator names
        if index is not None and coll is source:
            hits = texts.get(outer) if outer.__class__ is str else None
            if hits is None:
                hits = index.lookup(outer)
            if hits is not None:
                return hits
        return coll
    return items


_HELPERS: dict[str, Any] = {
    "Defer": Defer, "_defer": _defer, "_get": _get, "_t": _truth, "_eq": _eq, "_lt": _lt, "_le": _le,
    "_gt": _gt, "_ge": _ge, "_in_set": _in_set, "_contains": _contains, "_add": _add, "_sub": _sub, "_mul": _mul, "_div": _div,
    "_neg": _neg, "_coalesce": _coalesce, "_Decimal": Decimal, "_SIMPLE_EQ": _SIMPLE_EQ, "_ORDERED": _ORDERED, "_count": _count, "_dict": dict, "_list": list,
}
_ORDER_HELPER = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_FAST_ARITH = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}


# ---------------------------------------------------------------- generation --

class Unsupported(Exception):  # noqa: N818
    """A construct this generator leaves to the full evaluator (the rule gets no verdict)."""


class VerdictCompiler:
    """Generates one verdict function per rule, with the run's params, collections and joins bound."""

    def __init__(self, program: Any, params: dict[str, Any], run: RunContext, joins: JoinIndexes):
        self.program = program
        self.params = params
        self.run = run
        self.snapshot = run.snapshot
        self.joins = joins

    def rule(self, rule: ast.Rule, *, in_scope: bool = False, pair: bool = False) -> Verdict | None:
        """The rule's verdict; `in_scope`: for subjects known to make the first conjunct of
        its `where` true (`indexes.scope_holds`), which is then not evaluated again.
        `pair`: its subjects are view items not built (`Snapshot.view_slices`), and the
        verdict is called with each item's child record and project instead."""
        try:
            return _RuleGen(self, rule, in_scope, pair).build()
        except (Unsupported, SyntaxError, RecursionError, MemoryError):
            # Python's own limits (nesting of 200 parentheses, say) are below the
            # language's: such a rule is simply left to the full evaluator.
            return None


class _RuleGen:
    def __init__(self, owner: VerdictCompiler, rule: ast.Rule, in_scope: bool = False, pair: bool = False):
        self.owner = owner
        self.rule = rule
        self.in_scope = in_scope
        self.pair = pair
        # With `pair`: the Python locals of the child record, of its project, and of the
        # view item made of both, made only if the rule uses the subject whole (`_name`).
        self.child = self.parent = self.item = ""
        self.ns: dict[str, Any] = dict(_HELPERS)
        self.names: dict[str, str] = {}  # language variable in scope -> Python local
        self.dicts: set[str] = set()  # Python locals that always hold a record (a dict)
        self.in_iterable = 0  # inside a comprehension's iterable: no assignment expressions allowed
        # Statements the line being generated runs first (see `_comprehension`), or None
        # where only an expression can go (inside a generator expression).
        self.pre: list[str] | None = None
        self.counter = 0
        self.whole = False  # with `pair`: the rule uses the view item whole

    def const(self, value: Any) -> str:
        if value is None or value is True or value is False:
            return repr(value)
        if value.__class__ is str and len(value) < 200:
            return repr(value)
        self.counter += 1
        name = f"_k{self.counter}"
        self.ns[name] = value
        return name

    def fresh(self) -> str:
        self.counter += 1
        return f"_v{self.counter}"

    def bind(self, name: str) -> str:
        """A new Python local for a language variable (shadowing gets its own name)."""
        py = self.fresh()
        self.names[name] = py
        return py

    # -- the rule --

    def build(self) -> Verdict:
        rule = self.rule
        fc = rule.for_clause
        assert fc is not None
        local = {fc.var}
        subject = self.bind(fc.var)
        self.dicts.add(subject)  # subjects are records of a collection
        if self.pair:
            self.child, self.parent, self.item = subject, self.fresh(), self.fresh()
            self.dicts.update((self.parent, self.item))
        # The engine calls a `pair` verdict as (child, project), any other as (subject,
        # None) in the same loop; tests call those with the subject alone.
        lines = [f"def verdict({subject}, {self.parent if self.pair else '_=None'}):"]
        where = after_first_conjunct(fc.where) if self.in_scope and fc.where is not None else fc.where
        if where is not None:
            w = self.fresh()
            code = self.statement(where, local, lines)
            lines.append(f"    {w} = {code}")  # a null scope is an error: defer
            lines.append(f"    if {w} is False: return False")
            lines.append(f"    if {w} is not True: return None")
        for let in rule.lets:
            code = self.statement(let.expr, local, lines)
            local = local | {let.name}
            lines.append(f"    {self.bind(let.name)} = {code}")
        for req in rule.requires:
            code = self.statement(req.cond, local, lines)
            lines.append(f"    if ({code}) is not True: return None")
        lines.append("    return True")
        if self.whole:
            # The item itself, as `Snapshot.view_slices` describes it, for a rule that uses
            # the subject whole (passes it to a function, compares it...).
            lines.insert(1, f"    {self.item} = {self.const(view_item)}({self.child}, {self.parent})")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<verdict {rule.id}>", "exec"), self.ns)  # noqa: S102 - generated from the checked AST
        fn = self.ns.pop("verdict")  # no function <-> globals cycle for a paused GC to keep
        fn.source = source  # for debugging and tests
        return fn

    def statement(self, e: ast.Expr, local: set[str], lines: list[str]) -> str:
        """Code for a top-level expression (a scope, a `let`, a `require`); the loops of
        its comprehensions go to `lines` first, as statements (see `_comprehension`)."""
        self.pre = []
        try:
            code = self.expr(e, local)
            lines.extend("    " + line for line in self.pre)
        finally:
            self.pre = None
        return code

    def lazily(self, generate: Callable[[], str]) -> tuple[str, list[str]]:
        """Code for an operand evaluated only sometimes (`b` in `a and b`, `a ?? b`), and
        the statements it needs first, which the caller must run only when it is."""
        outer = self.pre
        if outer is None:
            return generate(), []
        self.pre = []
        try:
            return generate(), self.pre
        finally:
            self.pre = outer

    def _guarded(self, first: str, test: str, body: list[str], then: str) -> str:
        """`t = first; if test(t): body; t = then`: a short-circuit whose lazy operand
        needs statements. Returns the Python local holding the value."""
        t = self.fresh()
        assert self.pre is not None
        self.pre += [f"{t} = {first}", test.format(t=t), *("    " + line for line in body), f"    {t} = {then}"]
        return t

    # -- expressions: each returns Python source computing the value --

    def expr(self, e: ast.Expr, local: set[str]) -> str:
        if not isinstance(e, ast.Literal) and self._foldable(e, local):
            folded = self._fold(e)
            if folded is not _NOT_FOLDED:
                return self.const(folded)
        method = getattr(self, "_" + type(e).__name__.lower(), None)
        if method is None:
            raise Unsupported(type(e).__name__)
        return method(e, local)

    def _literal(self, e: ast.Literal, local: set[str]) -> str:
        return self.const(e.value)

    def _today(self, e: ast.Today, local: set[str]) -> str:
        return self.const(self.owner.run.as_of)

    def _name(self, e: ast.Name, local: set[str]) -> str:
        if e.name in local:
            py = self.names[e.name]
            if py == self.child:  # the view item whole: made first (`build`)
                self.whole = True
                return self.item
            return py
        if e.name in self.owner.params:
            return self.const(self.owner.params[e.name])
        return self.const(self.owner.snapshot.collection(e.name))

    def _attr(self, e: ast.Attr, local: set[str]) -> str:
        return self._read(e.obj, e.name, local)

    def _index(self, e: ast.Index, local: set[str]) -> str:
        if isinstance(e.key, ast.Literal) and isinstance(e.key.value, str):
            return self._read(e.obj, e.key.value, local)
        raise Unsupported("computed index")

    def _read(self, obj: ast.Expr, key: str, local: set[str]) -> str:
        """`obj.key`, null-safe. Only records (dicts) have a `.get` among language values, so
        on anything else but null the generated `.get` raises and the verdict defers."""
        if self.pair and isinstance(obj, ast.Name) and obj.name in local and self.names[obj.name] == self.child:
            # A view item's field: its project's record, or the child's own field.
            return self.parent if key == "project" else f"{self.child}.get({self.const(key)})"
        code = self.expr(obj, local)
        k = self.const(key)
        if code in self.dicts:
            return f"{code}.get({k})"
        if code.isidentifier():
            return f"({code}.get({k}) if {code} is not None else None)"
        if self.in_iterable:
            return f"_get({code}, {k})"
        t = self.fresh()
        return f"({t}.get({k}) if ({t} := {code}) is not None else None)"

    def _foldable(self, e: ast.Expr, local: set[str]) -> bool:
        """Built only of literals, params and `today` with operators: no data, no calls."""
        if isinstance(e, (ast.Literal, ast.Today)):
            return True
        if isinstance(e, ast.Name):
            return e.name in self.owner.params and e.name not in local
        if isinstance(e, ast.Unary):
            return self._foldable(e.operand, local)
        if isinstance(e, (ast.Binary, ast.Compare)):
            return self._foldable(e.left, local) and self._foldable(e.right, local)
        if isinstance(e, ast.ListLit):
            return all(self._foldable(i, local) for i in e.items)
        return False

    def _fold(self, e: ast.Expr) -> Any:
        """Constant folding: the value now, computed by the reference interpreter itself;
        a constant that fails (`1 / 0`) is left for run time, where it defers."""
        env = _Env(self.owner.program, self.owner.params, self.owner.run)
        try:
            return evaluate_unrecorded(e, env)
        except (EvalError, ArithmeticError, ValueError, TypeError, OverflowError):
            return _NOT_FOLDED

    def _constant(self, e: ast.Expr) -> tuple[bool, Any]:
        """(True, value) for a literal or a param: known when the verdict is generated."""
        if isinstance(e, ast.Literal):
            return True, e.value
        if self._foldable(e, set(self.names)):
            value = self._fold(e)
            if value is not _NOT_FOLDED:
                return True, value
        return False, None

    def _listlit(self, e: ast.ListLit, local: set[str]) -> str:
        return "[" + "".join(self.expr(i, local) + ", " for i in e.items) + "]"

    def _objectlit(self, e: ast.ObjectLit, local: set[str]) -> str:
        return "{" + "".join(f"{self.const(k)}: {self.expr(v, local)}, " for k, v in zip(e.keys, e.values)) + "}"

    def _unary(self, e: ast.Unary, local: set[str]) -> str:
        if e.op == "not":
            return f"(not {self.truth(e.operand, local)})"
        return f"_neg({self.expr(e.operand, local)}, {self.const(e)})"

    def truth(self, e: ast.Expr, local: set[str]) -> str:
        """Code for a condition's True/False (deferring on null or a non-boolean)."""
        code = self.expr(e, local)
        return code if _is_boolean(e) else f"_t({code})"

    def _binary(self, e: ast.Binary, local: set[str]) -> str:
        if e.op in ("and", "or", "implies"):
            left = self.truth(e.left, local)
            right, body = self.lazily(lambda: self.truth(e.right, local))
            if body:
                if e.op == "and":
                    return self._guarded(left, "if {t}:", body, right)
                return self._guarded(f"(not {left})" if e.op == "implies" else left, "if not {t}:", body, right)
            if e.op == "and":
                return f"({left} and {right})"
            if e.op == "or":
                return f"({left} or {right})"
            return f"((not {left}) or {right})"
        if e.op == "??":
            left = self.expr(e.left, local)
            right, body = self.lazily(lambda: self.expr(e.right, local))
            if body:
                return self._guarded(left, "if {t} is None:", body, right)
            if self.in_iterable:
                return f"_coalesce({left}, lambda: {right})"
            t = self.fresh()
            return f"({t} if ({t} := {left}) is not None else {right})"
        left, right = self.expr(e.left, local), self.expr(e.right, local)
        call = f"{_FAST_ARITH[e.op]}({{a}}, {{b}}, {self.const(e)})"
        if self.in_iterable or e.op == "/":
            return call.format(a=left, b=right)
        a, b = self.fresh(), self.fresh()
        # Both operands are evaluated (and assigned) before the class test.
        return (f"(({a} {e.op} {b}) if ({a} := {left}).__class__ is ({b} := {right}).__class__ is _Decimal"
                f" else {call.format(a=a, b=b)})")

    def _compare(self, e: ast.Compare, local: set[str]) -> str:
        op = e.op
        if op in ("in", "not in") and isinstance(e.right, ast.ListLit) and e.right.items and all(
                isinstance(i, ast.Literal) for i in e.right.items):
            values = [i.value for i in e.right.items]  # type: ignore[attr-defined]
            kinds = {v.__class__ for v in values}
            if len(kinds) == 1 and next(iter(kinds)) in (str, Decimal):
                members = self.const(frozenset(values))
                test = f"_in_set({self.expr(e.left, local)}, {self.const(next(iter(kinds)))}, {members}, {self.const(e)})"
                return test if op == "in" else f"(not {test})"
        left, right = self.expr(e.left, local), self.expr(e.right, local)
        node = self.const(e)
        helper = {"==": "_eq", "!=": "_eq", **_ORDER_HELPER}.get(op)
        if helper is None:
            pass
        elif self.in_iterable:
            code = f"{helper}({left}, {right}, {node})"
            return f"(not {code})" if op == "!=" else code
        else:
            # One operand known now (a literal or param) of a plain type: compare inline
            # when the other has that type too, else the exact helper decides.
            for (known, value), other, flipped in ((self._constant(e.right), left, False),
                                                   (self._constant(e.left), right, True)):
                if known and value is not None and value.__class__ in _ORDERED | {bool}:
                    if op not in ("==", "!=") and value.__class__ is bool:
                        break
                    t, k, cls = self.fresh(), self.const(value), self.const(value.__class__)
                    pyop = _FLIP[op] if flipped else op
                    call = f"{helper}({k}, {t}, {node})" if flipped else f"{helper}({t}, {k}, {node})"
                    if op == "!=":
                        call = f"(not {call})"
                    return f"(({t} {pyop} {k}) if ({t} := {other}).__class__ is {cls} else {call})"
            a, b = self.fresh(), self.fresh()
            kinds = "_SIMPLE_EQ" if helper == "_eq" else "_ORDERED"
            call = f"{helper}({a}, {b}, {node})"
            # `X.__class__ is Y.__class__` evaluates (and assigns) both sides before testing.
            code = (f"(({a} {'==' if op == '!=' else op} {b}) if ({a} := {left}).__class__ is ({b} := {right}).__class__"
                    f" and {a}.__class__ in {kinds} else {call})")
            return f"(not {code})" if op == "!=" else code
        if op == "==":
            return f"_eq({left}, {right}, {node})"
        if op == "!=":
            return f"(not _eq({left}, {right}, {node}))"
        if op in _ORDER_HELPER:
            return f"{_ORDER_HELPER[op]}({left}, {right}, {node})"
        if op == "in":
            return f"_contains({right}, {left}, {node}, {self.const(e.right)}, {self.const(e.left)})"
        if op == "not in":
            return f"(not _contains({right}, {left}, {node}, {self.const(e.right)}, {self.const(e.left)}))"
        if op == "contains":
            return f"_contains({left}, {right}, {node}, {self.const(e.left)}, {self.const(e.right)})"
        if op == "matches":
            return f"{self.const(_matcher(e, self.owner.run.regexes))}({left}, {right})"
        raise Unsupported(op)

    def _ispresent(self, e: ast.IsPresent, local: set[str]) -> str:
        return f"({self.expr(e.operand, local)} {'is' if e.negated else 'is not'} None)"

    def _call(self, e: ast.Call, local: set[str]) -> str:
        if e.func in AGGREGATES and len(e.args) == 1:
            duration_zero = e.span in self.owner.program.duration_sums
            return f"{self.const(_plain(e.func, e, duration_zero))}({self.expr(e.args[0], local)})"
        spec = self.owner.program.functions[e.func]
        call = self.const(_caller(spec, e, self.owner.run, len(e.args)))
        return f"{call}(" + "".join(self.expr(a, local) + ", " for a in e.args) + ")"

    def _comprehension(self, e: ast.Comprehension, local: set[str]) -> str:
        """A generator expression; or, where statements can go first (`self.pre`), a
        `for` loop over the items, with the result left in a local.

        The loop is what a hand-written check would be: no generator object made per
        subject, no frame resumed per item, `break` on the first item that decides `any`
        or `all`. Nothing is evaluated that the generator expression would not evaluate:
        the loop goes where the expression would be evaluated, and the lazy operand of a
        short-circuit (`lazily`) gets its statements under the same condition."""
        pre = self.pre
        self.pre = None  # the iterable is one expression (it may be a generator's)
        self.in_iterable += 1
        try:
            coll = self.expr(e.collection, local)
            join = find_join(e, ALL_COLLECTIONS)
            if join is not None:
                items = self.const(_items(self.owner.joins, join.collection, join.inner))
                iterable = f"{items}({coll}, {self.expr(join.outer, local)})"
            elif pre is not None:
                # A `for` statement (`_loop`): the list is checked inline, not by a call per
                # subject (a generator's iterable cannot hold an assignment).
                t = self.fresh()
                iterable = f"({t} if ({t} := {coll}).__class__ is _list else _defer())"
            else:
                iterable = f"{self.const(_items(None, None, None))}({coll})"
        finally:
            self.in_iterable -= 1
            self.pre = pre
        inner = local | {e.var}
        outer_binding = self.names.get(e.var)
        var = self.bind(e.var)
        # Items are read as records: `.get` on anything else (null included) raises, and
        # the verdict defers to the full evaluator, which knows what that means.
        self.dicts.add(var)
        where_pre: list[str] = []
        try:
            if e.where is not None:
                where, where_pre = self.lazily(lambda: self.truth(e.where, inner))
            if e.agg in AGG_BOOL + ("count",):
                element, element_pre = self.lazily(lambda: self.truth(e.element, inner))
            else:
                element, element_pre = self.lazily(lambda: self.expr(e.element, inner))
        finally:
            if outer_binding is not None:
                self.names[e.var] = outer_binding
            else:
                del self.names[e.var]
        if pre is not None:
            return self._loop(e, var, iterable, where if e.where is not None else None, where_pre,
                              element, element_pre)
        loop = f"for {var} in {iterable}" + (f" if {where}" if e.where is not None else "")
        if e.agg == "any":
            return f"any({element} {loop})"
        if e.agg == "all":
            return f"all({element} {loop})"
        if e.agg == "none":
            return f"(not any({element} {loop}))"
        if e.agg == "count":
            return f"_count(sum(1 {loop} if {element}))"
        duration_zero = e.span in self.owner.program.duration_sums
        return f"{self.const(_values(e.agg, e, duration_zero))}([{element} {loop}])"

    def _loop(self, e: ast.Comprehension, var: str, iterable: str, where: str | None, where_pre: list[str],
              element: str, element_pre: list[str]) -> str:
        """`_comprehension` as statements (appended to `self.pre`); returns the value's code."""
        assert self.pre is not None
        r = self.fresh()
        agg = e.agg
        # (start, what to do with the element), per aggregation; `any`/`all`/`none` stop early.
        start, action = {
            "any": ("False", [f"if {element}:", f"    {r} = True", "    break"]),
            "all": ("True", [f"if not ({element}):", f"    {r} = False", "    break"]),
            "none": ("True", [f"if {element}:", f"    {r} = False", "    break"]),
            "count": ("0", [f"if {element}:", f"    {r} += 1"]),
        }.get(agg, ("[]", [f"{r}.append({element})"]))
        body = [*element_pre, *action]
        if where is not None:
            body = [*where_pre, f"if {where}:", *("    " + line for line in body)]
        self.pre += [f"{r} = {start}", f"for {var} in {iterable}:", *("    " + line for line in body)]
        if agg in ("any", "all", "none"):
            return r
        if agg == "count":
            return f"_count({r})"
        duration_zero = e.span in self.owner.program.duration_sums
        return f"{self.const(_values(agg, e, duration_zero))}({r})"


def _is_boolean(e: ast.Expr) -> bool:
    """Does the generated code for `e` always give True or False (or raise)? Comparisons,
    presence tests and logic do by construction; names, fields and calls may not."""
    if isinstance(e, (ast.Compare, ast.IsPresent)):
        return True
    if isinstance(e, ast.Unary):
        return e.op == "not"
    if isinstance(e, ast.Binary):
        return e.op in ("and", "or", "implies")
    if isinstance(e, ast.Comprehension):
        return e.agg in AGG_BOOL
    if isinstance(e, ast.Literal):
        return e.value is True or e.value is False
    if isinstance(e, ast.Call):
        return e.func in AGG_BOOL and len(e.args) == 1
    return False
