"""`pmo-rules history`: compliance over the runs recorded in an audit trail (SPEC 6).

Compliance is pass / (pass + fail): waived, error and not-applicable checks are counted
but left out of the percentage, as in the text report.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from ..jsonout import dumps


def _started(text: str) -> str:
    import datetime as dt

    try:
        when = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return str(text)
    if when.tzinfo is not None:
        return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return when.strftime("%Y-%m-%d %H:%M:%S")


def render_text(rows: list[dict[str, Any]], db: str, key: str | None) -> str:
    if not rows:
        return f"no runs recorded in {db}\n"
    label = {"rule": "rule", "function": "function"}.get(key or "", "")
    keyw = max([len(label)] + [len(str(r[key])) for r in rows]) if key else 0
    head = f"{'run':>5}  {'as of':<10}  {'started':<20}  " + (f"{label:<{keyw}}  " if key else "")
    head += f"{'pass':>6} {'fail':>6} {'error':>6} {'waived':>6}  {'compliance':>10}"
    out = [head]
    for r in rows:
        pct = "n/a" if r["compliance"] is None else f"{r['compliance']}%"
        line = f"{r['run']:>5}  {r['as_of']:<10}  {_started(r['started']):<20}  "
        line += f"{r[key]:<{keyw}}  " if key else ""
        line += f"{r['pass']:>6} {r['fail']:>6} {r['error']:>6} {r['waived']:>6}  {pct:>10}"
        out.append(line)
    return "\n".join(out) + "\n"


@click.command("history")
@click.option("--db", "db", required=True, metavar="FILE", help="The audit-trail database.")
@click.option("--rule", "rule", metavar="RULE", help="Compliance of one rule (package.rule-id) per run.")
@click.option("--by", "by", type=click.Choice(["function"]), help="Break each run down per PMO function (package).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(db: str, rule: str | None, by: str | None, fmt: str) -> None:
    """Show compliance per recorded run: overall, per rule, or per PMO function."""
    from ..storage import AuditTrail  # sqlite_utils (and numpy) only when a trail is read

    with AuditTrail.open(db) as trail:
        rows = trail.history(rule=rule, by=by or "run")
    key = "rule" if rule else ("function" if by else None)
    if fmt == "json":
        sys.stdout.write(dumps({"db": db, "by": key or "run", "runs": rows}) + "\n")
    else:
        sys.stdout.write(render_text(rows, db, key))
