"""The reference interpreter: a plain tree walk over the AST, obviously right, the oracle.

It does no planning and no indexing: every rule scans its whole collection and every
comprehension scans its whole inner collection. The fast evaluator is tested against it,
so clarity wins over speed here. Semantics of individual operators live in `ops.py`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from typing import Any

import re2

from .. import ast
from ..distance import distance
from ..program import Program
from ..registry import FunctionSpec
from ..snapshot import Snapshot
from ..values import DECIMAL_CONTEXT, display, format_number, round_half_up, to_json, type_name
from . import Evaluation, MetricCache, Result, RunContext, ops
from .errors import UNKNOWN, EvalError
from .waivers import apply_waivers

AGG_BOOL = ("all", "any", "none")


class _Env:
    """Everything an expression can see while one (rule, subject) pair is evaluated."""

    __slots__ = ("vars", "params", "snapshot", "today", "functions", "metric_cache", "evidence",
                 "recording", "regexes", "duration_sums", "run")

    def __init__(self, program: Program, params: dict[str, Any], run: RunContext):
        self.vars: dict[str, Any] = {}
        self.params = params
        self.run = run
        self.snapshot = run.snapshot
        self.today = run.as_of
        self.functions = program.functions
        self.metric_cache = run.metric_cache
        self.evidence: dict[str, Any] = {}
        self.recording = True
        self.regexes = run.regexes
        self.duration_sums = program.duration_sums

    def record(self, key: str, value: Any) -> None:
        if self.recording and key not in self.evidence:
            self.evidence[key] = value


class ReferenceEvaluator:
    """Evaluate every rule against every subject of its collection, naively."""

    def evaluate(self, program: Program, snapshot: Snapshot, as_of: dt.date, *,
                 include_passes: bool = False) -> Evaluation:
        out = Evaluation()
        run = RunContext(snapshot, as_of)
        with decimal.localcontext(DECIMAL_CONTEXT):
            for rule in program.rules:
                counts: Counter = Counter()
                out.counts[rule.id] = counts
                fc = rule.for_clause
                assert fc is not None and isinstance(fc.collection, ast.Name)
                params = program.params.get(rule.package, {})
                for subject in snapshot.collection(fc.collection.name):
                    env = _Env(program, params, run)
                    res = evaluate_subject(rule, subject, env)
                    counts[res.outcome] += 1
                    if res.outcome == "pass":
                        out.passes[res.subject] += 1
                    if res.outcome != "not_applicable" and (res.outcome != "pass" or include_passes):
                        out.results.append(res)
            apply_waivers(program, snapshot, as_of, out,
                          lambda w, rule, subject: _waiver_matches(program, run, w, rule, subject))
        return out


def evaluate_subject(rule: ast.Rule, subject: dict, env: _Env) -> Result:
    fc = rule.for_clause
    assert fc is not None
    sid = env.snapshot.subject_id(subject)
    env.vars[fc.var] = subject
    if fc.where is not None:
        env.recording = False
        try:
            scope = ops.truth(evaluate(fc.where, env), fc.where, "the `where` scope")
        except EvalError as exc:
            return _error(rule, sid, exc, env, fc.where)
        finally:
            env.recording = True
        if scope is None:
            return _error(rule, sid, EvalError(f"the `where` scope `{fc.where.text}` is null (unknown)",
                                               fc.where.span), env, fc.where)
        if not scope:
            return Result(rule.id, sid, "not_applicable")
    for let in rule.lets:
        try:
            value = evaluate_unrecorded(let.expr, env)
        except EvalError as exc:
            return _error(rule, sid, exc, env, let.expr)
        env.vars[let.name] = value
        env.evidence[let.name] = value
    for req in rule.requires:
        try:
            value = ops.truth(evaluate(req.cond, env), req.cond, "`require`")
        except EvalError as exc:
            return _error(rule, sid, exc, env, req.cond)
        if value is None:
            return _error(rule, sid, EvalError(f"`{req.cond.text}` is null (unknown), so the requirement cannot be decided",
                                               req.cond.span, value=None), env, req.cond)
        if not value:
            template = req.otherwise or rule.message
            message, template_error = render_message(template, env) if template else (default_message(rule, req), None)
            evidence = _evidence(env)
            hint = distance_hint(req.cond, lambda e: evaluate(e, env), env)
            if hint:
                evidence.append((DISTANCE_KEY, hint))
            if template_error:
                evidence.append(("template error", template_error))
            return Result(rule.id, sid, "fail", message, evidence, str(req.cond.span))
    return Result(rule.id, sid, "pass")


DISTANCE_KEY = "to pass"


def distance_hint(cond: ast.Expr, operand: Any, env: _Env) -> str | None:
    """What would make a failing ordering comparison pass (SPEC-adjacent: explain's
    "distance to compliance"), from its operands re-read silently; None when unknown."""
    if not (isinstance(cond, ast.Compare) and cond.op in ("<", "<=", ">", ">=")):
        return None
    saved = env.recording
    env.recording = False
    try:
        left, right = operand(cond.left), operand(cond.right)
        return distance(cond.op, cond.left, left, cond.right, right, env)
    except (EvalError, ArithmeticError, ValueError):
        return None  # no hint is better than a wrong one; the finding itself stands
    finally:
        env.recording = saved


def default_message(rule: ast.Rule, req: ast.Require) -> str:
    title = rule.meta_value("title")
    return f"{title}: `{req.cond.text}` does not hold" if title else f"`{req.cond.text}` does not hold"


def _evidence(env: _Env) -> list[tuple[str, Any]]:
    return [(k, to_json(v)) for k, v in env.evidence.items()]


def _error(rule: ast.Rule, sid: str, exc: EvalError, env: _Env, where: ast.Expr) -> Result:
    span = exc.span or where.span
    evidence = _evidence(env)
    if exc.path and exc.path not in env.evidence and exc.value is not UNKNOWN:
        evidence.append((exc.path, to_json(exc.value)))
    return Result(rule.id, sid, "error", f"{exc.message} (at {span})", evidence, str(span))


def render_message(t: ast.Template, env: _Env) -> tuple[str, str | None]:
    """Render a message template; a field that fails keeps its source text and reports why."""
    out = []
    problem = None
    saved = env.recording
    env.recording = False
    try:
        for part in t.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                value = evaluate(part.expr, env)
                out.append(format_field(value, part.places))
            except EvalError as exc:
                problem = problem or f"{{{part.expr.text}}}: {exc.message}"
                out.append("{" + part.expr.text + "}")
    finally:
        env.recording = saved
    return "".join(out), problem


def format_field(value: Any, places: int | None) -> str:
    if places is not None and isinstance(value, decimal.Decimal):
        rounded = round_half_up(value, places)
        return f"{rounded:.{places}f}"
    if places is not None and value is not None:
        raise EvalError(f"`:.{places}f` formats numbers, not a {type_name(value)}")
    return display(value)


# ------------------------------------------------------------------ expressions --


def evaluate(e: ast.Expr, env: _Env) -> Any:
    """Evaluate an expression, recording evidence for the operands a reader needs."""
    t = type(e)
    if t is ast.Literal:
        return e.value  # type: ignore[attr-defined]
    if t is ast.Name:
        return _name(e, env)  # type: ignore[arg-type]
    if t is ast.Attr or t is ast.Index:
        value = _path(e, env)
        env.record(e.text, value)
        return value
    if t is ast.Call:
        value = _call(e, env)  # type: ignore[arg-type]
        env.record(e.text, value)
        _record_metric_inputs(e, env)  # type: ignore[arg-type]
        return value
    if t is ast.Comprehension:
        saved = env.recording
        env.recording = False
        try:
            value = _comprehension(e, env)  # type: ignore[arg-type]
        finally:
            env.recording = saved
        env.record(e.text, value)
        return value
    return _EVAL[t](e, env)


def evaluate_unrecorded(e: ast.Expr, env: _Env) -> Any:
    """Evaluate a `let` body: its operands are evidence, its own value is the let's."""
    t = type(e)
    if t is ast.Attr or t is ast.Index:
        return _path(e, env)
    if t is ast.Call:
        value = _call(e, env)  # type: ignore[arg-type]
        _record_metric_inputs(e, env)  # type: ignore[arg-type]
        return value
    if t is ast.Comprehension:
        saved = env.recording
        env.recording = False
        try:
            return _comprehension(e, env)  # type: ignore[arg-type]
        finally:
            env.recording = saved
    return evaluate(e, env)


def _record_metric_inputs(e: ast.Call, env: _Env) -> None:
    spec = env.functions.get(e.func)
    if spec is None or spec.kind != "metric" or not env.recording:
        return
    for a in e.args:
        v = _inner(a, env) if isinstance(a, ast.Name) else None
        if not isinstance(v, dict):
            continue
        for path in spec.inputs:
            value: Any = v
            for k in path.split("."):
                value = value.get(k) if isinstance(value, dict) else None
            env.record(f"{a.text}.{path}", value)


def _name(e: ast.Name, env: _Env) -> Any:
    if e.name in env.vars:
        return env.vars[e.name]
    if e.name in env.params:
        value = env.params[e.name]
        env.record(e.name, value)
        return value
    return env.snapshot.collection(e.name)


def _path(e: ast.Expr, env: _Env) -> Any:
    """Null-safe field access: a missing key or a path through null gives null."""
    if isinstance(e, ast.Attr):
        obj = _path(e.obj, env) if isinstance(e.obj, (ast.Attr, ast.Index)) else _inner(e.obj, env)
        return _get(obj, e.name, e)
    if isinstance(e, ast.Index):
        obj = _path(e.obj, env) if isinstance(e.obj, (ast.Attr, ast.Index)) else _inner(e.obj, env)
        key = evaluate(e.key, env)
        if obj is None:
            return None
        if isinstance(obj, list):
            if key is None:
                raise EvalError(f"`{e.key.text}` is null, so the list cannot be indexed", e.key.span, e.key.text, value=None)
            if not isinstance(key, decimal.Decimal) or key != key.to_integral_value():
                raise EvalError(f"a list index must be a whole number, not `{display(key)}`", e.key.span)
            i = int(key)
            return obj[i] if 0 <= i < len(obj) else None
        if key is None:
            raise EvalError(f"`{e.key.text}` is null, so it cannot be used as a key", e.key.span, e.key.text, value=None)
        if not isinstance(key, str):
            raise EvalError(f"a record key must be text, not a {type_name(key)}", e.key.span)
        return _get(obj, key, e)
    return evaluate(e, env)


def _inner(e: ast.Expr, env: _Env) -> Any:
    """The object of a path: evaluated without recording it (the whole path is recorded)."""
    if isinstance(e, ast.Name):
        if e.name in env.vars:
            return env.vars[e.name]
        if e.name in env.params:
            return env.params[e.name]
        return env.snapshot.collection(e.name)
    return evaluate(e, env)


def _get(obj: Any, key: str, e: ast.Expr) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    raise EvalError(f"`{e.text}` reads a field of a {type_name(obj)}", e.span, e.text)


def _today(e: ast.Today, env: _Env) -> Any:
    return env.today


def _list(e: ast.ListLit, env: _Env) -> Any:
    return [evaluate(i, env) for i in e.items]


def _object(e: ast.ObjectLit, env: _Env) -> Any:
    return {k: evaluate(v, env) for k, v in zip(e.keys, e.values)}


def _unary(e: ast.Unary, env: _Env) -> Any:
    v = evaluate(e.operand, env)
    if e.op == "not":
        b = ops.truth(v, e.operand, "`not`")
        return None if b is None else not b
    return ops.negate(v, e)


def _binary(e: ast.Binary, env: _Env) -> Any:
    op = e.op
    if op in ops.LOGIC:
        left_stop, left_result, right_stop, right_result, otherwise = ops.LOGIC[op]
        what = f"`{op}`"
        lv = ops.truth(evaluate(e.left, env), e.left, what)
        if lv is left_stop:
            return left_result
        rv = ops.truth(evaluate(e.right, env), e.right, what)
        if rv is right_stop:
            return right_result
        return None if lv is None or rv is None else otherwise
    if op == "??":
        lv = evaluate(e.left, env)
        return lv if lv is not None else evaluate(e.right, env)
    return ops.arith(op, evaluate(e.left, env), evaluate(e.right, env), e)


def _compare(e: ast.Compare, env: _Env) -> Any:
    op = e.op
    if op == "matches":
        lv = evaluate(e.left, env)
        pattern = evaluate(e.right, env)
        if not isinstance(pattern, str):
            raise EvalError(f"`matches` needs a text pattern, not a {type_name(pattern)}", e.right.span)
        rx = env.regexes.get(pattern)
        if rx is None:
            rx = env.regexes[pattern] = re2.compile(pattern)
        return ops.matches(lv, rx, e)
    lv = evaluate(e.left, env)
    rv = evaluate(e.right, env)
    if op == "==":
        return ops.equal(lv, rv, e)
    if op == "!=":
        return not ops.equal(lv, rv, e)
    if op in ("in", "not in"):
        found = ops.contains(rv, lv, e, e.right, e.left)
        return found if op == "in" else not found
    if op == "contains":
        return ops.contains(lv, rv, e, e.left, e.right)
    return ops.order(op, lv, rv, e)


def _present(e: ast.IsPresent, env: _Env) -> Any:
    v = evaluate(e.operand, env)
    return (v is None) if e.negated else (v is not None)


def _call(e: ast.Call, env: _Env) -> Any:
    if e.func in ("all", "any", "none", "count", "sum", "min", "max", "avg") and len(e.args) == 1:
        values = evaluate(e.args[0], env)
        if values is None:
            raise EvalError(f"`{e.args[0].text}` is null, so `{e.func}` cannot be decided", e.args[0].span, e.args[0].text, value=None)
        if not isinstance(values, list):
            raise EvalError(f"`{e.func}` needs a list, but `{e.args[0].text}` is a {type_name(values)}", e.args[0].span)
        if e.func == "count":
            return decimal.Decimal(len(values))
        if e.func in AGG_BOOL:
            return _fold_bool(e.func, [(v, e.args[0]) for v in values])
        return ops.aggregate_values(e.func, values, e, e.span in env.duration_sums)
    spec = env.functions[e.func]
    args = [evaluate(a, env) for a in e.args]
    if not spec.null_ok:
        for a, v in zip(e.args, args):
            if v is None:
                raise EvalError(f"`{a.text}` is null, so `{e.func}(...)` cannot be computed", a.span, a.text, value=None)
    if spec.context:
        args = [env.run, *args]
    if spec.kind == "metric":
        return invoke_metric(spec, e, args, env.metric_cache)
    return invoke(spec, e, args)


def invoke(spec: FunctionSpec, e: ast.Call, args: list[Any]) -> Any:
    """Call a plugin's function; whatever it raises becomes an `error` naming the plugin."""
    try:
        return check_result(spec, spec.func(*args), e)
    except EvalError:
        raise
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise EvalError(f"`{e.text}`: {exc} (in plugin `{spec.plugin}`)", e.span) from None
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is an error outcome, named
        raise EvalError(f"`{e.text}` failed in plugin `{spec.plugin}`: {type(exc).__name__}: {exc}", e.span) from None


#: What a plugin's function may return as it is (with null, and a Duration): `check_result`.
RESULT_TYPES = (bool, str, decimal.Decimal, dt.date, list, dict)


def check_result(spec: FunctionSpec, value: Any, e: ast.Call) -> Any:
    """Plugins must return language values; anything else is named, not passed on."""
    if value is None or isinstance(value, RESULT_TYPES):
        return value
    from ..values import Duration

    if isinstance(value, Duration):
        return value
    if isinstance(value, int):
        return decimal.Decimal(value)
    raise EvalError(f"`{e.text}`: plugin `{spec.plugin}` returned a {type(value).__name__}, not a language value", e.span)


def metric_key(name: str, args: list[Any]) -> tuple:
    """A metric's cache key: records and lists by identity (the same subject), values by value.
    Every evaluator uses it, so a metric is computed at most once per subject and run."""
    return (name, *(id(a) if isinstance(a, (dict, list, RunContext)) else a for a in args))


def invoke_metric(spec: FunctionSpec, e: ast.Call, args: list[Any], cache: MetricCache) -> Any:
    key = metric_key(spec.name, args)
    if key in cache:
        return cache[key]
    value = cache[key] = invoke(spec, e, args)
    cache.pins.extend(a for a in args if isinstance(a, (dict, list)))  # those keyed by id, kept while it names them
    return value


def _fold_bool(agg: str, items: list[tuple[Any, ast.Expr]]) -> Any:
    unknown = False
    for v, src in items:
        b = ops.truth(v, src, f"`{agg}`")
        if b is None:
            unknown = True
        elif agg == "all" and b is False:
            return False
        elif agg in ("any", "none") and b is True:
            return agg == "any"
    if unknown:
        return None
    return {"all": True, "any": False, "none": True}[agg]


def _comprehension(e: ast.Comprehension, env: _Env) -> Any:
    coll = evaluate(e.collection, env)
    if coll is None:
        raise EvalError(f"`{e.collection.text}` is null, so `{e.agg}` cannot be decided", e.collection.span, e.collection.text, value=None)
    if not isinstance(coll, list):
        raise EvalError(f"`{e.collection.text}` is a {type_name(coll)}, not a collection", e.collection.span)
    had = e.var in env.vars
    saved = env.vars.get(e.var)
    try:
        return _run_comprehension(e, coll, env)
    finally:
        if had:
            env.vars[e.var] = saved
        else:
            env.vars.pop(e.var, None)


def _selected(e: ast.Comprehension, item: Any, env: _Env) -> bool:
    env.vars[e.var] = item
    if e.where is None:
        return True
    w = ops.truth(evaluate(e.where, env), e.where, "a comprehension `where`")
    if w is None:
        raise EvalError(f"the comprehension `where` `{e.where.text}` is null (unknown)", e.where.span, e.where.text, value=None)
    return w


def _run_comprehension(e: ast.Comprehension, coll: list, env: _Env) -> Any:
    agg = e.agg
    if agg in AGG_BOOL:
        unknown = False
        for item in coll:
            if not _selected(e, item, env):
                continue
            b = ops.truth(evaluate(e.element, env), e.element, f"`{agg}`")
            if b is None:
                unknown = True
            elif agg == "all" and b is False:
                return False
            elif agg in ("any", "none") and b is True:
                return agg == "any"
        if unknown:
            return None
        return agg != "any"
    if agg == "count":
        n = 0
        for item in coll:
            if not _selected(e, item, env):
                continue
            b = ops.truth(evaluate(e.element, env), e.element, "`count`")
            if b is None:
                raise EvalError(f"`{e.element.text}` is null (unknown), so it cannot be counted", e.element.span, e.element.text, value=None)
            if b:
                n += 1
        return decimal.Decimal(n)
    values = []
    for item in coll:
        if _selected(e, item, env):
            values.append(evaluate(e.element, env))
    return ops.aggregate_values(agg, values, e, e.span in env.duration_sums)


_EVAL = {
    ast.Today: _today,
    ast.ListLit: _list,
    ast.ObjectLit: _object,
    ast.Unary: _unary,
    ast.Binary: _binary,
    ast.Compare: _compare,
    ast.IsPresent: _present,
}


# ----------------------------------------------------------------------- waivers --


def _waiver_matches(program: Program, run: RunContext, w: ast.Waiver, rule: ast.Rule,
                    subject: dict) -> bool | str:
    """Does a `subjects where` waiver select this subject? An error is returned as text."""
    assert w.where is not None and rule.for_clause is not None
    env = _Env(program, program.params.get(rule.package, {}), run)
    env.vars[rule.for_clause.var] = subject
    env.recording = False
    try:
        v = ops.truth(evaluate(w.where, env), w.where, "a waiver's `where`")
    except EvalError as exc:
        return exc.message
    return bool(v)


__all__ = ["ReferenceEvaluator", "evaluate_subject", "render_message", "format_number"]
