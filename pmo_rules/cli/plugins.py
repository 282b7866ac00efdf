"""`pmo-rules plugins`: what is installed, and what each plugin provides."""

from __future__ import annotations

import click

from .. import api


@click.command("plugins")
@click.option("--functions", "show_functions", is_flag=True, help="Document every function and metric.")
def command(show_functions: bool) -> None:
    """List installed plugins with their sources, functions, metrics and formats."""
    session = api.Session.create()
    reg = session.registry
    if show_functions:
        for spec in sorted(reg.functions.values(), key=lambda s: s.name):
            unit = f" [{spec.unit}]" if spec.unit else ""
            click.echo(f"{spec.signature}{unit}  ({spec.kind}, plugin {spec.plugin})\n    {spec.description}")
        return
    for name, dist in sorted(reg.plugins):
        provided = []
        provided += [f"source {s.name}" for s in reg.sources.values() if s.plugin == name]
        provided += [f"{f.kind} {f.name}" for f in reg.functions.values() if f.plugin == name]
        provided += [f"format {f.name}" for f in reg.formats.values() if f.plugin == name]
        click.echo(f"{name} ({dist or 'local'}): {', '.join(provided) or 'nothing registered'}")
    for p in session.problems:
        click.echo(f"problem: {p}", err=True)
