"""A small JSON writer that prints `Decimal` numbers with their exact digits.

The standard library can only print floats, which would turn an exact 0.1 + 0.2 into an
approximation; auditors must never see one. Keys keep insertion order and output is
deterministic for the same input.

What it prints, for every value (the output is part of the versioned JSON report, so it
never changes): strings through the standard library's own escaping (`ensure_ascii=False`)
with a lone surrogate written as its `\\udXXX` escape; finite `Decimal`s in plain notation
(`values.format_number`), other `Decimal`s and non-finite floats as strings; ints and
finite floats as Python prints them; dates in ISO form and `Duration`s as `str()` prints
them, both as strings; dict keys as `str(key)`; tuples as lists; anything else as the
string `str(value)`.

It is fast because a 100k-project report has millions of values: dispatch is on the exact
type first (the common types), and only subclasses and unknown types take the slower
`isinstance` chain, which decides exactly as the exact-type branches do.
`pmo_rules_builtins.formats.json_report` builds on `writer` to write findings faster still.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring as encode  # what `JSONEncoder(ensure_ascii=False)` uses
from typing import Any

from .values import Duration, format_number

Write = Callable[[Any, list, int], None]

SURROGATE = re.compile("[\ud800-\udfff]")


class Unsupported(Exception):
    """Raised by a `strict` writer for a value whose type it does not handle exactly."""


def surrogate_escape(m: re.Match) -> str:
    return f"\\u{ord(m.group()):04x}"


def string(s: str) -> str:
    """A JSON string literal: the standard library's escaping, non-ASCII kept as is, except a
    lone surrogate (JSON input may hold `\\ud800`), which cannot be written as UTF-8 and
    stays the JSON escape it came from."""
    text = encode(s)
    if not text.isascii() and SURROGATE.search(text):
        text = SURROGATE.sub(surrogate_escape, text)
    return text


def decimal_text(v: Decimal) -> str:
    """`format_number(v)` for a finite Decimal (the common cases without `as_tuple`), else a
    string."""
    if not v.is_finite():
        return string(str(v))
    text = str(v)
    if "E" in text or "e" in text:  # exponent notation (lower case if the context says so)
        text = format(v, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0" or not text:
        return "0"
    return text


def float_text(v: float) -> str:
    return repr(v) if v == v and v not in (float("inf"), float("-inf")) else string(str(v))


def writer(indent: int | None = 2, *, strict: bool = False) -> Write:
    """`write(value, out, level)`: append the JSON text of `value`, nested `level` deep, to
    the list `out`. A `strict` writer handles only the exact types None, bool, str, int,
    float, Decimal, date, Duration, list, tuple and dict (with str keys) and raises
    `Unsupported` for anything else, for callers that must treat other values differently."""
    sep = ": " if indent is not None else ":"
    breaks: dict[int, str] = {}

    def brk(level: int) -> str:
        """The line break and indentation before an item at `level` ('' without indent)."""
        text = breaks.get(level)
        if text is None:
            text = breaks[level] = "" if indent is None else "\n" + " " * (indent * level)
        return text

    def key_text(k: Any) -> str:
        if type(k) is str:
            return string(k)
        if strict:
            raise Unsupported(k)
        return string(str(k))

    def write_dict(v: dict, out: list, level: int, key: Callable[[Any], str]) -> None:
        if not v:
            out.append("{}")
            return
        inner = brk(level + 1)
        lead = "{" + inner
        for k, item in v.items():
            out.append(lead + key(k) + sep)
            lead = "," + inner
            write(item, out, level + 1)
        out.append(brk(level) + "}")

    def write_list(v: list | tuple, out: list, level: int) -> None:
        if not v:
            out.append("[]")
            return
        inner = brk(level + 1)
        lead = "[" + inner
        for item in v:
            out.append(lead)
            lead = "," + inner
            write(item, out, level + 1)
        out.append(brk(level) + "]")

    def write(v: Any, out: list, level: int) -> None:
        t = type(v)
        if t is str:
            out.append(string(v))
        elif t is Decimal:
            out.append(decimal_text(v))
        elif v is None:
            out.append("null")
        elif v is True:
            out.append("true")
        elif v is False:
            out.append("false")
        elif t is int:
            out.append(int.__repr__(v))
        elif t is float:
            out.append(float_text(v))
        elif t is dt.date:
            out.append(f'"{v.isoformat()}"')
        elif t is dict:
            write_dict(v, out, level, key_text)
        elif t is list or t is tuple:
            write_list(v, out, level)
        elif t is Duration:
            out.append(string(str(v)))
        elif strict:
            raise Unsupported(v)
        else:
            _write_other(v, out, level)

    def _write_other(v: Any, out: list, level: int) -> None:
        # Subclasses and unknown types, in the order the exact-type branches assume.
        if isinstance(v, str):
            out.append(string(v))
        elif isinstance(v, Decimal):
            out.append(format_number(v) if v.is_finite() else string(str(v)))
        elif isinstance(v, int):
            out.append(str(v))
        elif isinstance(v, float):
            out.append(float_text(v))
        elif isinstance(v, dt.date):
            out.append(string(v.isoformat()))
        elif isinstance(v, Duration):
            out.append(string(str(v)))
        elif isinstance(v, dict):
            write_dict(v, out, level, lambda k: string(str(k)))
        elif isinstance(v, (list, tuple)):
            write_list(v, out, level)
        else:
            out.append(string(str(v)))

    return write


_WRITERS: dict[int | None, Write] = {}


def dumps(value: Any, indent: int | None = 2) -> str:
    write = _WRITERS.get(indent)
    if write is None:
        write = _WRITERS[indent] = writer(indent)
    parts: list[str] = []
    write(value, parts, 0)
    return "".join(parts)
