"""`pmo-rules generate`: write a realistic, seeded synthetic portfolio."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UsageError


@click.command("generate")
@click.option("--projects", "n_projects", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--output", "output", required=True, metavar="DIR")
@click.option("--as-of", "as_of", metavar="DATE", default="2026-11-26", show_default=True,
              help="Dates are generated around this day.")
def command(n_projects: int, seed: int, output: str, as_of: str) -> None:
    """Generate projects.jsonl, people.jsonl and programs.jsonl (with violations and edge cases)."""
    import datetime as dt

    from ..generate import generate_portfolio, write_portfolio

    if n_projects < 1:
        raise UsageError("--projects must be at least 1")
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise UsageError(f"--as-of `{as_of}` is not a date in YYYY-MM-DD form") from None
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    written = write_portfolio(generate_portfolio(n_projects, seed, as_of=day, lazy=True), out)
    for p in written:
        click.echo(f"wrote {p}")
