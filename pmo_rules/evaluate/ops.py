"""The language's operators on runtime values: the semantics both evaluators share.

Each function takes already-evaluated operands plus the expressions they came from (for
error messages naming the null or bad operand's path) and returns a value or raises
`EvalError`. Null handling follows SPEC 2.3/2.6: only `== != is present/missing ?? and
or not` accept null; everything else turns null into an error.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from typing import Any

from .. import ast
from ..values import DECIMAL_CONTEXT, Duration, display, type_name
from .errors import EvalError


def _null_error(op: str, operand: ast.Expr) -> EvalError:
    return EvalError(f"`{operand.text}` is null, so `{op}` cannot be decided", operand.span, operand.text, value=None)


def _type_error(op: str, lv: Any, rv: Any, e: ast.Expr) -> EvalError:
    return EvalError(f"cannot apply `{op}` to a {type_name(lv)} and a {type_name(rv)} in `{e.text}`", e.span)


def is_number(v: Any) -> bool:
    return isinstance(v, Decimal)


def equal(lv: Any, rv: Any, e: ast.Expr | None) -> bool:
    """`==`: null equals only null; values of different types are a data type error."""
    if lv is None or rv is None:
        return lv is None and rv is None
    lt, rt = type_name(lv), type_name(rv)
    if lt != rt:
        if e is None:
            return False
        raise EvalError(f"cannot compare a {lt} with a {rt} in `{e.text}`", e.span)
    if lt == "list":
        return len(lv) == len(rv) and all(equal(a, b, None) for a, b in zip(lv, rv))
    return lv == rv


def order(op: str, lv: Any, rv: Any, e: ast.Compare) -> bool:
    if lv is None:
        raise _null_error(op, e.left)
    if rv is None:
        raise _null_error(op, e.right)
    lt, rt = type_name(lv), type_name(rv)
    if lt != rt or lt not in ("number", "date", "duration", "text"):
        raise _type_error(op, lv, rv, e)
    if op == "<":
        return lv < rv
    if op == "<=":
        return lv <= rv
    if op == ">":
        return lv > rv
    return lv >= rv


def contains(container: Any, item: Any, e: ast.Compare, cexpr: ast.Expr, iexpr: ast.Expr) -> bool:
    if container is None:
        raise _null_error(e.op, cexpr)
    if item is None:
        raise _null_error(e.op, iexpr)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise EvalError(f"only text can be found in a text, not a {type_name(item)}, in `{e.text}`", e.span)
        return item in container
    if isinstance(container, list):
        return any(equal(x, item, None) for x in container)
    raise EvalError(f"`{cexpr.text}` is a {type_name(container)}, not a list or text", cexpr.span, cexpr.text)


def matches(text: Any, regex: Any, e: ast.Compare) -> bool:
    if text is None:
        raise _null_error("matches", e.left)
    if not isinstance(text, str):
        raise EvalError(f"`matches` needs text, but `{e.left.text}` is a {type_name(text)}", e.left.span, e.left.text)
    return regex.search(text) is not None


def arith(op: str, lv: Any, rv: Any, e: ast.Binary) -> Any:
    if lv is None:
        raise _null_error(op, e.left)
    if rv is None:
        raise _null_error(op, e.right)
    lnum, rnum = isinstance(lv, Decimal), isinstance(rv, Decimal)
    try:
        with decimal.localcontext(DECIMAL_CONTEXT):
            if lnum and rnum:
                if op == "+":
                    return lv + rv
                if op == "-":
                    return lv - rv
                if op == "*":
                    return lv * rv
                if rv == 0:
                    raise EvalError(f"division by zero: `{e.right.text}` is 0", e.right.span, e.right.text, value=rv)
                return lv / rv
            ld, rd = isinstance(lv, Duration), isinstance(rv, Duration)
            ldate = isinstance(lv, dt.date)
            rdate = isinstance(rv, dt.date)
            if ldate and rdate and op == "-":
                return Duration(Decimal((lv - rv).days))
            if ldate and rd and op in "+-":
                return _shift_date(lv, rv.days if op == "+" else -rv.days, e)
            if ld and rdate and op == "+":
                return _shift_date(rv, lv.days, e)
            if ld and rd:
                if op == "+":
                    return Duration(lv.days + rv.days)
                if op == "-":
                    return Duration(lv.days - rv.days)
                if op == "/":
                    if rv.days == 0:
                        raise EvalError(f"division by zero: `{e.right.text}` is 0d", e.right.span, e.right.text, value=rv)
                    return lv.days / rv.days
            if ld and rnum and op in "*/":
                if op == "*":
                    return Duration(lv.days * rv)
                if rv == 0:
                    raise EvalError(f"division by zero: `{e.right.text}` is 0", e.right.span, e.right.text, value=rv)
                return Duration(lv.days / rv)
            if lnum and rd and op == "*":
                return Duration(lv * rv.days)
            if isinstance(lv, str) and isinstance(rv, str) and op == "+":
                return lv + rv
    except decimal.Overflow:
        raise EvalError(f"number too large in `{e.text}`", e.span) from None
    except decimal.InvalidOperation:
        raise EvalError(f"invalid arithmetic in `{e.text}`", e.span) from None
    raise _type_error(op, lv, rv, e)


def _shift_date(d: dt.date, days: Decimal, e: ast.Expr) -> dt.date:
    if days != days.to_integral_value():
        raise EvalError(f"cannot move a date by a fraction of a day ({display(days)}d) in `{e.text}`", e.span)
    try:
        return d + dt.timedelta(days=int(days))
    except OverflowError:
        raise EvalError(f"date out of range in `{e.text}`", e.span) from None


def negate(v: Any, e: ast.Unary) -> Any:
    if v is None:
        raise _null_error("-", e.operand)
    if isinstance(v, Decimal):
        return -v
    if isinstance(v, Duration):
        return Duration(-v.days)
    raise EvalError(f"cannot negate a {type_name(v)}: `{e.operand.text}`", e.span, e.operand.text)


# Three-valued `and`/`or`/`implies`, left to right, stopping as soon as the result is known:
# op -> (left value that decides, its result, right value that decides, its result,
#         result when neither decided and neither side is null; otherwise null).
LOGIC = {
    "and": (False, False, False, False, True),
    "or": (True, True, True, True, False),
    "implies": (False, True, True, True, False),
}


def truth(v: Any, e: ast.Expr, what: str) -> bool | None:
    """A condition's value: True, False or None (unknown); anything else is a type error."""
    if v is None or v is True or v is False:
        return v
    raise EvalError(f"{what} needs true or false, but `{e.text}` is a {type_name(v)}", e.span, e.text)


# ---------------------------------------------------------------- aggregates --


def aggregate_values(agg: str, values: list[Any], e: ast.Expr, duration_zero: bool) -> Any:
    """sum/min/max/avg over evaluated values; a null element is an error, never skipped."""
    for v in values:
        if v is None:
            raise EvalError(f"`{e.text}` meets a null value; {agg} never skips nulls", e.span, e.text)
    if agg == "sum":
        if not values:
            return Duration(Decimal(0)) if duration_zero else Decimal(0)
        return _sum(values, e)
    if agg == "avg":
        if not values:
            return None
        total = _sum(values, e)
        with decimal.localcontext(DECIMAL_CONTEXT):
            if isinstance(total, Duration):
                return Duration(total.days / Decimal(len(values)))
            return total / Decimal(len(values))
    if agg in ("min", "max"):
        if not values:
            return None
        kinds = {type_name(v) for v in values}
        if len(kinds) > 1 or next(iter(kinds)) not in ("number", "date", "duration", "text"):
            raise EvalError(f"`{e.text}`: {agg} needs values of one ordered type, got {', '.join(sorted(kinds))}", e.span)
        return min(values) if agg == "min" else max(values)
    raise AssertionError(agg)  # pragma: no cover


def _sum(values: list[Any], e: ast.Expr) -> Any:
    # Numbers, as they nearly always are, known without a type name per value: a person's
    # load or a program's total is summed once per subject (100,000s of times a run).
    numbers = all(v.__class__ is Decimal for v in values)
    kinds = set() if numbers else {type_name(v) for v in values}
    if numbers or kinds == {"number"}:
        with decimal.localcontext(DECIMAL_CONTEXT):
            total = Decimal(0)
            for v in values:
                total += v
            return total
    if kinds == {"duration"}:
        with decimal.localcontext(DECIMAL_CONTEXT):
            days = Decimal(0)
            for v in values:
                days += v.days
            return Duration(days)
    raise EvalError(f"`{e.text}`: cannot add up {', '.join(sorted(kinds))} values", e.span)
