"""The terminal report: what a PMO lead reads first. Plain text, no colour codes from data.

Every value that came from data or policies passes through `_clean`, so a project name
carrying ANSI escapes, newlines or bidi overrides cannot rewrite the terminal: they are
shown as `\x1b`, `\u202e`, and line breaks as spaces.
"""

from __future__ import annotations

import re

from pmo_rules import hookimpl
from pmo_rules.findings import Report
from pmo_rules.registry import FormatSpec
from pmo_rules.values import display

# C0/C1 controls (ESC starts ANSI sequences), line and paragraph separators, bidi
# embeddings, overrides and isolates (and the marks), and lone surrogates (not writable as UTF-8).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                      "\ud800-\udfff]")


def _clean(text: object) -> str:
    s = str(text).replace("\r", " ").replace("\n", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256 else f"\\u{ord(m.group(0)):04x}", s)


def render(report: Report, options: dict | None = None) -> str:
    out: list[str] = []
    t = report.totals
    checked = t["pass"] + t["fail"] + t["error"] + t["waived"]
    decided = t["pass"] + t["fail"]
    pct = f"{100 * t['pass'] / decided:.1f}%" if decided else "n/a"
    out.append(f"pmo-rules audit as of {report.as_of}: {len(report.summary)} rules, {checked} checks")
    out.append(f"  pass {t['pass']}  fail {t['fail']}  error {t['error']}  waived {t['waived']}  "
               f"not applicable {t['not_applicable']}   compliance {pct}")
    recs = report.data.records
    if recs:
        out.append("  data: " + ", ".join(f"{n} {k}" for k, n in recs.items()) +
                   (f"; {len(report.data.rejected)} record problem(s)" if report.data.rejected else ""))
    out.append("")
    by_rule: dict[str, list] = {}
    for f in report.findings:
        by_rule.setdefault(f.rule, []).append(f)
    for rule_id, s in report.summary.items():
        c = s.counts
        mark = "FAIL" if c["fail"] else ("ERROR" if c["error"] else ("WAIVED" if c["waived"] else "ok"))
        title = f" - {_clean(s.title)}" if s.title else ""
        out.append(f"[{mark:>6}] {rule_id}{title}  ({s.severity}, {s.enforcement}): "
                   f"{c['fail']} fail, {c['error']} error, {c['waived']} waived, {c['pass']} pass")
        shown = 0
        for f in by_rule.get(rule_id, []):
            if f.outcome == "pass":
                continue
            if shown >= 10:
                rest = sum(1 for x in by_rule[rule_id] if x.outcome != "pass") - shown
                out.append(f"           ... and {rest} more")
                break
            shown += 1
            out.append(f"    {f.outcome:<6} {_clean(f.subject)}: {_clean(f.message or '')}")
            ev = ", ".join(f"{_clean(e.expr)} = {_clean(display(e.value))}" for e in f.evidence[:6])
            if ev:
                out.append(f"           evidence: {ev}")
            if f.waiver:
                out.append(f"           waived by {_clean(f.waiver['id'])} ({_clean(f.waiver.get('approved_by'))}, "
                           f"until {f.waiver.get('expires')})")
            if f.note:
                out.append(f"           note: {_clean(f.note)}")
    if report.waivers:
        out.append("")
        out.append("Waivers:")
        for w in report.waivers:
            soon = " (expiring soon)" if w.get("expiring_soon") else ""
            out.append(f"  {_clean(w['id'])} {w['status']}{soon}: {_clean(w['rule'])}, approved by "
                       f"{_clean(w['approved_by'])}, expires {w['expires']}")
    if report.data.rejected:
        out.append("")
        out.append(f"Rejected records ({len(report.data.rejected)}):")
        for r in report.data.rejected[:20]:
            rid = f" (id {_clean(r.id)})" if r.id else ""
            out.append(f"  {_clean(r.file)}, record {r.record}{rid}, field `{_clean(r.field)}`: {_clean(r.message)}")
        if len(report.data.rejected) > 20:
            out.append(f"  ... and {len(report.data.rejected) - 20} more")
    for p in report.problems:
        out.append(f"warning: {_clean(p)}")
    return "\n".join(out) + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("text", render, ".txt", "Readable terminal report"))
