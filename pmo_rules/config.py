"""The project configuration file: the options a team would otherwise repeat on every run.

`load_config(path_or_None) -> Config` reads, in this order of preference:

1. the file given with `--config FILE` (a `pmo-rules.toml`, or a `pyproject.toml` whose
   `[tool.pmo-rules]` table is used);
2. `pmo-rules.toml` in the current directory;
3. the `[tool.pmo-rules]` table of `pyproject.toml` in the current directory;

and returns an empty `Config` when there is none. Keys::

    policies = ["policies", "org/extra.pmo"]     # files or folders
    data = ["data/"]                             # folders or files
    schema_extension = "schema/acme.json"
    formats = ["text", "sarif"]
    as_of = 2026-11-26                           # a TOML date, or "2026-11-26"
    fail_on = "high"                             # info < low < medium < high < critical
    [params]
    "governance.stale_after" = "21d"             # or: [params.governance] stale_after = "21d"

Paths are relative to the file that names them. Command-line options win over the file
(`--param` key by key). An unknown key, or a value of the wrong kind, is a `UsageError`
(exit 2) naming the file and the key, with a did-you-mean hint.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .diagnostics import did_you_mean
from .errors import UsageError
from .program import SEVERITIES

CONFIG_FILE = "pmo-rules.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "pmo-rules"
KEYS = ("policies", "data", "schema_extension", "formats", "as_of", "fail_on", "params")


@dataclass(frozen=True)
class Config:
    """Settings from a config file; every field empty when there was none."""

    path: Path | None = None  # the file read (None: no config file)
    policies: tuple[Path, ...] = ()
    data: tuple[Path, ...] = ()
    schema_extension: Path | None = None
    formats: tuple[str, ...] = ()
    as_of: dt.date | None = None
    fail_on: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # "pkg.name" -> text, as `--param` gives it

    @property
    def label(self) -> str:
        if self.path is None:
            return "(no config file)"
        return f"{self.path} [tool.{TOOL_TABLE}]" if self.path.name == PYPROJECT else str(self.path)

    def merged_params(self, cli: Mapping[str, str]) -> dict[str, str]:
        """Params from the file, overridden key by key by `--param` values."""
        return {**self.params, **cli}

    def with_overrides(self, **options: Any) -> Config:
        """A copy where every option that is not None/empty replaces the file's value."""
        return replace(self, **{k: v for k, v in options.items() if v not in (None, (), [], "")})


def find_config(cwd: Path | None = None) -> Path | None:
    """The config file that applies in `cwd` when none is given, or None."""
    here = cwd or Path.cwd()
    own = here / CONFIG_FILE
    if own.is_file():
        return own
    pyproject = here / PYPROJECT
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # not ours to complain about unless it is asked for
        if isinstance(data.get("tool"), dict) and TOOL_TABLE in data["tool"]:
            return pyproject
    return None


def load_config(path: Path | str | None = None, *, cwd: Path | None = None) -> Config:
    """Read the config file (`path`, else the one found in `cwd`); an empty Config if none."""
    if path is None:
        found = find_config(cwd)
        if found is None:
            return Config()
        file = found
    else:
        file = Path(path)
        if not file.is_absolute() and cwd is not None:
            file = cwd / file
        if not file.is_file():
            raise UsageError(f"--config {path}: no such file")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: invalid TOML: {exc}") from None
    if file.name == PYPROJECT:
        tool = data.get("tool")
        if not isinstance(tool, dict) or TOOL_TABLE not in tool:
            raise UsageError(f"{file}: has no [tool.{TOOL_TABLE}] table")
        data = tool[TOOL_TABLE]
        if not isinstance(data, dict):
            raise UsageError(f"{file}: [tool.{TOOL_TABLE}] must be a table")
    return parse_config(data, file)


def parse_config(data: Mapping[str, Any], file: Path) -> Config:
    """Validate a config table read from `file`; paths become relative to its folder."""
    shown = f"{file} [tool.{TOOL_TABLE}]" if file.name == PYPROJECT else str(file)
    base = file.resolve().parent

    def fail(message: str) -> UsageError:
        return UsageError(f"{shown}: {message}")

    for key in data:
        if key not in KEYS:
            hint = did_you_mean(key, KEYS)
            raise fail(f"unknown key `{key}`" + (f"; {hint}" if hint else "") + f" (keys: {', '.join(KEYS)})")

    def strings(key: str) -> tuple[str, ...]:
        if key not in data:
            return ()
        value = data[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"`{key}` must be a list of strings, e.g. {key} = [\"...\"]")
        return tuple(value)

    def path_of(text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() else base / p

    ext = data.get("schema_extension")
    if ext is not None and not (isinstance(ext, str) and ext):
        raise fail("`schema_extension` must be a path (a string)")
    return Config(
        path=file,
        policies=tuple(path_of(p) for p in strings("policies")),
        data=tuple(path_of(p) for p in strings("data")),
        schema_extension=path_of(ext) if ext else None,
        formats=strings("formats"),
        as_of=_as_of(data.get("as_of"), fail),
        fail_on=_fail_on(data.get("fail_on"), fail),
        params=_params(data.get("params", {}), fail),
    )


def _as_of(value: Any, fail) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise fail("`as_of` must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise fail(f"`as_of` must be a date in YYYY-MM-DD form, not {value!r}")


def _fail_on(value: Any, fail) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in SEVERITIES:
        hint = did_you_mean(str(value), SEVERITIES)
        raise fail(f"`fail_on` is {value!r}, not a severity" + (f"; {hint}" if hint else "") +
                   f" (severities, lowest first: {', '.join(SEVERITIES)})")
    return value


def _params(table: Any, fail) -> dict[str, str]:
    if not isinstance(table, dict):
        raise fail("`params` must be a table: [params] then \"package.name\" = value")
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, dict):  # [params.governance] stale_after = "21d"
            for name, inner in value.items():
                out[f"{key}.{name}"] = _param_text(f"{key}.{name}", inner, fail)
            continue
        if "." not in key:
            raise fail(f"param `{key}` must be named PACKAGE.NAME, e.g. \"governance.{key}\"")
        out[key] = _param_text(key, value, fail)
    return out


def _param_text(key: str, value: Any, fail) -> str:
    """The value as `--param` would spell it, so the same parser reads both."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        raise fail(f"param `{key}` is a date and time; give a date (YYYY-MM-DD)")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise fail(f"param `{key}` must be a text, number, boolean or date, not a {type(value).__name__}")
