"""`pmo-rules check`: parse and type-check policies and waivers; exit 2 on any error."""

from __future__ import annotations

import click

from .. import api
from .common import parse_params, paths


@click.command("check")
@click.argument("policy_paths", nargs=-1, type=click.Path())
@click.option("--param", "params", multiple=True, metavar="PKG.NAME=VALUE", help="Override a param.")
def command(policy_paths: tuple[str, ...], params: tuple[str, ...]) -> None:
    """Check policy files (default: the bundled library) without running them."""
    session = api.Session.create()
    targets = paths(policy_paths) or [api.default_policies()]
    program, diags = api.load_program(targets, session, overrides=parse_params(params), include_tests=True)
    for p in session.problems:
        click.echo(f"warning: {p}", err=True)
    if diags:
        click.echo(diags.render(), err=True)
    n_files = len(program.modules)
    click.echo(f"ok: {n_files} file(s), {len(program.rules)} rule(s), {len(program.waivers)} waiver(s), "
               f"{len(program.tests)} test(s)")
