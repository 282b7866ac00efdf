"""Options and helpers shared by several commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..errors import UsageError


def parse_as_of(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of `{value}` is not a date in YYYY-MM-DD form") from None


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, text = v.partition("=")
        if not sep or "." not in key:
            raise UsageError(f"--param `{v}`: write PACKAGE.NAME=VALUE, e.g. governance.cpi_floor=0.85")
        out[key.strip()] = text
    return out


def paths(values: tuple[str, ...]) -> list[Path]:
    return [Path(v) for v in values]


policies_option = click.option("--policies", "policies", multiple=True, metavar="PATH",
                               help="Policy file or folder (repeatable). Default: the bundled library.")
