"""Token-level rules that a regular grammar cannot express well: numeric literals and strings.

The grammar lexes any run of digits, letters, `_`, `.digit` and `-digit` as one NUMERIC
token (longest match), and this module decides what it is. That is how `2026-11-20` is a
date rather than a subtraction, and how `10x`, `5-3` and `2026-02-30` get clear errors.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from .values import UNIT_DAYS, Duration

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DURATION = re.compile(r"(\d+)(d|w|mo|y)")
_MAGNITUDE = re.compile(r"(\d+(?:_\d+)*(?:\.\d+)?)(k|M|B)")
_PERCENT = re.compile(r"(\d+(?:_\d+)*(?:\.\d+)?)%")
_NUMBER = re.compile(r"\d+(?:_\d+)*(?:\.\d+)?")
_NUMBER_PREFIX = re.compile(r"\d+(?:_\d+)*(?:\.\d+)?")
_MULT = {"k": Decimal(1000), "M": Decimal(1_000_000), "B": Decimal(1_000_000_000)}


class LexicalError(ValueError):
    def __init__(self, message: str, hint: str | None = None, code: str = "bad-literal"):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


@dataclass(frozen=True, slots=True)
class NumericLiteral:
    kind: str  # number | date | duration
    value: object


def classify_numeric(text: str) -> NumericLiteral:
    """Classify a NUMERIC token or raise LexicalError saying what is wrong with it."""
    m = _DATE.fullmatch(text)
    if m:
        try:
            return NumericLiteral("date", dt.date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            raise LexicalError(
                f"`{text}` is not a valid date",
                "dates are written YYYY-MM-DD with a real month and day",
                "bad-date",
            ) from None
    if "-" in text:
        raise LexicalError(
            f"`{text}` is not a date (dates are YYYY-MM-DD)",
            f"write `{text.replace('-', ' - ')}` for a subtraction",
            "bad-date",
        )
    m = _DURATION.fullmatch(text)
    if m:
        return NumericLiteral("duration", Duration(Decimal(m[1]) * UNIT_DAYS[m[2]]))
    m = _MAGNITUDE.fullmatch(text)
    if m:
        return NumericLiteral("number", Decimal(m[1].replace("_", "")) * _MULT[m[2]])
    m = _PERCENT.fullmatch(text)
    if m:
        return NumericLiteral("number", Decimal(m[1].replace("_", "")).scaleb(-2))
    if _NUMBER.fullmatch(text):
        return NumericLiteral("number", Decimal(text.replace("_", "")))
    prefix = _NUMBER_PREFIX.match(text)
    rest = text[prefix.end():] if prefix else text
    if prefix and re.fullmatch(r"(?:d|w|mo|y)", rest) is None and re.fullmatch(r"[A-Za-z]+", rest):
        if "." in prefix.group(0) and rest in ("d", "w", "mo", "y"):
            raise LexicalError(f"`{text}`: durations take whole numbers", "write `36h` as `2d` or use `days()`")
        return _unit_error(text, rest)
    if prefix and rest in ("d", "w", "mo", "y"):
        raise LexicalError(
            f"`{text}`: durations take whole numbers of days, weeks, months or years",
            "write e.g. `10d` instead of `1.5w`",
        )
    if "__" in text or text.endswith("_") or "_." in text or "._" in text:
        raise LexicalError(f"`{text}` is not a number", "`_` may only separate digits, as in `250_000`")
    if text.count(".") > 1:
        raise LexicalError(f"`{text}` is not a number", "a number has at most one decimal point")
    return _unit_error(text, rest or text)


def _unit_error(text: str, rest: str) -> LexicalError:
    unit = re.match(r"[A-Za-z_]+", rest)
    u = unit.group(0) if unit else rest
    raise LexicalError(
        f"unknown unit `{u}` in `{text}`; use d w mo y",
        "durations are `14d` `2w` `3mo` `1y`, magnitudes `250k` `1.5M` `2B`, percentages `20%`;"
        " put a space between a number and a name",
        "bad-literal",
    )


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "{": "{", "}": "}"}


def unescape(raw: str) -> str:
    """The value of a string literal's body (quotes removed); unknown escapes keep both chars."""
    if "\\" not in raw:
        return raw
    out = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                out.append(c + nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class RawField:
    """A `{expr}` or `{expr:.nf}` field found in a template, with offsets into the body."""

    expr_text: str
    expr_offset: int
    spec: str | None
    spec_offset: int


def split_template(raw: str) -> list[str | RawField]:
    """Split a template body into literal text and fields; raises LexicalError on bad braces."""
    parts: list[str | RawField] = []
    buf: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n:
            nxt = raw[i + 1]
            buf.append(_ESCAPES.get(nxt, c + nxt))
            i += 2
            continue
        if c == "{" and raw.startswith("{{", i):
            buf.append("{")
            i += 2
            continue
        if c == "}" and raw.startswith("}}", i):
            buf.append("}")
            i += 2
            continue
        if c == "}":
            raise LexicalError(
                "a `}` in a message has no matching `{`", "write `}}` or `\\}` for a literal brace",
                "bad-template",
            )
        if c == "{":
            start = i + 1
            depth = 0
            j = start
            in_str = False
            colon = -1
            while j < n:
                d = raw[j]
                # Inside the policy's string literal a field's own strings are written `\"...\"`.
                if d == "\\" and j + 1 < n and raw[j + 1] == '"':
                    in_str = not in_str
                    j += 2
                    continue
                if d == "\\":
                    j += 2
                    continue
                if in_str:
                    pass
                elif d in "{[(":
                    depth += 1
                elif d in ")]":
                    depth -= 1
                elif d == "}":
                    if depth == 0:
                        break
                    depth -= 1
                elif d == ":" and depth == 0:
                    colon = j
                j += 1
            if j >= n:
                raise LexicalError(
                    "a `{` in a message is never closed",
                    "close the field with `}`, or write `{{` or `\\{` for a literal brace",
                    "bad-template",
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            if colon >= 0:
                expr_text, spec, spec_off = raw[start:colon], raw[colon + 1 : j], colon + 1
            else:
                expr_text, spec, spec_off = raw[start:j], None, j
            if not expr_text.strip():
                raise LexicalError("an empty `{}` in a message", "put an expression inside, or write `{{}}`", "bad-template")
            parts.append(RawField(expr_text.replace('\\"', '"'), start, spec, spec_off))
            i = j + 1
            continue
        buf.append(c)
        i += 1
    if buf:
        parts.append("".join(buf))
    return parts
