"""The Markdown report: a summary fit for a pull-request comment or a wiki page.

Headline compliance, a table per rule, compliance per portfolio and per program (plain and
budget-weighted, with the number of failing projects; least compliant first, at most
`top_groups` rows each, default 30), the top failing findings with their evidence,
evaluation errors, and the waiver register. GitHub-flavoured Markdown.

Every value from data or policies passes through `md`: HTML-significant characters become
entities (so `<script>` is text), Markdown syntax characters are backslash-escaped (so `|`,
`*`, `_`, backticks, `[text](url)`, `$math$` and `#` are inert), the starts of bare-URL and
email autolinks are broken with escapes, and line breaks become spaces, so no project name
can change the comment's structure or add a link. Values never start a line (each sits
after a table bar or list marker). Long values are shortened.
"""

from __future__ import annotations

import re

from pmo_rules import hookimpl
from pmo_rules.findings import Finding, Report
from pmo_rules.registry import FormatSpec
from pmo_rules.values import display
from pmo_rules_builtins.formats.html import ratio_text

SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
ENFORCEMENT_RANK = {"hard": 0, "soft": 1, "advisory": 2}
TOP_FINDINGS = 25
TOP_GROUPS = 30
MAX_EVIDENCE = 6
MAX_TEXT = 300

# Inline Markdown syntax characters (GFM), plus `$` (GitHub math) and `@` (email autolinks).
_MD_PUNCT = re.compile(r"([\\`*_\[\]#|~$@])")
# The starts of GFM's extended autolinks: `www.` and `scheme://`.
_AUTOLINK = re.compile(r"(?i)(www)\.|:(?=//)")
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def md(value: object, limit: int = MAX_TEXT) -> str:
    """Inline Markdown text that renders as exactly `value` and cannot add structure."""
    s = value if isinstance(value, str) else display(value)
    s = s.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").replace("\t", " ")
    s = _CONTROL.sub(" ", _SURROGATE.sub("\ufffd", s))
    if len(s) > limit:
        s = s[: limit - 1] + "\u2026"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_PUNCT.sub(r"\\\1", s)
    s = _AUTOLINK.sub(lambda m: "www\\." if m.group(1) else "\\:", s)
    return s.strip()


def _pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}%" if den else "n/a"


def _count(v: object) -> str:
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else md(v if v is not None else "")


def _rollup_lines(report: Report, dim: str, limit: int) -> list[str]:
    rows = [r for r in (report.rollups or {}).get(dim) or [] if isinstance(r, dict)]
    if not rows:
        return []

    def key(r: dict) -> tuple:
        c = r.get("compliance")
        try:
            cv = float(c) if c is not None and not isinstance(c, bool) else None
        except (TypeError, ValueError):
            cv = None
        return (cv is None, cv or 0.0, str(r.get(dim)))

    rows = sorted(rows, key=key)
    shown = rows[:limit]
    out = [f"### Compliance by {dim}" + (f" ({len(shown)} least compliant of {len(rows)})" if len(shown) < len(rows)
                                         else ""), "",
           f"| {dim} | projects | failing projects | compliance | budget-weighted |",
           "|---|---:|---:|---:|---:|"]
    for r in shown:
        out.append(f"| {md(r.get(dim, ''))} | {_count(r.get('projects'))} | {_count(r.get('failing_projects'))} "
                   f"| {ratio_text(r.get('compliance'))} | {ratio_text(r.get('budget_weighted_compliance'))} |")
    out.append("")
    return out


def _rank(f: Finding) -> tuple:
    return (0 if f.outcome == "fail" else 1, SEVERITY_RANK.get(f.severity, 9),
            ENFORCEMENT_RANK.get(f.enforcement, 9), f.rule, f.subject)


def _evidence(f: Finding) -> str:
    parts = [f"{md(e.expr, 120)} = {md(e.value, 120)}" for e in f.evidence[:MAX_EVIDENCE]]
    if len(f.evidence) > MAX_EVIDENCE:
        parts.append(f"\u2026 {len(f.evidence) - MAX_EVIDENCE} more")
    return "; ".join(parts)


def _finding_lines(f: Finding) -> list[str]:
    out = [f"- **{md(f.rule)}** \u00b7 {md(f.subject)} \u00b7 {md(f.severity)}/{md(f.enforcement)}: "
           f"{md(f.message or f.outcome)}"]
    ev = _evidence(f)
    if ev:
        out.append(f"  - evidence: {ev}")
    if f.location:
        out.append(f"  - at {md(f.location)}")
    if f.note:
        out.append(f"  - note: {md(f.note)}")
    if f.remediation:
        out.append(f"  - fix: {md(f.remediation)}")
    return out


def render(report: Report, options: dict | None = None) -> str:
    options = options or {}
    top = int(options.get("top", TOP_FINDINGS))
    top_groups = int(options.get("top_groups", TOP_GROUPS))
    t = report.totals
    decided = t["pass"] + t["fail"]
    out: list[str] = [f"## pmo-rules audit as of {md(report.as_of)}", ""]
    verdict = "**blocking**: unwaived failures of soft or hard rules" if report.blocking else "not blocking"
    if t["error"]:
        verdict += f"; **{t['error']} check(s) could not be decided**"
    out.append(f"**Compliance {_pct(t['pass'], decided)}** ({t['pass']} of {decided} decided checks pass) "
               f"\u2014 {verdict}")
    out.append("")
    out.append("| pass | fail | error | waived | not applicable | rules |")
    out.append("|---:|---:|---:|---:|---:|---:|")
    out.append(f"| {t['pass']} | {t['fail']} | {t['error']} | {t['waived']} | {t['not_applicable']} "
               f"| {len(report.summary)} |")
    out.append("")

    if report.summary:
        out.append("### Rules")
        out.append("")
        out.append("| | rule | title | severity | enforcement | pass | fail | error | waived | compliance |")
        out.append("|---|---|---|---|---|---:|---:|---:|---:|---:|")
        rows = sorted(report.summary.items(),
                      key=lambda kv: (-kv[1].counts.get("fail", 0) - kv[1].counts.get("error", 0),
                                      SEVERITY_RANK.get(kv[1].severity, 9), kv[0]))
        for rule_id, s in rows:
            c = s.counts
            mark = ("\u274c" if c.get("fail") else "\u26a0\ufe0f" if c.get("error")
                    else "\u2796" if c.get("waived") else "\u2705")
            out.append(f"| {mark} | {md(rule_id)} | {md(s.title or '')} | {md(s.severity)} | {md(s.enforcement)} "
                       f"| {c.get('pass', 0)} | {c.get('fail', 0)} | {c.get('error', 0)} | {c.get('waived', 0)} "
                       f"| {_pct(c.get('pass', 0), c.get('pass', 0) + c.get('fail', 0))} |")
        out.append("")

    for dim in ("portfolio", "program"):
        out.extend(_rollup_lines(report, dim, top_groups))

    failing = sorted((f for f in report.findings if f.outcome == "fail"), key=_rank)
    out.extend(_finding_section("Top failing findings", failing, top,
                                "more failing finding(s); see the full report."))
    errors = sorted((f for f in report.findings if f.outcome == "error"), key=_rank)
    out.extend(_finding_section("Evaluation errors", errors, top, "more; see the full report."))

    if report.waivers:
        out.append("### Waivers")
        out.append("")
        out.append("| waiver | rule | status | approved by | expires | applied to | reason |")
        out.append("|---|---|---|---|---|---:|---|")
        for w in sorted(report.waivers, key=lambda w: str(w.get("id"))):
            status = md(w.get("status", ""))
            if w.get("expiring_soon"):
                status += " \u23f3 expiring soon"
            applied = w.get("applied_to") or []
            out.append(f"| {md(w.get('id', ''))} | {md(w.get('rule', ''))} | {status} | {md(w.get('approved_by') or '')} "
                       f"| {md(w.get('expires') or '')} | {len(applied)} | {md(w.get('reason') or '')} |")
        out.append("")

    notes: list[str] = [f"- {md(p)}" for p in report.problems]
    if report.data.rejected:
        notes.append(f"- {len(report.data.rejected)} invalid data record(s) were kept out of the run")
    if notes:
        out.append("### Warnings")
        out.append("")
        out.extend(notes)
        out.append("")
    out.append(f"<sub>pmo-rules {md(report.tool_version or '')} \u00b7 report version {md(report.version)}</sub>")
    return "\n".join(out) + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("markdown", render, ".md", "Markdown summary for pull requests and wikis"))


def _finding_section(title: str, findings: list, top: int, more: str) -> list[str]:
    """A heading, the first `top` findings, and how many more there are."""
    if not findings:
        return []
    shown = findings[:top]
    out = [f"### {title} ({len(shown)} of {len(findings)})", ""]
    for f in shown:
        out.extend(_finding_lines(f))
    if len(findings) > len(shown):
        out.extend(["", f"_\u2026 and {len(findings) - len(shown)} {more}_"])
    out.append("")
    return out
