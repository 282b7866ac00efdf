"""`pmo-rules schema [data|report]`: print a JSON Schema (2020-12).

`data` (the default) is the schema of a portfolio snapshot (projects, people, programs),
generated from the pydantic models. `report` is the schema of the JSON report
(`--format json`), kept as `report.schema.json` next to the JSON format and printed
byte for byte.
"""

from __future__ import annotations

import json

import click

from ..schema.models import Snapshot


def data_schema() -> dict:
    schema = Snapshot.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pmo-rules portfolio snapshot"
    return schema


@click.command("schema")
@click.argument("which", required=False, default="data", type=click.Choice(["data", "report"]))
def command(which: str) -> None:
    """Print the JSON Schema of a portfolio snapshot (`data`, the default: projects, people,
    programs) or of the JSON audit report (`report`)."""
    if which == "report":
        from pmo_rules_builtins.formats.json_report import report_schema_text

        click.echo(report_schema_text(), nl=False)
        return
    click.echo(json.dumps(data_schema(), indent=2, sort_keys=True))
