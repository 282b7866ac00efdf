"""Parameters: declarations, and overrides from `--param` and the config file.

An override is text parsed as the default's type (`21d` for a duration, YYYY-MM-DD for a
date; an integer default accepts decimals), so a wrong type is a usage error that says
which type was expected.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from ..lexing import LexicalError, classify_numeric
from ..values import Duration, type_name


class ParamValueError(ValueError):
    pass


def parse_param_value(text: str, default: Any, name: str) -> Any:
    """Parse an override for a param whose default is `default`."""
    raw = text.strip()
    want = type_name(default)
    try:
        if isinstance(default, bool):
            if raw.lower() in ("true", "false"):
                return raw.lower() == "true"
            raise ParamValueError
        if isinstance(default, Decimal):
            neg = raw.startswith("-")
            lit = classify_numeric(raw[1:] if neg else raw)
            if lit.kind != "number":
                raise ParamValueError
            return -lit.value if neg else lit.value
        if isinstance(default, Duration):
            neg = raw.startswith("-")
            lit = classify_numeric(raw[1:] if neg else raw)
            if lit.kind != "duration":
                raise ParamValueError
            return Duration(-lit.value.days) if neg else lit.value
        if isinstance(default, dt.date):
            lit = classify_numeric(raw)
            if lit.kind != "date":
                raise ParamValueError
            return lit.value
        if isinstance(default, str):
            if len(raw) >= 2 and raw[0] == raw[-1] == '"':
                return raw[1:-1]
            return text
        if default is None:
            raise ParamValueError
    except (LexicalError, InvalidOperation, ParamValueError, IndexError):
        pass
    examples = {"number": "0.85 or 250k or 20%", "duration": "21d, 2w, 3mo or 1y", "date": "2027-01-31",
                "bool": "true or false", "text": "any text"}
    raise ParamValueError(
        f"param `{name}` is a {want}; `{text}` is not a {want} (for example: {examples.get(want, want)})"
    )
