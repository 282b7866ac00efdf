"""Runtime values of the policy language and how they print.

Numbers are `decimal.Decimal` everywhere (data and policies) so that auditors never see a
float artefact; dates are `datetime.date`; durations are `Duration` (a number of days);
text is `str`; null is `None`; lists are `list`; records are `dict`. Both evaluators use
these helpers, so messages and evidence print identically whichever one ran.
"""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal
from typing import Any

# Division keeps 28 significant digits (SPEC 2.2), the same as Python's default context.
DECIMAL_CONTEXT = decimal.Context(
    prec=28,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999999,
    Emax=999999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


class Duration:
    """A span of calendar days; `3mo` is 90 days and `1y` 365 days (SPEC 2.2)."""

    __slots__ = ("days",)

    def __init__(self, days: Decimal):
        self.days = days if isinstance(days, Decimal) else Decimal(days)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and self.days == other.days

    def __hash__(self) -> int:
        return hash(("duration", self.days))

    def __lt__(self, other: Duration) -> bool:
        return self.days < other.days

    def __le__(self, other: Duration) -> bool:
        return self.days <= other.days

    def __gt__(self, other: Duration) -> bool:
        return self.days > other.days

    def __ge__(self, other: Duration) -> bool:
        return self.days >= other.days

    def __repr__(self) -> str:
        return f"Duration({format_number(self.days)}d)"

    def __str__(self) -> str:
        return f"{format_number(self.days)}d"


UNIT_DAYS = {"d": 1, "w": 7, "mo": 30, "y": 365}


def type_name(value: Any) -> str:
    """The language's name for a runtime value's type, as errors print it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (Decimal, int)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, float):
        return "number"
    return type(value).__name__


def format_number(value: Decimal | int) -> str:
    """Plain decimal notation, no exponent, no trailing zeros after the point."""
    if value.__class__ is Decimal:
        # str() is format(, "f") whenever it has no exponent (and for NaN and infinities),
        # and several times cheaper.
        text = str(value)
        if "E" in text or "e" in text:
            text = format(value, "f")
    elif isinstance(value, int):
        return str(value)
    elif not value.is_finite():
        return str(value)
    else:
        text = format(value, "f")  # a point only when the exponent is negative
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def round_half_up(value: Decimal, places: int) -> Decimal:
    """Round half away from zero, as finance expects (SPEC 2.6)."""
    quant = _QUANTA[places] if 0 <= places < len(_QUANTA) else Decimal(1).scaleb(-places)
    prec = max(28, value.adjusted() + places + 2)
    if prec == 28:  # the usual case: DECIMAL_CONTEXT itself, handed over instead of switched to
        return value.quantize(quant, rounding=decimal.ROUND_HALF_UP, context=_ROUNDING)
    with decimal.localcontext(DECIMAL_CONTEXT) as ctx:
        ctx.prec = prec
        return value.quantize(quant, rounding=decimal.ROUND_HALF_UP)


_ROUNDING = DECIMAL_CONTEXT.copy()  # round_half_up's own: the flags it raises stay there
_QUANTA = tuple(Decimal(1).scaleb(-places) for places in range(10))  # exact, whatever the context


def record_label(value: dict) -> str:
    """How a record prints in a message or evidence: its id, or name, or `{...}`."""
    for key in ("id", "name"):
        v = value.get(key)
        if isinstance(v, str):
            return v
    return "{...}"


def display(value: Any, limit: int = 200) -> str:
    """Render a value for messages and evidence text (null prints as `null`)."""
    c = value.__class__
    if c is str:
        return value
    if c is Decimal:
        return format_number(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return format_number(value)
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, dict):
        return record_label(value)
    if isinstance(value, list):
        parts = []
        total = 0
        for item in value:
            text = _quoted(item)
            total += len(text)
            if total > limit:
                parts.append("...")
                break
            parts.append(text)
        return "[" + ", ".join(parts) + "]"
    return str(value)


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return display(value)


def to_json(value: Any, depth: int = 0) -> Any:
    """A JSON-ready evidence value: numbers stay exact `Decimal` (the JSON writer prints
    their digits), dates and durations become text, records become their label."""
    cls = value.__class__
    if cls is Decimal or cls is str or value is None or cls is bool:
        return value  # most evidence: the same answer as below, without isinstance walks
    if isinstance(value, (bool, str, Decimal, int)):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, dict):
        return record_label(value)
    if isinstance(value, list):
        if depth > 2:
            return display(value)
        items = [to_json(v, depth + 1) for v in value[:50]]
        if len(value) > 50:
            items.append(f"... {len(value) - 50} more")
        return items
    return display(value)
