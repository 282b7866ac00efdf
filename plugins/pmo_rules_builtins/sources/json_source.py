"""JSON source: a file holding one collection (a list) or all of them (an object).

Numbers are read as exact decimals; a record holding NaN or Infinity is refused, naming
the field, since no budget is "not a number". A record nested too deeply for Python's JSON reader is reported as that
record's problem (the file is then split into records without recursion), so the other
records still load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import BadRecord, SourceSpec


def _constant(name: str) -> float:
    # NaN, Infinity, -Infinity stay floats, so that validation rejects the record naming
    # the field ("should be a finite number") and the file's other records still load.
    return float(name)


#: At most this many number texts are remembered per file (see `Decimals`).
_SHARED_NUMBERS = 100_000


class Decimals(dict):
    """The Decimal of each number text, made once: the 0.5 of a hundred thousand records is
    one object (a Decimal is immutable, and equal text gives an identical value)."""

    __slots__ = ()

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)
        if len(self) < _SHARED_NUMBERS:
            self[text] = value
        return value


def loads(text: str, parse_float=Decimal):
    return json.loads(text, parse_float=parse_float, parse_constant=_constant)


def decoder() -> json.JSONDecoder:
    """A reusable reader of one value per call (`decoder().decode(line)` is `loads(line)`
    for any line that does not start with a byte-order mark)."""
    return json.JSONDecoder(parse_float=Decimals().__getitem__, parse_constant=_constant)


# Strings (with a `:` when they are keys) and structural characters: enough to follow
# nesting without recursion.
_SCAN = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{},]', re.S)


@dataclass(frozen=True)
class DeepRecord(BadRecord):
    """A record nested too deeply for Python's JSON reader, with where it gets too deep."""

    field: str = ""
    id: str | None = None


def too_deep(text: str) -> DeepRecord:
    """The problem of a record too deeply nested to read: its id and the path that nests."""
    stack: list[list] = []  # per open container: [is_list, current key or index]
    deepest: list = []
    depth = 0
    rid = None
    for m in _SCAN.finditer(text):
        tok = m.group(0)
        c = tok[0]
        if c == '"':
            if m.group(1) and stack and not stack[-1][0]:
                stack[-1][1] = json.loads(tok[: len(tok) - len(m.group(1))])
            elif len(stack) == 1 and stack[0][1] == "id" and rid is None:
                rid = json.loads(tok)
        elif c in "[{":
            stack.append([c == "[", 0 if c == "[" else ""])
            if len(stack) > depth:
                depth = len(stack)
                if len(deepest) < 5:
                    deepest = [s[1] for s in stack[:-1]]
        elif c in "]}":
            if stack:
                stack.pop()
        elif stack and stack[-1][0]:
            stack[-1][1] += 1
    path = ".".join(str(p) for p in deepest[:4]) + (".…" if depth > 5 else "")
    return DeepRecord(f"nested too deeply to read ({depth} levels)", path or "(record)",
                      rid if isinstance(rid, str) else None)


def _split(text: str) -> dict[str, list]:
    """Collections from a top-level list ("" names it) or object of lists, without recursion:
    each record is parsed on its own, and one too deep to read becomes a `BadRecord`."""
    out: dict[str, list] = {}
    depth = 0
    key = ""
    mode = None  # "items": records of a list at depth `level`; "value": one record; "after": a list ended
    level = 0
    start = 0

    def add(a: int, b: int) -> None:
        piece = text[a:b].strip()
        if not piece:
            return
        try:
            record = loads(piece)
        except RecursionError:
            record = too_deep(piece)
        out.setdefault(key, []).append(record)

    for m in _SCAN.finditer(text):
        tok = m.group(0)
        c = tok[0]
        if c == '"':
            if depth == 1 and mode is None and m.group(1):
                key = json.loads(tok[: len(tok) - len(m.group(1))])
                out.setdefault(key, [])
                mode, level, start = "value", 1, m.end()
        elif c in "[{":
            if depth == 0 and c == "[":
                key, mode, level, start = "", "items", 1, m.end()
                out.setdefault(key, [])
            elif mode == "value" and depth == 1 and c == "[" and not text[start:m.start()].strip():
                mode, level, start = "items", 2, m.end()
            depth += 1
        elif c in "]}":
            if mode == "items" and depth == level:
                add(start, m.start())
                mode = "after" if level == 2 else None
            elif mode == "value" and depth == 1:
                add(start, m.start())
                mode = None
            depth -= 1
        elif depth == level and mode == "items":
            add(start, m.start())
            start = m.end()
        elif depth == 1 and mode in ("value", "after"):
            if mode == "value":
                add(start, m.start())
            mode = None
    return out


def load(path: Path) -> dict[str, list | Iterator]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - before.rfind("\n")
        raise ValueError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line}, column {col};"
                         " save the file as UTF-8") from None
    if not text.strip():
        raise ValueError("the file is empty; a JSON data file holds a list of records (`[]` for none)"
                         " or an object of collections")
    del raw
    try:
        data = loads(text, Decimals().__getitem__)
    except RecursionError:
        parts = _split(text)
        if "" in parts:
            return {path.stem: parts[""]}
        return parts
    del text
    if isinstance(data, list):
        return {path.stem: _handed_over(data)}
    if isinstance(data, dict):
        return {k: _handed_over(v if isinstance(v, list) else [v]) for k, v in data.items()}
    raise ValueError("a JSON data file holds a list of records or an object of collections")


def _handed_over(records: list) -> Iterator:
    """The records one by one, each let go of once the core has it, so that a large file's
    raw records are not all alive next to the validated ones."""
    for i in range(len(records)):
        record = records[i]
        records[i] = None
        yield record


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("json", (".json",), load, "JSON: a list of records, or {\"projects\": [...], ...}"))
