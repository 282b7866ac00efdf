"""YAML source: like JSON (a list, or an object of collections), for hand-kept registers.

Uses the safe loader; YAML floats are turned into exact decimals from their text, and
dates written as YYYY-MM-DD arrive as dates.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import yaml

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec


class _Loader(yaml.SafeLoader):
    pass


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = loader.construct_scalar(node).replace("_", "")
    if text.lower() in (".nan", ".inf", "-.inf", "+.inf"):
        # Kept as a float, so that validation rejects the record naming the field.
        return float(text.lower().replace(".", ""))  # type: ignore[return-value]
    return Decimal(text)


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode):
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:  # 2026-02-30: kept as text, so that validation names the record and field
        return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def load(path: Path) -> dict[str, list]:
    data = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if isinstance(data, list):
        return {path.stem: data}
    if isinstance(data, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in data.items()}
    raise ValueError("a YAML data file holds a list of records or a mapping of collections")


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("yaml", (".yaml", ".yml"), load, "YAML: a list of records, or a mapping of collections"))
