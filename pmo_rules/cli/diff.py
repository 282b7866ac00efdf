"""`pmo-rules diff`: what changed between two recorded runs (SPEC 6).

Failures are `fail` and `error` findings keyed by (rule, subject): new in B, resolved
since A, and still failing in both. Run ids may be `latest` and `previous`.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from ..jsonout import dumps

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: object) -> str:
    """Data-borne text made safe for a terminal: control characters shown as escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                        else f"\\u{ord(m.group(0)):04x}", str(text))


def render_text(d: dict[str, Any]) -> str:
    a, b = d["a"], d["b"]
    out = [f"run {a['id']} (as of {a['as_of']}) -> run {b['id']} (as of {b['as_of']}): "
           f"{len(d['new'])} new, {len(d['resolved'])} resolved, {len(d['still_failing'])} still failing"]
    sections = (("New failures", "new"), ("Resolved", "resolved"), ("Still failing", "still_failing"))
    for title, key in sections:
        items = d[key]
        out.append("")
        out.append(f"{title} ({len(items)}):" if items else f"{title}: none")
        for f in items:
            extra = ""
            if key == "resolved":
                extra = f"  (now {f['now']})" if f["now"] else ""
            elif key == "still_failing" and f["was"] != f["outcome"]:
                extra = f"  (was {f['was']})"
            out.append(f"  {f['outcome']:<5} {clean(f['rule'])}  {clean(f['subject'])}{extra}")
            if f.get("message"):
                out.append(f"        {clean(f['message'])}")
    return "\n".join(out) + "\n"


@click.command("diff")
@click.option("--db", "db", required=True, metavar="FILE", help="The audit-trail database.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
def command(db: str, fmt: str, run_a: str, run_b: str) -> None:
    """Compare the failures of two recorded runs (ids, `latest` or `previous`)."""
    from ..storage import AuditTrail  # sqlite_utils (and numpy) only when a trail is read

    with AuditTrail.open(db) as trail:
        result = trail.diff(run_a, run_b)
    if fmt == "json":
        sys.stdout.write(dumps(result) + "\n")
    else:
        sys.stdout.write(render_text(result))
