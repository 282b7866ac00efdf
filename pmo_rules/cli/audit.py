"""`pmo-rules audit`: evaluate policies against a portfolio and report.

With no arguments it audits the bundled sample portfolio with the bundled policy library,
so a fresh install can show what the tool does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import api
from ..errors import UsageError
from .common import (
    config_for,
    config_option,
    data_paths,
    effective_as_of,
    effective_schema_extension,
    fail_on_option,
    param_options,
    policies_option,
    policy_paths,
    schema_extension_option,
)


@click.command("audit")
@policies_option
@click.option("--data", "data", multiple=True, metavar="PATH",
              help="Data folder (projects.*, people.*, programs.*) or file (repeatable). Default: the bundled sample.")
@click.option("--as-of", "as_of", metavar="DATE", help="The audit date (YYYY-MM-DD). Default: today.")
@click.option("--format", "formats", multiple=True, metavar="FORMAT", help="Report format (repeatable). Default: text.")
@click.option("--output", "output", metavar="FILE", help="Write the report here instead of standard output.")
@click.option("--param", "params", multiple=True, metavar="PKG.NAME=VALUE", help="Override a param.")
@click.option("--db", "db", metavar="FILE", help="Record the run in this audit-trail database.")
@click.option("--strict", is_flag=True, help="Any invalid data record fails the run (exit 2).")
@click.option("--include-passes", is_flag=True, help="List passing checks as findings too.")
@click.option("--workers", type=int, default=None, metavar="N", help="Worker processes (default: all cores).")
@click.option("--quiet", is_flag=True, help="No progress or summary lines on standard error.")
@fail_on_option
@schema_extension_option
@config_option
def command(policies, data, as_of, formats, output, params, db, strict, include_passes, workers, quiet,
            fail_on, schema_extension, config_path) -> None:
    """Evaluate every policy against the portfolio and report the findings.

    Options not given are read from the config file (pmo-rules.toml, or [tool.pmo-rules]
    in pyproject.toml, or --config FILE); options given on the command line win."""
    config = config_for(config_path)
    session = api.Session.create(schema_extension=effective_schema_extension(schema_extension, config))
    as_of_date = effective_as_of(as_of, config)
    fail_on = fail_on or config.fail_on
    program, _ = api.load_program(policy_paths(policies, config) or [api.default_policies()], session,
                                  **param_options(params, config))
    loaded = api.load_data(data_paths(data, config), session)
    problems = [str(p) for p in session.problems]
    if strict and loaded.rejected:
        first = loaded.rejected[0]
        raise UsageError(f"--strict: {len(loaded.rejected)} invalid data record(s); first: {first.file}, record "
                         f"{first.record}" + (f" (id {first.id})" if first.id else "") +
                         f", field `{first.field}`: {first.message}")
    report = api.audit(program, loaded, as_of_date, include_passes=include_passes, problems=problems,
                       fail_on=fail_on)
    fmts = list(formats) or list(config.formats) or ["text"]
    registry = session.registry
    for f in fmts:
        if f not in registry.formats:
            raise UsageError(f"unknown format `{f}`; available: {', '.join(sorted(registry.formats))}")
    if db:
        raise UsageError("--db: the audit trail is not available in this version yet")
    for f in fmts:
        text = registry.formats[f].render(report, {})
        if output:
            target = Path(output)
            if len(fmts) > 1:
                target = target.with_suffix(registry.formats[f].extension)
            target.write_text(text, encoding="utf-8")
            if not quiet:
                click.echo(f"wrote {target}", err=True)
        else:
            sys.stdout.write(text)
    sys.exit(api.exit_code(report, fail_on=fail_on))
