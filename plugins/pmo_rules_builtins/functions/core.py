"""The functions every policy can call: len lower upper round abs min max days date.

Arguments arrive as language values (`Decimal`, `str`, `date`, `Duration`, `list`); the
engine has already turned a null argument into an `error` outcome unless the function
says it accepts nulls, so these bodies only deal with real values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec
from pmo_rules.values import Duration, round_half_up


def _len(value: str | list) -> Decimal:
    return Decimal(len(value))


def _round(value: Decimal, places: Decimal = Decimal(0)) -> Decimal:
    if places != places.to_integral_value() or not -20 <= places <= 20:
        raise ValueError("round() takes a whole number of places between -20 and 20")
    return round_half_up(value, int(places))


def _abs(value: Decimal | Duration) -> Decimal | Duration:
    if isinstance(value, Duration):
        return Duration(abs(value.days))
    return abs(value)


def _check_same(values: tuple) -> None:
    kinds = {type(v) for v in values}
    if len(kinds) > 1:
        raise TypeError("min() and max() need arguments of one type")


def _min(*values):
    _check_same(values)
    return min(values)


def _max(*values):
    _check_same(values)
    return max(values)


def _days(value: Duration) -> Decimal:
    return value.days


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"`{value}` is not a date in YYYY-MM-DD form") from None


FUNCTIONS = (
    FunctionSpec("len", _len, ("text|list",), "number", "Number of characters in a text (code points) or items in a list."),
    FunctionSpec("lower", str.lower, ("text",), "text", "The text in lower case."),
    FunctionSpec("upper", str.upper, ("text",), "text", "The text in upper case."),
    FunctionSpec("round", _round, ("number", "number"), "number",
                 "Round to N decimal places (default 0), half away from zero as finance expects.", min_args=1),
    FunctionSpec("abs", _abs, ("number|duration",), "same", "The absolute value of a number or duration."),
    FunctionSpec("min", _min, ("number|date|duration|text", "number|date|duration|text"), "same",
                 "The smallest of two or more values (with one list argument: the aggregate).", varargs=True),
    FunctionSpec("max", _max, ("number|date|duration|text", "number|date|duration|text"), "same",
                 "The largest of two or more values (with one list argument: the aggregate).", varargs=True),
    FunctionSpec("days", _days, ("duration",), "number", "The number of days in a duration.", unit="days"),
    FunctionSpec("date", _date, ("text",), "date", "Parse a YYYY-MM-DD text into a date."),
)


@hookimpl
def pmo_rules_functions(register):
    for spec in FUNCTIONS:
        register(spec)
