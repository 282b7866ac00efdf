"""A small JSON writer that prints `Decimal` numbers with their exact digits.

The standard library can only print floats, which would turn an exact 0.1 + 0.2 into an
approximation; auditors must never see one. Keys keep insertion order and output is
deterministic for the same input.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from .values import Duration, format_number

_str = json.JSONEncoder(ensure_ascii=False).encode


_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any, indent: int | None = 2) -> str:
    parts: list[str] = []
    _write(value, parts, indent, 0)
    text = "".join(parts)
    if not text.isascii() and _SURROGATE.search(text):
        # A lone surrogate (JSON input may hold `\ud800`) cannot be written as UTF-8: keep
        # it as the JSON escape it came from. Surrogates only ever occur inside strings.
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def _write(v: Any, out: list[str], indent: int | None, level: int) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(_str(v))
    elif isinstance(v, Decimal):
        out.append(format_number(v) if v.is_finite() else _str(str(v)))
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(repr(v) if v == v and v not in (float("inf"), float("-inf")) else _str(str(v)))
    elif isinstance(v, dt.date):
        out.append(_str(v.isoformat()))
    elif isinstance(v, Duration):
        out.append(_str(str(v)))
    elif isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        out.append("{")
        first = True
        for k, item in v.items():
            if not first:
                out.append(",")
            first = False
            if indent is not None:
                out.append("\n" + " " * (indent * (level + 1)))
            out.append(_str(str(k)))
            out.append(": " if indent is not None else ":")
            _write(item, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * level))
        out.append("}")
    elif isinstance(v, (list, tuple)):
        if not v:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            if indent is not None:
                out.append("\n" + " " * (indent * (level + 1)))
            _write(item, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * level))
        out.append("]")
    else:
        out.append(_str(str(v)))
