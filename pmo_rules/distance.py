"""Distance to compliance: what would make a failing comparison pass.

`distance(op, left_expr, left_value, right_expr, right_value, env)` turns a failing
`a <= b` (or `<`, `>`, `>=`) over numbers, dates or durations into a sentence:

- `passes when `project.forecast_end` <= 2027-03-01; now 2027-04-15`
- `passes when `x` >= 406,800; now 380,000`
- a known ratio metric is inverted to the data field to change:
  `passes when project.budget.earned_value >= 406800 (now 380000)` for `cpi(project)`
  (earned_value / actual_cost) and `spi(project)` (earned_value / planned_value);
- simple arithmetic around one path is inverted too: `today - project.last_status_update
  <= 14d` gives `passes when `project.last_status_update` >= 2026-11-12; now 2026-11-01`.

The side to change is the left one, unless it is a constant (a literal, a param or
`today`) and the right one is not. Values come from the arguments and, for inversions,
from paths read off `env.vars` / `env.params` / `env.today` (any object with those
attributes, or None); nothing is evaluated and no plugin is called, so it is cheap and
pure. Numbers are exact `Decimal`s; a computed bound is rounded to at most 2 decimal
places in the direction that makes it sufficient (up for `>=`/`>`, down for `<=`/`<`).
Returns None when no useful sentence exists (other operators or types, a passing
comparison).
"""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from . import ast
from .values import DECIMAL_CONTEXT, Duration, format_number

ORDER_OPS = ("<", "<=", ">", ">=")
#: Each ordering operator as a function of two comparable values.
ORDERING: dict[str, Callable[[Any, Any], bool]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                   ">=": operator.ge}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}

# Ratio metrics: name -> (numerator path, denominator path) under the record argument.
RATIO_METRICS: dict[str, tuple[str, str]] = {
    "cpi": ("budget.earned_value", "budget.actual_cost"),
    "spi": ("budget.earned_value", "budget.planned_value"),
}

_MISSING = object()


def distance(op: str, left_expr: ast.Expr, left_value: Any, right_expr: ast.Expr, right_value: Any,
             env: Any = None) -> str | None:
    """A sentence saying what would make the failing comparison `left op right` pass."""
    if op not in ORDER_OPS or not _comparable(left_value, right_value):
        return None
    if ORDERING[op](left_value, right_value):
        return None
    target, tvalue, bound = left_expr, left_value, right_value
    if _is_constant(left_expr, env) and not _is_constant(right_expr, env):
        op, target, tvalue, bound = FLIP[op], right_expr, right_value, left_value
    try:
        with decimal.localcontext(DECIMAL_CONTEXT):
            metric = _metric_inverse(op, target, bound, env)
            if metric is not None:
                return metric
            target, tvalue, op, bound = _invert(op, target, tvalue, bound, env)
    except (ArithmeticError, OverflowError, TypeError, ValueError):
        return f"passes when `{target.text}` {op} {_show(bound, op)}; now {_now(tvalue, op, bound)}"
    return f"passes when `{target.text}` {op} {_show(bound, op)}; now {_now(tvalue, op, bound)}"


class Hint:
    """`distance(op, left_expr, ..., right_expr, ..., env)` for one comparison, with what does
    not depend on the values worked out once: which side to change, its text, and whether
    anything could be inverted. For an evaluator that asks about the same comparison for
    many subjects. `names` are the variables bound whenever it is asked (a rule's variable
    and its lets): with `params`, they are all `distance` reads of `env` to choose a side.
    """

    __slots__ = ("op", "left_expr", "right_expr", "flip", "plain", "text", "_bound", "_shown")

    def __init__(self, op: str, left_expr: ast.Expr, right_expr: ast.Expr, params: dict[str, Any],
                 names: Iterable[str]):
        self.op, self.left_expr, self.right_expr = op, left_expr, right_expr
        shape = _Shape(params, dict.fromkeys(names))
        self.flip = _is_constant(left_expr, shape) and not _is_constant(right_expr, shape)
        target = right_expr if self.flip else left_expr
        # Neither a ratio metric to invert nor arithmetic with a constant side to move
        # across: `distance` would only print, and nothing it computes needs its context.
        self.plain = op in ORDER_OPS and not (
            isinstance(target, ast.Call) and target.func in RATIO_METRICS and len(target.args) == 1) and (
            _never_inverted(target, shape))
        self.text = target.text
        # The bound is mostly one param or literal, the same object for every subject: its
        # text is kept for as long as it is. Only immutable values are kept, held (not
        # their id), so the object seen is the object printed.
        self._bound: Any = _MISSING
        self._shown = ""

    def __call__(self, left_value: Any, right_value: Any, env: Any) -> str | None:
        if not self.plain:
            return distance(self.op, self.left_expr, left_value, self.right_expr, right_value, env)
        op = self.op
        if not _comparable(left_value, right_value) or ORDERING[op](left_value, right_value):
            return None
        if self.flip:
            op, tvalue, bound = FLIP[op], right_value, left_value
        else:
            tvalue, bound = left_value, right_value
        if bound is self._bound:
            shown = self._shown
        else:
            shown = _show(bound, op)
            if bound.__class__ is Decimal or bound.__class__ is dt.date:
                self._bound, self._shown = bound, shown
        return f"passes when `{self.text}` {op} {shown}; now {_now(tvalue, op, bound)}"


def _never_inverted(target: ast.Expr, shape: Any) -> bool:
    """`_invert` gives `target` back untouched whatever the values: its first step finds no
    side that could resolve to a constant next to one that could be a path."""
    if not (isinstance(target, ast.Binary) and target.op in ("+", "-", "*", "/")):
        return True
    left, right = target.left, target.right
    lconst = not _is_path(left, shape) and not _unresolvable(left)
    rconst = not _is_path(right, shape) and not _unresolvable(right)
    return not ((rconst and _maybe_path_like(left, shape)) or (lconst and _maybe_path_like(right, shape)))


def _unresolvable(e: ast.Expr) -> bool:
    """`_resolve(e, env)` is `_MISSING` for every env: it reads no calls, comparisons,
    aggregates or literal lists, nor arithmetic other than negation."""
    if isinstance(e, ast.Unary):
        return e.op != "-" or _unresolvable(e.operand)
    return isinstance(e, (ast.Binary, ast.Call, ast.Compare, ast.IsPresent, ast.Comprehension, ast.ListLit,
                          ast.ObjectLit))


def _maybe_path_like(e: ast.Expr, shape: Any) -> bool:
    """False only where `_is_path_like(e, env)` is False for every env with these names."""
    return _is_path(e, shape) or (isinstance(e, ast.Binary) and e.op in ("+", "-", "*", "/"))


class _Shape:
    """What `_is_constant` reads of an env: the params, and which variables are bound."""

    __slots__ = ("params", "vars")

    def __init__(self, params: dict[str, Any], vars_: dict[str, None]):
        self.params, self.vars = params, vars_


# ------------------------------------------------------------------ helpers --


def _comparable(a: Any, b: Any) -> bool:
    ca = a.__class__
    if ca is b.__class__ and (ca is Decimal or ca is dt.date or ca is Duration):
        return True  # the usual case, decided without walking the class hierarchy
    for kind in (Decimal, Duration):
        if isinstance(a, kind) and isinstance(b, kind) and not isinstance(a, bool):
            return True
    return isinstance(a, dt.date) and isinstance(b, dt.date)


def _is_constant(e: ast.Expr, env: Any) -> bool:
    if isinstance(e, (ast.Literal, ast.Today)):
        return True
    if isinstance(e, ast.Name):
        params = getattr(env, "params", None) or {}
        vars_ = getattr(env, "vars", None) or {}
        return e.name in params and e.name not in vars_
    if isinstance(e, ast.Unary) and e.op == "-":
        return _is_constant(e.operand, env)
    if isinstance(e, ast.Binary) and e.op in "+-*/":
        return _is_constant(e.left, env) and _is_constant(e.right, env)
    return False


def _resolve(e: ast.Expr, env: Any) -> Any:
    """The value of a literal, param, `today`, variable or path over them; else _MISSING."""
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.Today):
        today = getattr(env, "today", None)
        return today if today is not None else _MISSING
    if isinstance(e, ast.Name):
        vars_ = getattr(env, "vars", None) or {}
        if e.name in vars_:
            return vars_[e.name]
        params = getattr(env, "params", None) or {}
        return params.get(e.name, _MISSING)
    if isinstance(e, ast.Attr):
        obj = _resolve(e.obj, env)
        if obj is _MISSING or not (obj is None or isinstance(obj, dict)):
            return _MISSING
        return None if obj is None else obj.get(e.name)
    if isinstance(e, ast.Index) and isinstance(e.key, ast.Literal) and isinstance(e.key.value, str):
        obj = _resolve(e.obj, env)
        if obj is _MISSING or not (obj is None or isinstance(obj, dict)):
            return _MISSING
        return None if obj is None else obj.get(e.key.value)
    if isinstance(e, ast.Unary) and e.op == "-":
        v = _resolve(e.operand, env)
        if isinstance(v, Decimal):
            return -v
        if isinstance(v, Duration):
            return Duration(-v.days)
    return _MISSING


def _is_path(e: ast.Expr, env: Any) -> bool:
    """Something a person can change: a variable or a field path read from one."""
    if isinstance(e, ast.Name):
        vars_ = getattr(env, "vars", None) or {}
        return e.name in vars_
    if isinstance(e, ast.Attr):
        return _is_path(e.obj, env)
    if isinstance(e, ast.Index):
        return isinstance(e.key, ast.Literal) and _is_path(e.obj, env)
    return False


def _metric_inverse(op: str, target: ast.Expr, bound: Any, env: Any) -> str | None:
    if not (isinstance(target, ast.Call) and target.func in RATIO_METRICS and len(target.args) == 1
            and isinstance(bound, Decimal)):
        return None
    record = _resolve(target.args[0], env)
    if not isinstance(record, dict):
        return None
    num_path, den_path = RATIO_METRICS[target.func]
    num, den = _dig(record, num_path), _dig(record, den_path)
    if not isinstance(num, Decimal) or not isinstance(den, Decimal) or den <= 0:
        return None
    needed = bound * den  # num / den OP bound  <=>  num OP bound * den  (den > 0)
    base = target.args[0].text
    return f"passes when {base}.{num_path} {op} {_plain(_round(needed, op))} (now {_plain(num)})"


def _dig(record: dict, path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _invert(op: str, target: ast.Expr, tvalue: Any, bound: Any, env: Any):
    """Move constants across `+ - * /` until the target is a path: (target, now, op, bound)."""
    inverted = False
    for _ in range(8):
        if not isinstance(target, ast.Binary) or target.op not in ("+", "-", "*", "/"):
            break
        lconst = _resolve(target.left, env) if not _is_path(target.left, env) else _MISSING
        rconst = _resolve(target.right, env) if not _is_path(target.right, env) else _MISSING
        if rconst is not _MISSING and _is_path_like(target.left, env):
            inner, c, const_on_right = target.left, rconst, True
        elif lconst is not _MISSING and _is_path_like(target.right, env):
            inner, c, const_on_right = target.right, lconst, False
        else:
            break
        new = _solve(target.op, op, bound, c, const_on_right)
        if new is None:
            break
        op, bound = new
        target = inner
        inverted = True
    if inverted:
        now = _resolve(target, env)
        if now is not _MISSING:
            tvalue = now
    return target, tvalue, op, bound


def _is_path_like(e: ast.Expr, env: Any) -> bool:
    if _is_path(e, env):
        return True
    if isinstance(e, ast.Binary) and e.op in ("+", "-", "*", "/"):
        return (_is_path_like(e.left, env) and _resolve(e.right, env) is not _MISSING) or (
            _is_path_like(e.right, env) and _resolve(e.left, env) is not _MISSING)
    return False


def _solve(arith: str, op: str, bound: Any, c: Any, const_on_right: bool) -> tuple[str, Any] | None:
    """From `(x arith c) op bound` (or `(c arith x) op bound`) give `x op' bound'`."""
    if arith == "+":
        return op, _sub(bound, c)
    if arith == "-":
        if const_on_right:  # x - c op b  ->  x op b + c
            return op, _add(bound, c)
        return FLIP[op], _sub(c, bound)  # c - x op b  ->  x flip(op) c - b
    if not isinstance(c, Decimal) or c == 0:
        return None
    if arith == "*":  # x * c op b  ->  x op b / c  (flip when c < 0)
        return (op if c > 0 else FLIP[op]), _div(bound, c)
    if const_on_right:  # x / c op b  ->  x op b * c
        return (op if c > 0 else FLIP[op]), _mul(bound, c)
    return None  # c / x: not monotonic over the sign of x


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, dt.date) and isinstance(b, Duration):
        return a + dt.timedelta(days=int(b.days))
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(a.days + b.days)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a + b
    raise TypeError("cannot add")


def _sub(a: Any, b: Any) -> Any:
    if isinstance(a, dt.date) and isinstance(b, Duration):
        return a - dt.timedelta(days=int(b.days))
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        return Duration(Decimal((a - b).days))
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(a.days - b.days)
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a - b
    raise TypeError("cannot subtract")


def _mul(a: Any, c: Decimal) -> Any:
    if isinstance(a, Duration):
        return Duration(a.days * c)
    if isinstance(a, Decimal):
        return a * c
    raise TypeError("cannot multiply")


def _div(a: Any, c: Decimal) -> Any:
    if isinstance(a, Duration):
        return Duration(a.days / c)
    if isinstance(a, Decimal):
        return a / c
    raise TypeError("cannot divide")


def _round(value: Decimal, op: str, places: int = 2) -> Decimal:
    """At most `places` decimals, rounded so that the bound is sufficient for `op`."""
    if value.as_tuple().exponent >= -places:  # type: ignore[operator]
        return value
    rounding = decimal.ROUND_CEILING if op in (">", ">=") else decimal.ROUND_FLOOR
    return value.quantize(Decimal(1).scaleb(-places), rounding=rounding)


def _plain(value: Decimal) -> str:
    return format_number(value)


def _grouped(value: Decimal) -> str:
    text = format_number(value)
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    if len(whole) <= 3:
        return text  # no thousands: the text as it is
    # grouped by hand: int() refuses very long digit strings
    head = len(whole) % 3 or 3
    groups = [whole[:head], *(whole[i:i + 3] for i in range(head, len(whole), 3))]
    return f"{sign}{','.join(groups)}{dot}{frac}"


def _now(value: Any, op: str, bound: Any) -> str:
    """The current value, shortened only where the short form cannot look compliant."""
    if value.__class__ is Decimal:
        exponent = value.as_tuple().exponent
        if exponent.__class__ is int and exponent >= -4:
            return _grouped(value)  # what `_show` prints, and it shortens nothing
    short = _show(value)
    if isinstance(value, Decimal) and short.replace(",", "") != format_number(value):
        shown = Decimal(short.replace(",", ""))
        if not isinstance(bound, Decimal) or ORDERING[op](shown, bound) or shown == bound:
            return _grouped(value)
    return short


def _show(value: Any, op: str | None = None) -> str:
    if isinstance(value, Decimal):
        if op is not None:
            value = _round(value, op, 2 if abs(value) >= 1 else 4)
        elif op is None and value.as_tuple().exponent < -4:  # type: ignore[operator]
            value = value.quantize(Decimal("0.0001"), rounding=decimal.ROUND_HALF_UP)
        return _grouped(value)
    if isinstance(value, Duration):
        days = value.days
        if op is not None and days != days.to_integral_value():
            days = days.to_integral_value(decimal.ROUND_CEILING if op in (">", ">=") else decimal.ROUND_FLOOR)
        return str(Duration(days))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)  # pragma: no cover


__all__ = ["RATIO_METRICS", "Hint", "distance"]
