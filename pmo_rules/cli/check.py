"""`pmo-rules check`: parse and type-check policies and waivers; exit 2 on any error."""

from __future__ import annotations

import click

from .. import api
from .common import (
    config_for,
    config_option,
    effective_schema_extension,
    param_options,
    schema_extension_option,
)
from .common import policy_paths as configured_policies


@click.command("check")
@click.argument("policy_paths", nargs=-1, type=click.Path())
@click.option("--param", "params", multiple=True, metavar="PKG.NAME=VALUE", help="Override a param.")
@schema_extension_option
@config_option
def command(policy_paths: tuple[str, ...], params: tuple[str, ...], schema_extension: str | None,
            config_path: str | None) -> None:
    """Check policy files (default: the config's `policies`, else the bundled library)
    without running them."""
    config = config_for(config_path)
    session = api.Session.create(schema_extension=effective_schema_extension(schema_extension, config))
    targets = configured_policies(policy_paths, config) or [api.default_policies()]
    program, diags = api.load_program(targets, session, **param_options(params, config),
                                      include_tests=True)
    for p in session.problems:
        click.echo(f"warning: {p}", err=True)
    if diags:
        click.echo(diags.render(), err=True)
    n_files = len(program.modules)
    click.echo(f"ok: {n_files} file(s), {len(program.rules)} rule(s), {len(program.waivers)} waiver(s), "
               f"{len(program.tests)} test(s)")
