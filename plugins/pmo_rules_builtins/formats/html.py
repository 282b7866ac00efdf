"""The HTML report: one self-contained page a PMO lead can open, share and print.

No network at all: CSS and JavaScript are inlined from `html_report.css` and
`html_report.js` next to this module, charts are SVG drawn here, and a
Content-Security-Policy meta tag allows only inline styles, inline scripts and `data:`
images. The page shows the headline compliance (pass / (pass + fail)), charts by PMO
function (the rule's package), by portfolio and by program (when the subjects' portfolio
and program are known, see below), a severity breakdown, the top failing rules, the rule
table, a searchable, sortable, paged findings table with evidence (built by the script
from embedded JSON), the waiver register and the data problems.

Safety: every value from data or policies is HTML-escaped (`html.escape`, quotes
included) and the script only writes data with `textContent`. The findings reach the
script as JSON inside `<script type="application/json">`, with `<`, `>`, `&` and all
non-ASCII (so U+2028/2029 too) written as `\\uXXXX` escapes, so `</script>` in a project
name cannot end the element.

Portfolio and program: findings carry only the subject id. The report's optional
`subjects` attribute, or `options["subjects"]`, maps a subject id to
`{"collection", "name", "portfolio", "program"}`; a flattened subject such as
`PRJ-1/R-2` falls back to its project `PRJ-1`. Without that map the page says so and
shows the package and severity charts only. Compliance per portfolio needs the passing
checks listed (`--include-passes`); otherwise those charts count open findings.

Options: `subjects` (above), `max_findings` (rows embedded in the findings table;
default 20000, most severe first), `title`.

Deterministic: no clock, sorted everything; the same report gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html as _html
import json
import re
from importlib import resources
from typing import Any

from pmo_rules import hookimpl
from pmo_rules.findings import Finding, Report
from pmo_rules.registry import FormatSpec
from pmo_rules.values import display

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
OUTCOME_RANK = {"fail": 0, "error": 1, "waived": 2, "pass": 3, "not_applicable": 4}
FUNCTION_NAMES = {"governance": "Governance", "portfolio": "Portfolio", "resources": "Resources",
                  "risk": "Risk", "performance": "Performance"}
CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "base-uri 'none'; form-action 'none'")
MAX_FINDINGS = 20000
MAX_GROUP_ROWS = 15
COLUMNS = ("outcome", "severity", "enforcement", "rule", "package", "subject", "name", "portfolio", "program",
           "message", "evidence", "waiver", "waiver_detail", "location", "remediation", "note")
SEGMENTS = ("pass", "waived", "error", "fail")

_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _asset(name: str) -> str:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    if re.search(r"</?(script|style)|<!--", text, re.I):
        raise ValueError(f"{name} must not contain `<script`, `</script`, `<style`, `</style` or `<!--`")
    return text


def esc(value: object) -> str:
    """Escaped text for HTML content and attribute values (quotes included)."""
    s = value if isinstance(value, str) else display(value)
    return _html.escape(_BAD.sub("\ufffd", s), quote=True)


def script_json(value: Any) -> str:
    """JSON that is inert inside a <script> element: no `<`, `>`, `&` or non-ASCII characters."""
    s = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _pct(num: int, den: int) -> float | None:
    return 100 * num / den if den else None


def _pct_text(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.1f}%"


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _package(rule_id: str) -> str:
    return rule_id.split(".", 1)[0]


def _function_name(pkg: str) -> str:
    return FUNCTION_NAMES.get(pkg, pkg)


# ------------------------------------------------------------------ subjects --


def subject_index(report: Report, options: dict) -> dict[str, dict]:
    found = getattr(report, "subjects", None) or {}
    out: dict[str, dict] = {}
    for k, v in dict(found).items():
        out[str(k)] = v.model_dump() if hasattr(v, "model_dump") else dict(v)
    for k, v in dict(options.get("subjects") or {}).items():
        out[str(k)] = dict(v)
    return out


def _info(subjects: dict[str, dict], subject: str) -> dict:
    return subjects.get(subject) or subjects.get(subject.split("/", 1)[0]) or {}


# -------------------------------------------------------------------- charts --

LABEL_W, BAR_W, VALUE_W, ROW_H = 250, 310, 70, 28


def _legend(keys: tuple[str, ...]) -> str:
    names = {"pass": "pass", "fail": "fail", "error": "error", "waived": "waived", "not_applicable": "not applicable"}
    items = "".join(f'<span><i class="sw-{k}"></i>{names[k]}</span>' for k in keys)
    return f'<div class="legend">{items}</div>'


def stacked_chart(rows: list[tuple[str, dict[str, int], str | None]], aria: str) -> str:
    """Horizontal 100% bars (pass, waived, error, fail) with the compliance at the right."""
    width = LABEL_W + BAR_W + VALUE_W
    height = max(1, len(rows)) * ROW_H + 6
    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(aria)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if not rows:
        parts.append(f'<text x="4" y="18" class="muted">{esc("nothing to show")}</text>')
    for i, (label, counts, rule) in enumerate(rows):
        y = i * ROW_H + 4
        total = sum(counts.get(k, 0) for k in SEGMENTS)
        comp = _pct(counts.get("pass", 0), counts.get("pass", 0) + counts.get("fail", 0))
        tip = (f"{label}: compliance {_pct_text(comp)}; " +
               ", ".join(f"{counts.get(k, 0)} {k}" for k in ("pass", "fail", "error", "waived")))
        attr = f' data-rule="{esc(rule)}" style="cursor:pointer"' if rule else ""
        parts.append(f'<g class="bar-row"{attr}><title>{esc(tip)}</title>')
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{esc(_short(label, 34))}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{BAR_W}" height="16" rx="3" class="c-track"/>')
        x = float(LABEL_W)
        for k in SEGMENTS:
            n = counts.get(k, 0)
            if n and total:
                w = BAR_W * n / total
                parts.append(f'<rect x="{_f(x)}" y="{y + 3}" width="{_f(w)}" height="16" class="c-{k}"/>')
                x += w
        parts.append(f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 15}" class="pct">{esc(_pct_text(comp))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def count_chart(rows: list[tuple[str, dict[str, int], str | None]], keys: tuple[str, ...], aria: str) -> str:
    """Horizontal bars of counts (stacked by outcome), scaled to the largest row."""
    width = LABEL_W + BAR_W + VALUE_W
    height = max(1, len(rows)) * ROW_H + 6
    biggest = max([sum(c.get(k, 0) for k in keys) for _, c, _ in rows] + [1])
    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(aria)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if not rows:
        parts.append(f'<text x="4" y="18" class="muted">{esc("nothing to show")}</text>')
    for i, (label, counts, rule) in enumerate(rows):
        y = i * ROW_H + 4
        total = sum(counts.get(k, 0) for k in keys)
        tip = f"{label}: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in keys)
        attr = f' data-rule="{esc(rule)}" style="cursor:pointer"' if rule else ""
        parts.append(f'<g class="bar-row"{attr}><title>{esc(tip)}</title>')
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{esc(_short(label, 34))}</text>')
        x = float(LABEL_W)
        for k in keys:
            n = counts.get(k, 0)
            if n:
                w = BAR_W * n / biggest
                parts.append(f'<rect x="{_f(x)}" y="{y + 3}" width="{_f(max(w, 1.5))}" height="16" class="c-{k}"/>')
                x += max(w, 1.5)
        parts.append(f'<text x="{_f(x + 6)}" y="{y + 15}" class="muted">{total}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def donut(pct: float | None) -> str:
    r, c = 38, 2 * 3.141592653589793 * 38
    filled = 0.0 if pct is None else c * pct / 100
    label = _pct_text(pct)
    return (f'<svg viewBox="0 0 96 96" role="img" aria-label="compliance {esc(label)}" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="48" cy="48" r="{r}" fill="none" stroke-width="12" class="s-track"/>'
            f'<circle cx="48" cy="48" r="{r}" fill="none" stroke-width="12" class="s-pass" '
            f'stroke-dasharray="{filled:.2f} {c:.2f}" transform="rotate(-90 48 48)"/>'
            f'<text x="48" y="53" text-anchor="middle" class="donut-label">{esc(label)}</text></svg>')


# ------------------------------------------------------------------ sections --


def _card(title: str, body: str, note: str = "", legend: str = "") -> str:
    n = f'<p class="note">{note}</p>' if note else ""
    return f'<div class="card chart"><h3>{esc(title)}</h3>{legend}{body}{n}</div>'


def _group_rows(findings: list[Finding], subjects: dict[str, dict], key: str) -> list[tuple[str, dict[str, int]]]:
    groups: dict[str, dict[str, int]] = {}
    for f in findings:
        info = _info(subjects, f.subject)
        if not info:
            name = "(not a project)"
        else:
            name = str(info.get(key) or f"(no {key})")
        c = groups.setdefault(name, {k: 0 for k in OUTCOME_RANK})
        if f.outcome in c:
            c[f.outcome] += 1
    return sorted(groups.items(), key=lambda kv: kv[0])


def _group_chart(title: str, rows: list[tuple[str, dict[str, int]]], passes_listed: bool) -> str:
    if passes_listed:
        rows = sorted(rows, key=lambda kv: (_pct(kv[1]["pass"], kv[1]["pass"] + kv[1]["fail"]) is None,
                                            _pct(kv[1]["pass"], kv[1]["pass"] + kv[1]["fail"]) or 0, kv[0]))
    else:
        rows = sorted(rows, key=lambda kv: (-(kv[1]["fail"] + kv[1]["error"]), kv[0]))
    more = len(rows) - MAX_GROUP_ROWS
    shown = [(name, counts, None) for name, counts in rows[:MAX_GROUP_ROWS]]
    note = f"{more} more not shown (the least compliant are listed first)." if more > 0 else ""
    if passes_listed:
        return _card(f"Compliance by {title}", stacked_chart(shown, f"compliance by {title}"), note,
                     _legend(("pass", "waived", "error", "fail")))
    note = ("Passing checks are not listed in this report, so this chart counts open findings; "
            "run the audit with --include-passes for compliance by " + esc(title) + ". " + note)
    return _card(f"Open findings by {title}", count_chart(shown, ("fail", "error", "waived"),
                                                          f"open findings by {title}"), note.strip(),
                 _legend(("fail", "error", "waived")))


def _charts(report: Report, subjects: dict[str, dict]) -> str:
    cards: list[str] = []
    by_pkg: dict[str, dict[str, int]] = {}
    for rule_id, s in report.summary.items():
        c = by_pkg.setdefault(_package(rule_id), {k: 0 for k in OUTCOME_RANK})
        for k in c:
            c[k] += s.counts.get(k, 0)
    pkg_rows = [(_function_name(p), c, None) for p, c in sorted(by_pkg.items())]
    cards.append(_card("Compliance by PMO function", stacked_chart(pkg_rows, "compliance by PMO function"),
                       "Compliance = pass / (pass + fail); waived and undecided checks are shown but not counted.",
                       _legend(("pass", "waived", "error", "fail"))))

    by_sev: dict[str, dict[str, int]] = {s: {"fail": 0, "error": 0, "waived": 0} for s in SEVERITIES}
    for s in report.summary.values():
        c = by_sev.setdefault(s.severity, {"fail": 0, "error": 0, "waived": 0})
        for k in c:
            c[k] += s.counts.get(k, 0)
    sev_rows = [(sev.capitalize(), c, None) for sev, c in
                sorted(by_sev.items(), key=lambda kv: (SEVERITY_RANK.get(kv[0], 9), kv[0]))]
    cards.append(_card("Findings by severity", count_chart(sev_rows, ("fail", "error", "waived"), "findings by severity"),
                       "", _legend(("fail", "error", "waived"))))

    failing = sorted(((rid, s) for rid, s in report.summary.items()
                      if s.counts.get("fail", 0) + s.counts.get("error", 0)),
                     key=lambda kv: (-(kv[1].counts.get("fail", 0) + kv[1].counts.get("error", 0)),
                                     SEVERITY_RANK.get(kv[1].severity, 9), kv[0]))
    top_rows = [(rid, dict(s.counts), rid) for rid, s in failing[:10]]
    cards.append(_card("Top failing rules", count_chart(top_rows, ("fail", "error", "waived"), "top failing rules"),
                       "Click a bar to list its findings." if top_rows else "No rule has failures or errors.",
                       _legend(("fail", "error", "waived")) if top_rows else ""))

    checked = [f for f in report.findings if f.outcome != "not_applicable"]
    passes_listed = sum(1 for f in report.findings if f.outcome == "pass") == report.totals.get("pass", 0)
    if subjects and checked:
        cards.append(_group_chart("portfolio", _group_rows(checked, subjects, "portfolio"), passes_listed))
        cards.append(_group_chart("program", _group_rows(checked, subjects, "program"), passes_listed))
    else:
        cards.append(_card("By portfolio and program", "",
                           "This report does not say which portfolio or program each subject belongs to, "
                           "so only the charts by PMO function and severity are drawn."))
    return f'<section class="charts" aria-label="charts">{"".join(cards)}</section>'


def _kpis(report: Report) -> str:
    t = report.totals
    decided = t["pass"] + t["fail"]
    comp = _pct(t["pass"], decided)
    failing_rules = sum(1 for s in report.summary.values() if s.counts.get("fail"))
    soon = sum(1 for w in report.waivers if w.get("expiring_soon"))
    checks = t["pass"] + t["fail"] + t["error"] + t["waived"]

    def kpi(label: str, value: object, cls: str, sub: str) -> str:
        return (f'<div class="card kpi"><div class="label">{esc(label)}</div>'
                f'<div class="value {cls}">{esc(value)}</div><div class="sub">{esc(sub)}</div></div>')

    head = (f'<div class="card kpi headline">{donut(comp)}<div><div class="label">Compliance</div>'
            f'<div class="value" id="headline-compliance">{esc(_pct_text(comp))}</div>'
            f'<div class="sub">{t["pass"]} of {decided} decided checks pass</div></div></div>')
    return ('<section class="kpis" aria-label="headline figures">' + head +
            kpi("Checks", checks, "", f"{len(report.summary)} rules") +
            kpi("Failing", t["fail"], "v-fail", f"in {failing_rules} rule(s)") +
            kpi("Undecided", t["error"], "v-error", "evaluation errors") +
            kpi("Waived", t["waived"], "v-waived", f"{soon} waiver(s) expiring soon") +
            kpi("Not applicable", t["not_applicable"], "v-na", "out of scope") + "</section>")


def _rules_table(report: Report) -> str:
    rows = []
    for rule_id, s in sorted(report.summary.items()):
        c = s.counts
        comp = _pct(c.get("pass", 0), c.get("pass", 0) + c.get("fail", 0))
        bar = (f'<span class="minibar"><span style="width:{comp:.0f}%"></span></span>' if comp is not None else "")
        rows.append(
            f'<tr><td><button type="button" class="rule-link mono" data-rule="{esc(rule_id)}" '
            f'title="Show this rule\'s findings">{esc(rule_id)}</button></td>'
            f"<td>{esc(s.title or '')}</td><td>{esc(_function_name(_package(rule_id)))}</td>"
            f'<td class="sev sev-{esc(s.severity)}" data-v="{esc(s.severity)}">{esc(s.severity)}</td>'
            f"<td>{esc(s.enforcement)}</td>"
            + "".join(f'<td class="num">{c.get(k, 0)}</td>' for k in ("pass", "fail", "error", "waived",
                                                                      "not_applicable"))
            + f'<td class="num comp" data-v="{-1 if comp is None else round(comp, 3)}">{bar}{esc(_pct_text(comp))}</td></tr>')
    head = ('<thead><tr><th>Rule</th><th>Title</th><th>Function</th><th data-type="severity">Severity</th>'
            '<th>Enforcement</th><th class="num" data-type="num">Pass</th><th class="num" data-type="num">Fail</th>'
            '<th class="num" data-type="num">Error</th><th class="num" data-type="num">Waived</th>'
            '<th class="num" data-type="num">N/A</th><th class="num" data-type="num">Compliance</th></tr></thead>')
    body = "".join(rows) or '<tr><td colspan="11" class="empty">No rules were evaluated.</td></tr>'
    return (f'<section id="rules-section"><h2>Rules</h2><div class="table-wrap">'
            f'<table class="sortable" id="rules">{head}<tbody>{body}</tbody></table></div></section>')


def _findings_data(report: Report, subjects: dict[str, dict], limit: int) -> tuple[list[list], int]:
    listed = [f for f in report.findings if f.outcome in ("fail", "error", "waived")]
    listed.sort(key=lambda f: (OUTCOME_RANK.get(f.outcome, 9), SEVERITY_RANK.get(f.severity, 9), f.rule, f.subject))
    out = []
    for f in listed[:limit]:
        info = _info(subjects, f.subject)
        w = f.waiver or {}
        detail = (f"{w.get('reason') or ''} (approved by {w.get('approved_by') or '?'}, "
                  f"expires {w.get('expires') or 'never'})") if w else ""
        values = {
            "outcome": f.outcome, "severity": f.severity, "enforcement": f.enforcement, "rule": f.rule,
            "package": _package(f.rule), "subject": f.subject, "name": info.get("name"),
            "portfolio": info.get("portfolio"), "program": info.get("program"), "message": f.message,
            "evidence": "\n".join(f"{e.expr} = {display(e.value)}" for e in f.evidence),
            "waiver": w.get("id"), "waiver_detail": detail, "location": f.location,
            "remediation": f.remediation, "note": f.note,
        }
        out.append([_clean_json(values[c]) for c in COLUMNS])
    return out, len(listed)


def _clean_json(v: Any) -> Any:
    if v is None or isinstance(v, (int, float, bool)):
        return v
    return _BAD.sub("\ufffd", str(v))


def _findings_section(report: Report, subjects: dict[str, dict], limit: int) -> str:
    rows, total = _findings_data(report, subjects, limit)
    has_groups = bool(subjects)
    packages = sorted({_package(r) for r in report.summary} | {r[COLUMNS.index("package")] for r in rows})
    pkg_opts = "".join(f'<option value="{esc(p)}">{esc(_function_name(p))}</option>' for p in packages)
    sev_opts = "".join(f'<option value="{s}">{s}</option>' for s in SEVERITIES)
    group_heads = '<th data-key="portfolio">Portfolio / program</th>' if has_groups else ""
    n_cols = 7 if has_groups else 6
    note_parts = []
    if total > len(rows):
        note_parts.append(f"Showing the {len(rows)} most severe of {total} findings; the CSV and JSON formats list all.")
    passes = report.totals.get("pass", 0)
    if passes:
        note_parts.append(f"{passes} passing check(s) are counted above, not listed.")
    note = f'<p class="note">{esc(" ".join(note_parts))}</p>' if note_parts else ""
    data = {"columns": list(COLUMNS), "findings": rows, "has_groups": has_groups}
    return (
        '<section id="findings-section"><h2>Findings</h2>'
        '<div class="controls" id="f-controls" hidden>'
        '<input type="search" id="f-search" placeholder="Search rule, subject, message, evidence\u2026 '
        '(rule:ID for one rule)" aria-label="Search findings">'
        '<select id="f-outcome" aria-label="Outcome"><option value="">All outcomes</option>'
        '<option value="fail">fail</option><option value="error">error</option>'
        '<option value="waived">waived</option></select>'
        f'<select id="f-severity" aria-label="Severity"><option value="">All severities</option>{sev_opts}</select>'
        f'<select id="f-package" aria-label="PMO function"><option value="">All functions</option>{pkg_opts}</select>'
        '<select id="f-size" aria-label="Rows per page"><option value="50">50 / page</option>'
        '<option value="100" selected>100 / page</option><option value="500">500 / page</option></select>'
        '<button type="button" id="f-prev">\u2039 Prev</button><button type="button" id="f-next">Next \u203a</button>'
        '<span class="count" id="f-count" aria-live="polite"></span></div>'
        '<div class="table-wrap"><table id="findings"><thead><tr>'
        '<th data-key="outcome">Outcome</th><th data-key="severity">Severity</th>'
        '<th data-key="rule">Rule</th><th data-key="subject">Subject</th>'
        f'{group_heads}<th data-key="message">Message</th><th>Evidence</th></tr></thead>'
        f'<tbody><tr><td colspan="{n_cols}" class="empty">'
        '<noscript>The findings table needs JavaScript; the CSV and JSON formats list every finding.</noscript>'
        '</td></tr></tbody></table></div>'
        f"{note}"
        f'<script type="application/json" id="pmo-data">{script_json(data)}</script></section>'
    )


def _waivers_section(report: Report) -> str:
    try:
        as_of = dt.date.fromisoformat(report.as_of)
    except ValueError:
        as_of = None
    rows = []
    for w in sorted(report.waivers, key=lambda w: (str(w.get("expires") or "9999-99-99"), str(w.get("id")))):
        days: int | None = None
        if as_of and w.get("expires"):
            try:
                days = (dt.date.fromisoformat(str(w["expires"])) - as_of).days
            except ValueError:
                days = None
        status = str(w.get("status") or "")
        badges = f'<span class="badge b-{esc(status)}">{esc(status)}</span>'
        if w.get("expiring_soon"):
            badges += ' <span class="badge b-soon">expiring soon</span>'
        applied = [str(s) for s in (w.get("applied_to") or [])]
        applied_text = ", ".join(applied[:5]) + (f" \u2026 +{len(applied) - 5}" if len(applied) > 5 else "")
        scope = ", ".join(str(s) for s in (w.get("subjects") or [])) or (f"where {w.get('where')}" if w.get("where")
                                                                          else "")
        expired_for = w.get("expired_for") or []
        extra = (f'<div class="small">expired for {esc(len(expired_for))} subject(s)</div>' if expired_for else "")
        rows.append(
            f'<tr><td class="mono">{esc(w.get("id", ""))}</td>'
            f'<td><button type="button" class="rule-link mono" data-rule="{esc(w.get("rule", ""))}">'
            f'{esc(w.get("rule", ""))}</button></td>'
            f'<td data-v="{esc(status)}">{badges}</td><td>{esc(w.get("approved_by") or "")}</td>'
            f'<td data-v="{esc(w.get("expires") or "9999-99-99")}">{esc(w.get("expires") or "never")}</td>'
            f'<td class="num" data-v="{"" if days is None else days}">{"" if days is None else days}</td>'
            f'<td class="num" data-v="{len(applied)}">{len(applied)}'
            f'<div class="small">{esc(applied_text)}</div>{extra}</td>'
            f'<td>{esc(w.get("reason") or "")}<div class="small">{esc(scope)}</div></td></tr>')
    if not rows:
        return '<section id="waivers-section"><h2>Waiver register</h2><p class="note">No waivers.</p></section>'
    head = ('<thead><tr><th>Waiver</th><th>Rule</th><th>Status</th><th>Approved by</th><th>Expires</th>'
            '<th class="num" data-type="num">Days left</th><th class="num" data-type="num">Applied to</th>'
            '<th>Justification</th></tr></thead>')
    return (f'<section id="waivers-section"><h2>Waiver register</h2><div class="table-wrap">'
            f'<table class="sortable" id="waivers">{head}<tbody>{"".join(rows)}</tbody></table></div>'
            '<p class="note">Expiring soon: within 30 days of the audit date. Sorted by expiry.</p></section>')


def _data_section(report: Report) -> str:
    recs = report.data.records
    parts = []
    if recs:
        parts.append("<p>" + esc(", ".join(f"{n} {k}" for k, n in recs.items())) + " loaded"
                     + (f" from {esc(len(report.data.sources))} file(s)" if report.data.sources else "") + ".</p>")
    rej = report.data.rejected
    if rej:
        rows = "".join(
            f"<tr><td class=\"mono\">{esc(r.file)}</td><td class=\"num\">{r.record}</td><td class=\"mono\">"
            f"{esc(r.id or '')}</td><td class=\"mono\">{esc(r.field)}</td><td>{esc(r.message)}</td></tr>"
            for r in rej[:200])
        more = f'<p class="note">{len(rej) - 200} more not shown.</p>' if len(rej) > 200 else ""
        parts.append(f'<h3>{len(rej)} invalid record(s), kept out of the run</h3><div class="table-wrap"><table>'
                     '<thead><tr><th>File</th><th class="num">Record</th><th>Id</th><th>Field</th><th>Problem</th>'
                     f'</tr></thead><tbody>{rows}</tbody></table></div>{more}')
    if report.problems:
        parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li>{esc(p)}</li>" for p in report.problems) + "</ul>")
    if not parts:
        return ""
    return f'<section id="data-section" class="card"><h2>Data</h2>{"".join(parts)}</section>'


def _banner(report: Report) -> str:
    t = report.totals
    if report.blocking:
        text = (f"Blocking: unwaived failures of soft or hard rules ({t['fail']} unwaived failure(s) in all)."
                + (f" {t['error']} check(s) could not be decided." if t["error"] else ""))
        return f'<div class="banner blocking" role="status">{esc(text)}</div>'
    if t["error"]:
        return (f'<div class="banner errors" role="status">{esc(t["error"])} check(s) could not be decided '
                "(missing or invalid data); see the findings marked error.</div>")
    return '<div class="banner ok" role="status">Nothing blocking: no unwaived failure of a soft or hard rule.</div>'


def render(report: Report, options: dict | None = None) -> str:
    options = options or {}
    subjects = subject_index(report, options)
    limit = int(options.get("max_findings", MAX_FINDINGS))
    title = str(options.get("title") or "PMO compliance report")
    css = _asset("html_report.css")
    js = _asset("html_report.js")
    recs = report.data.records
    meta = f"as of {report.as_of} \u00b7 {len(report.summary)} rules"
    if recs:
        meta += " \u00b7 " + ", ".join(f"{n} {k}" for k, n in recs.items())
    body = (
        f'<header class="top"><h1>{esc(title)}</h1><span class="meta">{esc(meta)}</span></header>'
        f"<main>{_banner(report)}{_kpis(report)}<div style=\"height:12px\"></div>{_charts(report, subjects)}"
        f'<div style="height:22px"></div>{_rules_table(report)}{_findings_section(report, subjects, limit)}'
        f"{_waivers_section(report)}{_data_section(report)}</main>"
        f"<footer>Generated by pmo-rules {esc(report.tool_version or '')} from report version {esc(report.version)}. "
        "This file is self-contained: it loads nothing from the network.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="pmo-rules">'
        f"<title>{esc(title)} \u2014 {esc(report.as_of)}</title>"
        f"<style>\n{css}</style></head>\n"
        f"<body>{body}\n<script>\n{js}</script></body></html>\n"
    )


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("html", render, ".html", "Self-contained HTML report with charts (no network)"))
