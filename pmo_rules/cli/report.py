"""`pmo-rules report`: re-render a recorded run in any registered format (SPEC 6).

The audit trail stores each run's whole report, so no policy or data file is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import api
from ..errors import UsageError
from .common import render_format


@click.command("report")
@click.option("--db", "db", required=True, metavar="FILE", help="The audit-trail database.")
@click.option("--run", "run", default="latest", show_default=True, metavar="ID",
              help="Run id, `latest` or `previous`.")
@click.option("--format", "fmt", default="text", show_default=True, metavar="FORMAT", help="Report format.")
@click.option("--output", "output", metavar="FILE", help="Write the report here instead of standard output.")
def command(db: str, run: str, fmt: str, output: str | None) -> None:
    """Render a recorded run again, in any format, without its policy or data files."""
    session = api.Session.create()
    formats = session.registry.formats
    if fmt not in formats:
        raise UsageError(f"unknown format `{fmt}`; available: {', '.join(sorted(formats))}")
    from ..storage import AuditTrail  # sqlite_utils (and numpy) only when a trail is read

    with AuditTrail.open(db) as trail:
        report = trail.report(run)
    text = render_format(formats[fmt], report, {})
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)
