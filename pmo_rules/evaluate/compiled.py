"""Compile checked rules into Python closures once per run: no AST walking per subject.

Every closure mirrors a branch of `reference.py` exactly (same operator functions from
`ops.py`, same error messages, same evidence recorded in the same order), so the indexed
evaluator's findings equal the oracle's; `tests/test_differential.py` holds it to that.
What compiling buys: node dispatch, `isinstance` checks, param lookups and evidence keys
are resolved at plan time instead of once per node per subject.

Since the verdicts (`fastpath.py`) settle every pass, what runs here is mostly failing
subjects, each evaluated once, with its evidence, message and hint. So the parts the
reference evaluates with recording off (a rule's scope, comprehensions, message fields,
hints) come from a silent compiler whose closures have no evidence checks to skip; short
field reads are done inline by the closure that needs them; and whatever a finding's text
takes from the rule alone is worked out once (`template`, `distance.Hint`).

Joins: a comprehension over a whole collection whose `where` starts with an equality on
an outer value is answered from a hash index built once per run (`indexes.py`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable, Iterator
from typing import Any

import re2

from .. import ast
from ..distance import ORDER_OPS, ORDERING, Hint
from ..program import Program
from ..registry import FunctionSpec
from ..schema.models import ALL_COLLECTIONS
from ..snapshot import Snapshot
from ..values import (
    DECIMAL_CONTEXT,
    Duration,
    display,
    format_number,
    round_half_up,
    to_json,
    type_name,
)
from . import Result, ops
from .errors import EvalError
from .indexes import JoinIndexes, find_join
from .reference import (
    AGG_BOOL,
    DISTANCE_KEY,
    _Env,
    _error,
    _fold_bool,
    default_message,
    format_field,
    invoke,
    invoke_metric,
)

Fn = Callable[[_Env], Any]
AGGREGATES = ("all", "any", "none", "count", "sum", "min", "max", "avg")
_CONTEXT = DECIMAL_CONTEXT.copy()  # private: its flags are nobody else's business
_JSON_READY = frozenset({decimal.Decimal, str, bool})  # what `to_json` returns as it is, by exact class


class Compiler:
    """Turns expressions into closures for one run (params, collections and indexes bound)."""

    def __init__(self, program: Program, params: dict[str, Any], snapshot: Snapshot, joins: JoinIndexes, *,
                 silent: bool = False):
        self.program = program
        self.params = params
        self.snapshot = snapshot
        self.joins = joins
        self.functions = program.functions
        self.duration_sums = program.duration_sums
        # A silent compiler's closures record no evidence at all; they are only ever run
        # while `env.recording` is off (the reference evaluates comprehensions, scopes,
        # message fields and hints silenced), where every evidence check would skip.
        self.silent = silent
        # Not `self` when silent: a compiler naming itself is a reference cycle, and the
        # run's plan would then wait for the cyclic collector to free its join indexes.
        self._silent = None if silent else Compiler(program, params, snapshot, joins, silent=True)

    @property
    def silent_compiler(self) -> Compiler:
        return self._silent or self

    # ------------------------------------------------------------ entry points --

    def expr(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        """The closure for `evaluate(e, env)`: value, with evidence recorded (unless silent)."""
        t = type(e)
        if t is ast.Literal:
            value = e.value  # type: ignore[attr-defined]
            return lambda env: value
        if self.silent:
            if t is ast.Name:
                return self._name(e, local, record=False)  # type: ignore[arg-type]
            if t is ast.Attr or t is ast.Index:
                return self._path(e, local)
            if t is ast.Call:
                return self._call(e, local)  # type: ignore[arg-type]
            if t is ast.Comprehension:
                return self._comprehension(e, local)  # type: ignore[arg-type]
            return getattr(self, "_" + t.__name__.lower())(e, local)
        if t is ast.Name:
            return self._name(e, local, record=True)  # type: ignore[arg-type]
        if t is ast.Attr or t is ast.Index:
            return self._recorded_path(e, local)
        if t is ast.Call:
            call = self._call(e, local)  # type: ignore[arg-type]
            inputs = self._metric_inputs(e, local)  # type: ignore[arg-type]
            key = e.text
            if inputs is None:
                return self._recorded(key, call)

            def recorded_metric(env: _Env) -> Any:
                value = call(env)
                if env.recording and key not in env.evidence:
                    env.evidence[key] = value
                inputs(env)
                return value
            return recorded_metric
        if t is ast.Comprehension:
            return self._recorded(e.text, self._silenced(self._comprehension(e, local)))  # type: ignore[arg-type]
        return getattr(self, "_" + t.__name__.lower())(e, local)

    def quiet(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        """The closure for `evaluate(e, env)` where `env.recording` is known to be off: a
        rule's scope, a message field, a hint's operand."""
        return self.silent_compiler.expr(e, local)

    def unrecorded(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        """The closure for `evaluate_unrecorded` (a `let` body)."""
        t = type(e)
        if t is ast.Attr or t is ast.Index:
            return self._path(e, local)
        if t is ast.Call:
            call = self._call(e, local)  # type: ignore[arg-type]
            inputs = self._metric_inputs(e, local)  # type: ignore[arg-type]
            if inputs is None:
                return call

            def metric(env: _Env) -> Any:
                value = call(env)
                inputs(env)
                return value
            return metric
        if t is ast.Comprehension:
            return self._silenced(self._comprehension(e, local))  # type: ignore[arg-type]
        return self.expr(e, local)

    # ---------------------------------------------------------------- helpers --

    @staticmethod
    def _recorded(key: str, fn: Fn) -> Fn:
        def recorded(env: _Env) -> Any:
            value = fn(env)
            if env.recording and key not in env.evidence:
                env.evidence[key] = value
            return value
        return recorded

    @staticmethod
    def _silenced(fn: Fn) -> Fn:
        def silenced(env: _Env) -> Any:
            saved = env.recording
            env.recording = False
            try:
                return fn(env)
            finally:
                env.recording = saved
        return silenced

    def _name(self, e: ast.Name, local: frozenset[str], record: bool) -> Fn:
        name = e.name
        if name in local:
            return lambda env: env.vars[name]
        if name in self.params:
            value = self.params[name]
            if not record:
                return lambda env: value

            def param(env: _Env) -> Any:
                if env.recording and name not in env.evidence:
                    env.evidence[name] = value
                return value
            return param
        coll = self.snapshot.collection(name)
        return lambda env: coll

    def _inner(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        if isinstance(e, ast.Name):
            return self._name(e, local, record=False)
        return self.expr(e, local)

    def _recorded_path(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        """`_recorded(e.text, _path(e))` in one closure for short paths on a local variable
        (`project.status`, `risk.project.id`): most evidence is such a path, and on the fail
        path one Python call per read is a fair share of the cost."""
        key = e.text
        flat = self._flat_steps(e, local)
        if flat is None or len(flat[1]) > 2:
            return self._recorded(key, self._path(e, local))
        root, steps = flat
        if len(steps) == 1:
            (k1, n1), = steps

            def recorded_chain1(env: _Env) -> Any:
                obj = env.vars[root]
                value = obj.get(k1) if obj.__class__ is dict else _get(obj, k1, n1)
                if env.recording and key not in env.evidence:
                    env.evidence[key] = value
                return value
            return recorded_chain1
        (k1, n1), (k2, n2) = steps

        def recorded_chain2(env: _Env) -> Any:
            obj = env.vars[root]
            obj = obj.get(k1) if obj.__class__ is dict else _get(obj, k1, n1)
            if obj is None:
                value = None
            else:
                value = obj.get(k2) if obj.__class__ is dict else _get(obj, k2, n2)
            if env.recording and key not in env.evidence:
                env.evidence[key] = value
            return value
        return recorded_chain2

    @staticmethod
    def _flat_steps(e: ast.Expr, local: frozenset[str]) -> tuple[str, list[tuple[str, ast.Expr]]] | None:
        """`v.a.b["c"]` rooted at a local variable: (`v`, [(key, node), ...]), else None."""
        steps: list[tuple[str, ast.Expr]] = []
        node = e
        while True:
            if isinstance(node, ast.Attr):
                steps.append((node.name, node))
                node = node.obj
            elif isinstance(node, ast.Index) and isinstance(node.key, ast.Literal) and isinstance(node.key.value, str):
                steps.append((node.key.value, node))
                node = node.obj
            else:
                break
        if not (isinstance(node, ast.Name) and node.name in local) or not steps:
            return None
        steps.reverse()
        return node.name, steps

    def _flat_chain(self, e: ast.Expr, local: frozenset[str]) -> Fn | None:
        """`v.a.b["c"]` rooted at a local variable: one closure walking every key."""
        flat = self._flat_steps(e, local)
        if flat is None:
            return None
        root, steps = flat
        if len(steps) == 1:
            (k1, n1), = steps

            def chain1(env: _Env) -> Any:
                obj = env.vars[root]
                if obj.__class__ is dict:
                    return obj.get(k1)
                return _get(obj, k1, n1)
            return chain1
        if len(steps) == 2:
            (k1, n1), (k2, n2) = steps

            def chain2(env: _Env) -> Any:
                obj = env.vars[root]
                obj = obj.get(k1) if obj.__class__ is dict else _get(obj, k1, n1)
                if obj is None:
                    return None
                return obj.get(k2) if obj.__class__ is dict else _get(obj, k2, n2)
            return chain2
        frozen = tuple(steps)

        def chain(env: _Env) -> Any:
            obj = env.vars[root]
            for k, n in frozen:
                if obj is None:
                    return None
                obj = obj.get(k) if obj.__class__ is dict else _get(obj, k, n)
            return obj
        return chain

    def _path(self, e: ast.Expr, local: frozenset[str]) -> Fn:
        """Null-safe field access, as `reference._path`."""
        flat = self._flat_chain(e, local)
        if flat is not None:
            return flat
        if isinstance(e, ast.Attr):
            base = self._path(e.obj, local) if isinstance(e.obj, (ast.Attr, ast.Index)) else self._inner(e.obj, local)
            key = e.name

            def attr(env: _Env) -> Any:
                obj = base(env)
                if obj is None:
                    return None
                if obj.__class__ is dict:
                    return obj.get(key)
                return _get(obj, key, e)
            return attr
        assert isinstance(e, ast.Index)
        base = self._path(e.obj, local) if isinstance(e.obj, (ast.Attr, ast.Index)) else self._inner(e.obj, local)
        key_fn = self.expr(e.key, local)
        key_expr = e.key

        def index(env: _Env) -> Any:
            obj = base(env)
            key = key_fn(env)
            if obj is None:
                return None
            if isinstance(obj, list):
                if key is None:
                    raise EvalError(f"`{key_expr.text}` is null, so the list cannot be indexed", key_expr.span, key_expr.text, value=None)
                if not isinstance(key, decimal.Decimal) or key != key.to_integral_value():
                    raise EvalError(f"a list index must be a whole number, not `{display(key)}`", key_expr.span)
                i = int(key)
                return obj[i] if 0 <= i < len(obj) else None
            if key is None:
                raise EvalError(f"`{key_expr.text}` is null, so it cannot be used as a key", key_expr.span, key_expr.text, value=None)
            if not isinstance(key, str):
                raise EvalError(f"a record key must be text, not a {type_name(key)}", key_expr.span)
            return _get(obj, key, e)
        return index

    # -------------------------------------------------------------- node kinds --

    def _today(self, e: ast.Today, local: frozenset[str]) -> Fn:
        return lambda env: env.today

    def _listlit(self, e: ast.ListLit, local: frozenset[str]) -> Fn:
        items = [self.expr(i, local) for i in e.items]
        return lambda env: [f(env) for f in items]

    def _objectlit(self, e: ast.ObjectLit, local: frozenset[str]) -> Fn:
        pairs = [(k, self.expr(v, local)) for k, v in zip(e.keys, e.values)]
        return lambda env: {k: f(env) for k, f in pairs}

    def _unary(self, e: ast.Unary, local: frozenset[str]) -> Fn:
        operand = self.expr(e.operand, local)
        if e.op == "not":
            src = e.operand

            def not_(env: _Env) -> Any:
                b = ops.truth(operand(env), src, "`not`")
                return None if b is None else not b
            return not_
        return lambda env: ops.negate(operand(env), e)

    def _binary(self, e: ast.Binary, local: frozenset[str]) -> Fn:
        op = e.op
        left, right = self.expr(e.left, local), self.expr(e.right, local)
        le, re_ = e.left, e.right
        truth = ops.truth
        if op in ops.LOGIC:
            left_stop, left_result, right_stop, right_result, otherwise = ops.LOGIC[op]
            what = f"`{op}`"

            def logic(env: _Env) -> Any:
                lv = left(env)
                if lv is not True and lv is not False and lv is not None:
                    truth(lv, le, what)  # not a truth value: the error
                if lv is left_stop:
                    return left_result
                rv = right(env)
                if rv is not True and rv is not False and rv is not None:
                    truth(rv, re_, what)
                if rv is right_stop:
                    return right_result
                return None if lv is None or rv is None else otherwise
            return logic
        if op == "??":
            read = self._read2(e.left, local)
            if read is not None:  # `(project.budget.actual_cost ?? 0)`: the field read here
                root, k1, n1, k2, n2 = read

                def coalesce_field(env: _Env) -> Any:
                    obj = env.vars[root]
                    lv = obj.get(k1) if obj.__class__ is dict else _get(obj, k1, n1)
                    if k2 is not None and lv is not None:
                        lv = lv.get(k2) if lv.__class__ is dict else _get(lv, k2, n2)
                    return lv if lv is not None else right(env)
                return coalesce_field

            def coalesce(env: _Env) -> Any:
                lv = left(env)
                return lv if lv is not None else right(env)
            return coalesce
        arith = ops.arith
        D = decimal.Decimal
        # The commonest mixed cases in plain Python, each exactly what `ops.arith` does for
        # them; anything else, and any decimal signal, goes to `ops.arith` itself.
        if op == "-":
            def minus(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                cls = lv.__class__
                if cls is D and rv.__class__ is D:
                    return lv - rv
                if cls is dt.date and rv.__class__ is dt.date:
                    return Duration(D((lv - rv).days))  # `today - project.last_status_update`
                return arith(op, lv, rv, e)
            return minus
        if op == "+":
            shift_date = ops._shift_date

            def plus(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                cls = lv.__class__
                if cls is D and rv.__class__ is D:
                    return lv + rv
                if cls is dt.date and rv.__class__ is Duration:  # `m.baseline + hit_grace`
                    try:
                        return shift_date(lv, rv.days, e)
                    except ArithmeticError:
                        pass
                return arith(op, lv, rv, e)
            return plus
        if op == "/":
            divide = _CONTEXT.divide  # `with localcontext(DECIMAL_CONTEXT): lv / rv`, without the switch

            def div(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                if lv.__class__ is D and rv.__class__ is D and rv:
                    try:
                        return divide(lv, rv)
                    except ArithmeticError:
                        pass
                return arith(op, lv, rv, e)
            return div
        fast = {"*": operator.mul}.get(op)
        if fast is not None:
            def arith_fast(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                if lv.__class__ is D and rv.__class__ is D:
                    return fast(lv, rv)  # the common case: two numbers, no null, no dates
                return arith(op, lv, rv, e)
            return arith_fast
        return lambda env: arith(op, left(env), right(env), e)

    def _compare(self, e: ast.Compare, local: frozenset[str]) -> Fn:
        op = e.op
        left, right = self.expr(e.left, local), self.expr(e.right, local)
        if op == "matches":
            regexes: dict[str, Any] = {}

            def matches(env: _Env) -> Any:
                lv = left(env)
                pattern = right(env)
                if not isinstance(pattern, str):
                    raise EvalError(f"`matches` needs a text pattern, not a {type_name(pattern)}", e.right.span)
                rx = regexes.get(pattern)
                if rx is None:
                    rx = regexes[pattern] = re2.compile(pattern)
                return ops.matches(lv, rx, e)
            return matches
        equal = ops.equal
        # A literal (or, silent, a param) on the right: its value is known now, and its
        # evaluation can neither fail nor record, so it is not re-read per subject.
        constant, rv = self._constant(e.right, local)
        rcls = rv.__class__
        # ... and, silent, a field of a variable on the left (`r.status == "open"`): read
        # here rather than by a closure of its own.
        read = self._read1(e.left, local)
        if read is not None:
            root, key, node = read
        if op in ("==", "!="):
            same = operator.eq if op == "==" else operator.ne  # Python's, for two values of one plain type
            negate = op == "!="
            plain = (str, decimal.Decimal, dt.date)
            if constant and rcls in plain and read is not None:
                def eq_field_constant(env: _Env) -> Any:
                    obj = env.vars[root]
                    lv = obj.get(key) if obj.__class__ is dict else _get(obj, key, node)
                    if lv.__class__ is rcls:
                        return same(lv, rv)
                    return (not equal(lv, rv, e)) if negate else equal(lv, rv, e)
                return eq_field_constant
            if constant and rcls in plain:
                def eq_constant(env: _Env) -> Any:
                    lv = left(env)
                    if lv.__class__ is rcls:
                        return same(lv, rv)
                    return (not equal(lv, rv, e)) if negate else equal(lv, rv, e)
                return eq_constant

            def eq(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                if lv.__class__ is rv.__class__ and lv.__class__ in plain:
                    return same(lv, rv)
                return (not equal(lv, rv, e)) if negate else equal(lv, rv, e)
            return eq
        if op in ("in", "not in"):
            negate = op == "not in"

            def in_(env: _Env) -> Any:
                lv, rv = left(env), right(env)
                found = ops.contains(rv, lv, e, e.right, e.left)
                return not found if negate else found
            return in_
        if op == "contains":
            return lambda env: ops.contains(left(env), right(env), e, e.left, e.right)
        order = ops.order
        fast = ORDERING[op]
        if constant and rcls in (decimal.Decimal, dt.date, Duration, str) and read is not None:
            def cmp_field_constant(env: _Env) -> Any:
                obj = env.vars[root]
                lv = obj.get(key) if obj.__class__ is dict else _get(obj, key, node)
                if lv.__class__ is rcls:
                    return fast(lv, rv)
                return order(op, lv, rv, e)
            return cmp_field_constant
        if read is not None and type(e.right) is ast.Today:
            def cmp_field_today(env: _Env) -> Any:  # `m.baseline <= today`
                obj = env.vars[root]
                lv = obj.get(key) if obj.__class__ is dict else _get(obj, key, node)
                today = env.today
                if lv.__class__ is today.__class__ and lv.__class__ in (decimal.Decimal, dt.date, Duration, str):
                    return fast(lv, today)
                return order(op, lv, today, e)
            return cmp_field_today
        if constant and rcls in (decimal.Decimal, dt.date, Duration, str):
            def cmp_constant(env: _Env) -> Any:
                lv = left(env)
                if lv.__class__ is rcls:
                    return fast(lv, rv)
                return order(op, lv, rv, e)
            return cmp_constant

        def cmp(env: _Env) -> Any:
            lv, rv = left(env), right(env)
            cls = lv.__class__
            if cls is rv.__class__ and (cls is decimal.Decimal or cls is dt.date or cls is Duration or cls is str):
                return fast(lv, rv)
            return order(op, lv, rv, e)
        return cmp

    def _constant(self, e: ast.Expr, local: frozenset[str]) -> tuple[bool, Any]:
        """(True, value) when `e` is a value fixed for the run whose evaluation has no
        effect: a literal, or (silent only: a param read records itself) a param."""
        if type(e) is ast.Literal:
            return True, e.value  # type: ignore[attr-defined]
        if self.silent and type(e) is ast.Name and e.name not in local and e.name in self.params:  # type: ignore[attr-defined]
            return True, self.params[e.name]  # type: ignore[attr-defined]
        return False, None

    def _read1(self, e: ast.Expr, local: frozenset[str]) -> tuple[str, str, ast.Expr] | None:
        """(variable, key, node) when `e` is `variable.key` and its read records nothing
        (silent): what `chain1` reads, for a caller to read inline."""
        if not self.silent:
            return None
        flat = self._flat_steps(e, local)
        if flat is None or len(flat[1]) != 1:
            return None
        root, ((key, node),) = flat
        return root, key, node

    def _read2(self, e: ast.Expr, local: frozenset[str]) -> tuple[str, str, ast.Expr, Any, Any] | None:
        """(variable, key, node, key2, node2) when `e` is `variable.key` or
        `variable.key.key2` and its read records nothing (silent), key2 and node2 None
        for the one-step path: what `chain1` / `chain2` read, for a caller to read inline."""
        if not self.silent:
            return None
        flat = self._flat_steps(e, local)
        if flat is None or len(flat[1]) > 2:
            return None
        root, steps = flat
        (k1, n1), (k2, n2) = steps[0], (steps[1] if len(steps) == 2 else (None, None))
        return root, k1, n1, k2, n2

    def _ispresent(self, e: ast.IsPresent, local: frozenset[str]) -> Fn:
        read = self._read1(e.operand, local)
        if read is not None:  # `m.baseline is present`, in one call
            root, key, node = read
            negated = e.negated

            def present1(env: _Env) -> Any:
                obj = env.vars[root]
                value = obj.get(key) if obj.__class__ is dict else _get(obj, key, node)
                return (value is None) if negated else (value is not None)
            return present1
        operand = self.expr(e.operand, local)
        if e.negated:
            return lambda env: operand(env) is None
        return lambda env: operand(env) is not None

    # ------------------------------------------------------------------- calls --

    def _call(self, e: ast.Call, local: frozenset[str]) -> Fn:
        if e.func in AGGREGATES and len(e.args) == 1:
            return self._plain_aggregate(e, local)
        spec: FunctionSpec = self.functions[e.func]
        args = [self.expr(a, local) for a in e.args]
        arg_exprs = e.args
        null_ok = spec.null_ok
        context = spec.context
        is_metric = spec.kind == "metric"
        if len(args) == 1 and not context:  # `len(x)`, `cpi(project)`: one argument, less ceremony
            arg, arg_expr = args[0], arg_exprs[0]
            name = spec.name

            def call1(env: _Env) -> Any:
                value = arg(env)
                if value is None and not null_ok:
                    raise EvalError(f"`{arg_expr.text}` is null, so `{e.func}(...)` cannot be computed", arg_expr.span,
                                    arg_expr.text, value=None)
                if is_metric:
                    if value.__class__ is dict:  # the key `metric_key` makes for a record
                        cache = env.metric_cache
                        key = (name, id(value))
                        if key in cache:
                            return cache[key]
                        result = cache[key] = invoke(spec, e, [value])
                        cache.pins.append(value)  # as `invoke_metric` does
                        return result
                    return invoke_metric(spec, e, [value], env.metric_cache)
                return invoke(spec, e, [value])
            return call1

        def call(env: _Env) -> Any:
            values = [f(env) for f in args]
            if not null_ok:
                for a, v in zip(arg_exprs, values):
                    if v is None:
                        raise EvalError(f"`{a.text}` is null, so `{e.func}(...)` cannot be computed", a.span, a.text, value=None)
            if context:
                values = [env.run, *values]
            if is_metric:
                return invoke_metric(spec, e, values, env.metric_cache)
            return invoke(spec, e, values)
        return call

    def _metric_inputs(self, e: ast.Call, local: frozenset[str]) -> Fn | None:
        spec = self.functions.get(e.func)
        if spec is None or spec.kind != "metric" or not (e.func not in AGGREGATES or len(e.args) != 1):
            return None
        readers = []
        for a in e.args:
            if not isinstance(a, ast.Name):
                continue
            inner = self._name(a, local, record=False)
            for path in spec.inputs:
                readers.append((inner, f"{a.text}.{path}", tuple(path.split("."))))
        if not readers:
            return None

        def record_inputs(env: _Env) -> None:
            if not env.recording:
                return
            for inner, key, keys in readers:
                v = inner(env)
                if not isinstance(v, dict):
                    continue
                value: Any = v
                for k in keys:
                    value = value.get(k) if isinstance(value, dict) else None
                if key not in env.evidence:
                    env.evidence[key] = value
        return record_inputs

    def _plain_aggregate(self, e: ast.Call, local: frozenset[str]) -> Fn:
        arg = self.expr(e.args[0], local)
        src = e.args[0]
        func = e.func
        duration_zero = e.span in self.duration_sums

        def plain(env: _Env) -> Any:
            values = arg(env)
            if values is None:
                raise EvalError(f"`{src.text}` is null, so `{func}` cannot be decided", src.span, src.text, value=None)
            if not isinstance(values, list):
                raise EvalError(f"`{func}` needs a list, but `{src.text}` is a {type_name(values)}", src.span)
            if func == "count":
                return decimal.Decimal(len(values))
            if func in AGG_BOOL:
                return _fold_bool(func, [(v, src) for v in values])
            return ops.aggregate_values(func, values, e, duration_zero)
        return plain

    # ---------------------------------------------------------- comprehensions --

    def _comprehension(self, e: ast.Comprehension, local: frozenset[str]) -> Fn:
        """As `reference._comprehension`; always run silenced, so its parts are compiled
        silent. The `where` and element truth tests are inlined: they run once per item."""
        silent = self.silent_compiler
        coll_fn = silent.expr(e.collection, local)
        inner_local = local | {e.var}
        where = silent.expr(e.where, inner_local) if e.where is not None else None
        element = silent.expr(e.element, inner_local)
        var, agg = e.var, e.agg
        coll_expr, where_expr, el_expr = e.collection, e.where, e.element
        truth = ops.truth
        duration_zero = e.span in self.duration_sums
        join = find_join(e, ALL_COLLECTIONS)
        joined = None
        if join is not None:
            source = self.snapshot.collection(join.collection)
            outer = silent.expr(join.outer, local)
            joined = (source, self.joins.index(join.collection, join.inner), outer)

        def items_of(env: _Env) -> list:
            coll = coll_fn(env)
            if coll is None:
                raise EvalError(f"`{coll_expr.text}` is null, so `{agg}` cannot be decided", coll_expr.span, coll_expr.text, value=None)
            if not isinstance(coll, list):
                raise EvalError(f"`{coll_expr.text}` is a {type_name(coll)}, not a collection", coll_expr.span)
            if joined is not None and coll is joined[0]:
                try:
                    value = joined[2](env)
                except EvalError:
                    return coll
                hits = joined[1].lookup(value)
                if hits is not None:
                    return hits
            return coll

        def not_selectable(w: Any) -> EvalError:
            """The error for a `where` that gave neither true nor false."""
            truth(w, where_expr, "a comprehension `where`")  # raises unless null
            assert where_expr is not None
            return EvalError(f"the comprehension `where` `{where_expr.text}` is null (unknown)",
                             where_expr.span, where_expr.text, value=None)

        def chosen(env: _Env, coll: list) -> Iterator[None]:
            """Bind each item the `where` selects to the variable in turn (in item order)."""
            vars_ = env.vars
            for item in coll:
                vars_[var] = item
                if where is not None:
                    w = where(env)
                    if w is not True:
                        if w is False:
                            continue
                        raise not_selectable(w)
                yield None

        def runner(body: Callable[[_Env, list], Any]) -> Fn:
            def run(env: _Env) -> Any:
                coll = items_of(env)
                vars_ = env.vars
                had = var in vars_
                saved = vars_.get(var)
                try:
                    return body(env, coll)
                finally:
                    if had:
                        vars_[var] = saved
                    else:
                        vars_.pop(var, None)
            return run

        if agg in AGG_BOOL:
            stop_on = False if agg == "all" else True
            result_on_stop = (agg == "any") if agg != "all" else False
            what = f"`{agg}`"

            def boolean(env: _Env, coll: list) -> Any:
                unknown = False
                for _ in chosen(env, coll):
                    b = element(env)
                    if b is None:
                        unknown = True
                    elif b is stop_on:
                        return result_on_stop
                    elif b is not True and b is not False:
                        truth(b, el_expr, what)  # raises
                if unknown:
                    return None
                return agg != "any"
            return runner(boolean)
        if agg == "count":
            def count(env: _Env, coll: list) -> Any:
                n = 0
                for _ in chosen(env, coll):
                    b = element(env)
                    if b is True:
                        n += 1
                    elif b is not False:
                        truth(b, el_expr, "`count`")  # raises unless null
                        raise EvalError(f"`{el_expr.text}` is null (unknown), so it cannot be counted",
                                        el_expr.span, el_expr.text, value=None)
                return decimal.Decimal(n)
            return runner(count)

        def values(env: _Env, coll: list) -> Any:
            return ops.aggregate_values(agg, [element(env) for _ in chosen(env, coll)], e, duration_zero)
        return runner(values)

    # ------------------------------------------------------------------- rules --

    def rule(self, rule: ast.Rule) -> Callable[[dict, _Env], Result]:
        """The closure for `reference.evaluate_subject`."""
        fc = rule.for_clause
        assert fc is not None
        local = frozenset({fc.var})
        where = self.quiet(fc.where, local) if fc.where is not None else None
        lets = []
        for let in rule.lets:
            lets.append((let, self.unrecorded(let.expr, local)))
            local = local | {let.name}
        requires = []
        for req in rule.requires:
            template = req.otherwise or rule.message
            cond = req.cond
            hint = self._hint(cond, local) if isinstance(cond, ast.Compare) and cond.op in ORDER_OPS else None
            # What a failure of this requirement says and where does not depend on the
            # subject unless a template does: worked out once here, not per finding.
            render = self.template(template, local) if template else None
            default = default_message(rule, req) if render is None else None
            requires.append((req, self.expr(cond, local), render, default, hint, str(cond.span)))
        subject_id = self.snapshot.subject_id
        var, rid = fc.var, rule.id
        truth = ops.truth

        def evaluate_subject(subject: dict, env: _Env) -> Result:
            sid = subject_id(subject)
            env.vars[var] = subject
            if where is not None:
                env.recording = False
                try:
                    scope = where(env)
                    if scope is not True and scope is not False and scope is not None:
                        truth(scope, fc.where, "the `where` scope")  # raises
                except EvalError as exc:
                    return _error(rule, sid, exc, env, fc.where)
                finally:
                    env.recording = True
                if scope is None:
                    return _error(rule, sid, EvalError(f"the `where` scope `{fc.where.text}` is null (unknown)",
                                                       fc.where.span), env, fc.where)
                if not scope:
                    return Result(rid, sid, "not_applicable")
            for let, fn in lets:
                try:
                    value = fn(env)
                except EvalError as exc:
                    return _error(rule, sid, exc, env, let.expr)
                env.vars[let.name] = value
                env.evidence[let.name] = value
            for req, fn, render, default, hint, location in requires:
                try:
                    value = fn(env)
                    if value is not True and value is not False and value is not None:
                        truth(value, req.cond, "`require`")  # raises
                except EvalError as exc:
                    return _error(rule, sid, exc, env, req.cond)
                if value is None:
                    return _error(rule, sid, EvalError(
                        f"`{req.cond.text}` is null (unknown), so the requirement cannot be decided",
                        req.cond.span, value=None), env, req.cond)
                if not value:
                    if render is not None:
                        message, template_error = render(env)
                    else:
                        message, template_error = default, None
                    # `_evidence(env)`, with `to_json` called only for what it would change
                    evidence = [(k, v if v.__class__ in _JSON_READY or v is None else to_json(v))
                                for k, v in env.evidence.items()]
                    if hint is not None:
                        to_pass = hint(env)
                        if to_pass:
                            evidence.append((DISTANCE_KEY, to_pass))
                    if template_error:
                        evidence.append(("template error", template_error))
                    return Result(rid, sid, "fail", message, evidence, location)
            return Result(rid, sid, "pass")
        return evaluate_subject

    def _hint(self, cond: ast.Compare, local: frozenset[str]) -> Callable[[_Env], str | None]:
        """`reference.distance_hint` for a failing ordering requirement: the operands are
        re-read silently, and what `distance` would work out from the comparison's shape
        alone is worked out here, once (`local` is every variable bound at that point)."""
        left, right = self.quiet(cond.left, local), self.quiet(cond.right, local)
        sentence = Hint(cond.op, cond.left, cond.right, self.params, local)

        def hint(env: _Env) -> str | None:
            saved = env.recording
            env.recording = False
            try:
                return sentence(left(env), right(env), env)
            except (EvalError, ArithmeticError, ValueError):
                return None  # as distance_hint: no hint is better than a wrong one
            finally:
                env.recording = saved
        return hint

    def template(self, t: ast.Template, local: frozenset[str]) -> Callable[[_Env], tuple[str, str | None]]:
        """`reference.render_message`, with each field's reader, format and fallback text
        prepared once, and the literal text laid out once: a failing subject's message is
        a fair share of what the fail path does."""
        skeleton: list[str] = []
        fields = []
        silent = self.silent_compiler
        for part in t.parts:
            if isinstance(part, str):
                skeleton.append(part)
            else:
                # `{project.id}`, `{risk.project.id}`: the keys to read inline, else the
                # field's closure
                read = silent._read2(part.expr, local) or (None, None, None, None, None)
                fields.append((len(skeleton), read[0], read[1], read[3], silent.expr(part.expr, local), part.places,
                               None if part.places is None else f".{part.places}f", part.expr.text))
                skeleton.append("")
        D = decimal.Decimal

        def render(env: _Env) -> tuple[str, str | None]:
            out = skeleton.copy()
            problem = None
            saved = env.recording
            env.recording = False
            vars_ = env.vars
            try:
                for i, root, key, key2, fn, places, spec, text in fields:
                    try:
                        obj = vars_[root] if root is not None else None
                        if obj.__class__ is dict:
                            value = obj.get(key)
                            if key2 is not None and value is not None:
                                value = value.get(key2) if value.__class__ is dict else fn(env)
                        else:
                            value = fn(env)
                        if places is None:  # format_field's display(), its two commonest cases first
                            cls = value.__class__
                            out[i] = value if cls is str else format_number(value) if cls is D else display(value)
                        elif value.__class__ is D:  # format_field's number case
                            out[i] = format(round_half_up(value, places), spec)
                        else:
                            out[i] = format_field(value, places)
                    except EvalError as exc:
                        problem = problem or f"{{{text}}}: {exc.message}"
                        out[i] = "{" + text + "}"
            finally:
                env.recording = saved
            return "".join(out), problem
        return render


def _get(obj: Any, key: str, e: ast.Expr) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    raise EvalError(f"`{e.text}` reads a field of a {type_name(obj)}", e.span, e.text)
