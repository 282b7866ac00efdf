"""JSON source: a file holding one collection (a list) or all of them (an object).

Numbers are read as exact decimals; NaN and Infinity are refused, since no budget is
"not a number".
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec


def _no_constants(name: str):
    raise ValueError(f"{name} is not a valid number")


def loads(text: str):
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constants)


def load(path: Path) -> dict[str, list]:
    data = loads(path.read_text(encoding="utf-8-sig"))
    if isinstance(data, list):
        return {path.stem: data}
    if isinstance(data, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
    raise ValueError("a JSON data file holds a list of records or an object of collections")


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("json", (".json",), load, "JSON: a list of records, or {\"projects\": [...], ...}"))
