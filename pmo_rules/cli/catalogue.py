"""`pmo-rules catalogue [PATHS] [--output FILE]`: a Markdown catalogue of every rule.

`policies/README.md` is generated with `pmo-rules catalogue policies --output policies/README.md`.
Exit 0 on success, 2 for invalid policies or a missing path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import api
from .common import paths


@click.command("catalogue")
@click.argument("policy_paths", nargs=-1, type=click.Path())
@click.option("--output", "output", metavar="FILE", help="Write the catalogue here instead of standard output.")
def command(policy_paths: tuple[str, ...], output: str | None) -> None:
    """Write a Markdown catalogue of the rules in PATHS (default: the bundled library)."""
    session = api.Session.create()
    # The catalogue (and the formatter it uses) only for this command.
    from ..catalogue import load_modules, render_catalogue

    modules = load_modules(paths(policy_paths) or [api.default_policies()], session.registry.functions)
    text = render_catalogue(modules)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)
