"""`pmo-rules explain RULE SUBJECT`: show one rule's evaluation for one subject, step by step.

Defaults: the bundled policy library and the bundled sample portfolio. Exit 0 when the
explanation was printed (whatever the outcome), 2 for an unknown rule or subject or
invalid policies (with a `did you mean` where one is close).
"""

from __future__ import annotations

import click

from .. import api
from ..source import escaped
from .common import parse_as_of, parse_params, paths, policies_option


@click.command("explain")
@click.argument("rule")
@click.argument("subject")
@policies_option
@click.option("--data", "data", multiple=True, metavar="PATH",
              help="Data folder or file (repeatable). Default: the bundled sample.")
@click.option("--as-of", "as_of", metavar="DATE", help="The audit date (YYYY-MM-DD). Default: today.")
@click.option("--param", "params", multiple=True, metavar="PKG.NAME=VALUE", help="Override a param.")
def command(rule: str, subject: str, policies, data, as_of, params) -> None:
    """Explain how RULE (e.g. performance.cpi-floor) evaluates for SUBJECT (e.g. PRJ-000123)."""
    session = api.Session.create()
    as_of_date = parse_as_of(as_of)
    program, _ = api.load_program(paths(policies) or [api.default_policies()], session,
                                  overrides=parse_params(params))
    loaded = api.load_data(paths(data), session)
    from ..explain import explain  # (and the formatter) only for this command

    result = explain(program, loaded.snapshot, rule, subject, as_of_date)
    click.echo(escaped_lines(result.render()), nl=False)


def escaped_lines(text: str) -> str:
    """Data can carry ANSI escapes or carriage returns; keep the layout, neutralise the rest."""
    return "\n".join(escaped(line) for line in text.split("\n"))
