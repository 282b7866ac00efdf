"""Options and helpers shared by several commands."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..config import Config, load_config
from ..errors import UsageError
from ..program import SEVERITIES

#: Set by a command whose run built a large snapshot: `cli.entry` then ends the process
#: without freeing it object by object.
large_run = False


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


config_option = click.option("--config", "config_path", metavar="FILE",
                             help="Config file (default: ./pmo-rules.toml, else [tool.pmo-rules] in ./pyproject.toml).")
schema_extension_option = click.option(
    "--schema-extension", "schema_extension", metavar="FILE",
    help="JSON Schema file declaring the organisation's own data fields (see docs/plugins.md).")
fail_on_option = click.option(
    "--fail-on", "fail_on", type=click.Choice(SEVERITIES), metavar="SEVERITY",
    help="Only failures of this severity or higher block (exit 1): info, low, medium, high, critical. "
         "`hard` rules always block.")


def config_for(config_path: str | None) -> Config:
    """The config in effect: `--config FILE`, else the one found in the current directory."""
    return load_config(Path(config_path) if config_path else None)


def policy_paths(cli: tuple[str, ...], config: Config) -> list[Path]:
    """`--policies` if given, else the config's; empty means the bundled library."""
    return paths(cli) or list(config.policies)


def data_paths(cli: tuple[str, ...], config: Config) -> list[Path]:
    """`--data` if given, else the config's; empty means the bundled sample."""
    return paths(cli) or list(config.data)


def param_options(cli: tuple[str, ...], config: Config) -> dict[str, dict[str, str]]:
    """`load_program` keyword arguments: `--param` values as overrides (each must name a
    declared param), the config's `[params]` as defaults (ignored for packages not loaded)."""
    return {"overrides": parse_params(cli), "defaults": dict(config.params)}


def effective_as_of(cli: str | None, config: Config) -> dt.date:
    if cli is None and config.as_of is not None:
        return config.as_of
    return parse_as_of(cli)


def effective_schema_extension(cli: str | None, config: Config) -> Path | None:
    return Path(cli) if cli else config.schema_extension


def render_format_parts(spec, report, options: dict) -> list[str]:
    """The report in pieces to write in turn (`FormatSpec.render_parts`), or as one piece."""
    if getattr(spec, "render_parts", None) is None:
        return [render_format(spec, report, options)]
    from ..errors import PluginError

    try:
        parts = spec.render_parts(report, options)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, named
        raise PluginError(spec.plugin, f"format `{spec.name}` failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(parts, list) or not all(type(p) is str for p in parts):
        raise PluginError(spec.plugin, f"format `{spec.name}` returned pieces that are not text")
    return parts


def write_parts(path, parts: list[str]) -> None:
    """Write the pieces of a rendered report to a file as UTF-8, 256 at a time joined,
    encoded and written: a text file's `writelines` encodes and buffers each piece, which
    took twice as long for the 460,000 pieces of a 100k-project JSON report (0.4 s). A
    big piece (the report's subjects, 10M characters) is encoded alone: joined first, it
    would be copied, at 4 bytes a character if one name holds an emoji."""
    with open(path, "wb") as fh:
        for i in range(0, len(parts), 256):
            group = parts[i:i + 256]
            if max(map(len, group)) > 1 << 16:
                for part in group:
                    fh.write(part.encode("utf-8"))
            else:
                fh.write("".join(group).encode("utf-8"))


def render_format(spec, report, options: dict) -> str:
    """Render with a format plugin; a plugin that raises or returns garbage is named."""
    from ..errors import PluginError

    try:
        text = spec.render(report, options)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported, named
        raise PluginError(spec.plugin, f"format `{spec.name}` failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(text, str):
        raise PluginError(spec.plugin, f"format `{spec.name}` returned a {type(text).__name__}, not text")
    return text
