"""`pmo-rules schema`: print the JSON Schema of the portfolio data."""

from __future__ import annotations

import json

import click

from ..schema.models import Snapshot


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of a portfolio snapshot (projects, people, programs)."""
    schema = Snapshot.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pmo-rules portfolio snapshot"
    click.echo(json.dumps(schema, indent=2, sort_keys=True))
