"""The HTML report: one self-contained page a PMO lead can open, share and print.

No network at all: CSS and JavaScript are inlined from `html_report.css` and
`html_report.js` next to this module, charts are SVG drawn here, and a
Content-Security-Policy meta tag allows only inline styles, inline scripts and `data:`
images. The page shows the headline compliance (pass / (pass + fail)); compliance over
runs when the audit trail's history is given; charts by PMO function (the rule's
package), a severity breakdown and the top failing rules; compliance by portfolio and by
program, plain and budget-weighted (`Report.rollups`), with a table of every program and
portfolio; the rule table; a searchable, sortable, paged findings table with evidence
(built by the script from embedded JSON); the waiver register (expiring soon flagged) and
the data problems.

Drill-down: a bar of the portfolio or program chart, or a name in the roll-up tables,
filters the findings table to the findings on that group's projects (a chip shows the
filter and clears it). So does a URL fragment: `#filter=program:PGM-001` or
`#filter=portfolio:Digital` (URL-encoded value); `#q=rule:RULE-ID` searches. A finding's
group comes from `Report.subjects` (the name, program and portfolio of every project with
a finding; a flattened subject such as `PRJ-1/R-2` counts for `PRJ-1`), named as
`rollups.py` names it (`(none)` when a project has no program). Findings on other
collections (people, programs) belong to no group. When `subjects` is empty (no listed
finding is on a project) the roll-up charts are still drawn, without drill-down, and the
findings table has no portfolio / program column.

Safety: every value from data or policies is HTML-escaped (`html.escape`, quotes
included) and the script only writes data with `textContent`. The findings reach the
script as JSON inside `<script type="application/json">`, with `<`, `>`, `&` and all
non-ASCII (so U+2028/2029 too) written as `\\uXXXX` escapes, so `</script>` in a project
name cannot end the element.

Options: `history` (a list of `AuditTrail.history()` rows, `{run, as_of, pass, fail,
error, waived, compliance}` with compliance in percent; anything else draws no trend),
`subjects` (extra or overriding entries for `Report.subjects`), `max_findings` (rows
embedded in the findings table; default 20000, most severe first), `title`.

Deterministic: no clock, sorted everything; the same report gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html as _html
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any

from pmo_rules import hookimpl
from pmo_rules.findings import Report
from pmo_rules.registry import FormatSpec
from pmo_rules.rollups import UNASSIGNED, project_of
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
           "message", "evidence", "waiver", "waiver_detail", "location", "remediation", "note",
           "portfolio_key", "program_key")
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
    return subjects.get(subject) or subjects.get(project_of(subject)) or {}


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


# ------------------------------------------------------------------ roll-ups --

DIMENSIONS = (("portfolio", "Portfolio"), ("program", "Program"))


def _num(v: Any) -> float | None:
    """A roll-up or history figure as a float (Decimal, int, float or numeric text); else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x and abs(x) != float("inf") else None


def _ratio_pct(v: Any) -> float | None:
    """A roll-up ratio (0..1) as a percentage."""
    x = _num(v)
    return None if x is None else 100 * x


def ratio_text(v: Any) -> str:
    """A roll-up ratio (0..1, an exact decimal) as a percentage with one decimal, half up."""
    if v is None or isinstance(v, bool):
        return "n/a"
    try:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        return f"{(d * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
    except (ArithmeticError, ValueError):
        return "n/a"


def _int(v: Any) -> int:
    x = _num(v)
    return int(x) if x is not None else 0


def _money(v: Any) -> str:
    x = _num(v)
    if x is None:
        return ""
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:,.2f}"


def rollup_rows(report: Report, dim: str) -> list[dict[str, Any]]:
    """The report's roll-up rows for `program` or `portfolio`, each with a text `key`."""
    out = []
    for row in (getattr(report, "rollups", None) or {}).get(dim) or []:
        if isinstance(row, dict) and row.get(dim) is not None:
            out.append({**row, "key": row[dim] if isinstance(row[dim], str) else display(row[dim])})
    return out


def group_key(info: dict, dim: str) -> str | None:
    """The roll-up group a project's finding belongs to (as rollups.py names it), or None when
    the subject is not a known project."""
    if not info or info.get("collection") not in (None, "projects"):
        return None
    v = info.get(dim)
    return v if isinstance(v, str) else UNASSIGNED


def _least_compliant_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(r: dict) -> tuple:
        c = _ratio_pct(r.get("compliance"))
        return (c is None, c if c is not None else 0.0, r["key"])
    return sorted(rows, key=key)


RU_ROW_H = 34


def rollup_chart(rows: list[dict[str, Any]], dim: str, title: str, drill: bool) -> str:
    """Per group: a bar of compliance (pass / fail) and a thin bar of budget-weighted
    compliance under it, the two figures at the right. Bars carry `data-group`/`data-value`
    for the drill-down when `drill`."""
    width = LABEL_W + BAR_W + VALUE_W + 40
    height = max(1, len(rows)) * RU_ROW_H + 6
    parts = [f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    if not rows:
        parts.append(f'<text x="4" y="18" class="muted">{esc("nothing to show")}</text>')
    for i, r in enumerate(rows):
        y = i * RU_ROW_H + 4
        comp, weighted = _ratio_pct(r.get("compliance")), _ratio_pct(r.get("budget_weighted_compliance"))
        comp_text, weighted_text = ratio_text(r.get("compliance")), ratio_text(r.get("budget_weighted_compliance"))
        budget = _money(r.get("approved_budget")) or "0"
        tip = (f"{r['key']}: compliance {comp_text} ({_int(r.get('pass'))} pass, {_int(r.get('fail'))} fail); "
               f"budget-weighted {weighted_text} of {budget} approved; "
               f"{_int(r.get('failing_projects'))} of {_int(r.get('projects'))} project(s) failing")
        if drill:
            tip += ". Click to list its findings."
            attr = (f' data-group="{esc(dim)}" data-value="{esc(r["key"])}" tabindex="0" role="button" '
                    f'aria-label="{esc(r["key"])}: show its findings"')
        else:
            attr = ""
        parts.append(f'<g class="bar-row ru-row"{attr}><title>{esc(tip)}</title>')
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{esc(_short(r["key"], 34))}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{BAR_W}" height="14" rx="3" class="c-track"/>')
        if comp is not None:
            w = BAR_W * comp / 100
            parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{_f(w)}" height="14" class="c-pass"/>')
            if BAR_W - w > 0:
                parts.append(f'<rect x="{_f(LABEL_W + w)}" y="{y + 3}" width="{_f(BAR_W - w)}" height="14" '
                             'class="c-fail"/>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 20}" width="{BAR_W}" height="6" rx="2" class="c-track"/>')
        if weighted is not None:
            parts.append(f'<rect x="{LABEL_W}" y="{y + 20}" width="{_f(BAR_W * weighted / 100)}" height="6" '
                         'class="c-weighted"/>')
        parts.append(f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 14}" class="pct">{esc(comp_text)}</text>')
        parts.append(f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 27}" class="muted small-text">'
                     f"{esc(weighted_text)} by budget</text>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _rollup_card(report: Report, dim: str, drill: bool) -> str:
    rows = _least_compliant_first(rollup_rows(report, dim))
    shown = rows[:MAX_GROUP_ROWS]
    notes = []
    if len(rows) > len(shown):
        notes.append(f"The {len(shown)} least compliant of {len(rows)} are shown; the table below lists all.")
    if drill and rows:
        notes.append("Click a bar to list its findings.")
    elif rows:
        notes.append("No listed finding is on a project, so there are no findings to drill down to.")
    legend = ('<div class="legend"><span><i class="sw-pass"></i>compliance (pass)</span>'
              '<span><i class="sw-fail"></i>fail</span><span><i class="sw-weighted"></i>budget-weighted</span></div>')
    return _card(f"Compliance by {dim}", rollup_chart(shown, dim, f"compliance by {dim}", drill),
                 esc(" ".join(notes)), legend)


def _rollups_section(report: Report, drill: bool) -> str:
    """Sortable tables of every program and portfolio; a row's name filters the findings."""
    tables = []
    for dim, label in (("program", "Program"), ("portfolio", "Portfolio")):
        rows = rollup_rows(report, dim)
        if not rows:
            continue
        body = []
        for r in rows:
            comp, weighted = _ratio_pct(r.get("compliance")), _ratio_pct(r.get("budget_weighted_compliance"))
            bar = (f'<span class="minibar"><span style="width:{comp:.0f}%"></span></span>'
                   if comp is not None else "")
            key = esc(r["key"])
            name = (f'<button type="button" class="group-link" data-group="{esc(dim)}" data-value="{key}" '
                    f'title="Show its findings">{key}</button>') if drill else key
            comp_v = -1 if comp is None else round(comp, 3)
            weighted_v = -1 if weighted is None else round(weighted, 3)
            budget_v = _num(r.get("approved_budget")) or 0
            body.append(
                f'<tr><td data-v="{key}">{name}</td>'
                f'<td class="num">{_int(r.get("projects"))}</td><td class="num">{_int(r.get("failing_projects"))}</td>'
                f'<td class="num">{_int(r.get("pass"))}</td><td class="num">{_int(r.get("fail"))}</td>'
                f'<td class="num comp" data-v="{comp_v}">{bar}{esc(ratio_text(r.get("compliance")))}</td>'
                f'<td class="num" data-v="{weighted_v}">{esc(ratio_text(r.get("budget_weighted_compliance")))}</td>'
                f'<td class="num" data-v="{budget_v}">{esc(_money(r.get("approved_budget")))}</td></tr>')
        head = (f'<thead><tr><th>{label}</th><th class="num" data-type="num">Projects</th>'
                '<th class="num" data-type="num">Failing projects</th><th class="num" data-type="num">Pass</th>'
                '<th class="num" data-type="num">Fail</th><th class="num" data-type="num">Compliance</th>'
                '<th class="num" data-type="num">Budget-weighted</th>'
                '<th class="num" data-type="num">Approved budget</th></tr></thead>')
        tables.append(f'<div><h3>By {dim}</h3><div class="table-wrap"><table class="sortable" id="rollup-{dim}">'
                      f'{head}<tbody>{"".join(body)}</tbody></table></div></div>')
    if not tables:
        return ""
    note = ("Compliance = pass / (pass + fail) over the checks of the group's projects; budget-weighted weighs "
            "each project's own compliance by its approved budget. Projects with no program or portfolio are "
            f"under {UNASSIGNED}.")
    if drill:
        note += " Click a name to list its findings."
    return (f'<section id="rollups-section"><h2>Programs and portfolios</h2><div class="rollup-tables">'
            f'{"".join(tables)}</div><p class="note">{esc(note)}</p></section>')


# --------------------------------------------------------------------- trend --

TREND_W, TREND_H, TREND_L, TREND_R, TREND_T, TREND_B = 1200, 250, 46, 16, 14, 42
MAX_TREND_RUNS = 200


def history_points(history: Any) -> list[dict[str, Any]]:
    """The usable rows of `options["history"]` (AuditTrail.history(): compliance in percent)."""
    if not isinstance(history, (list, tuple)):
        return []
    out = []
    for row in history:
        if not isinstance(row, dict):
            continue
        comp = _num(row.get("compliance"))
        out.append({"run": row.get("run"), "as_of": row.get("as_of"),
                    "compliance": None if comp is None else max(0.0, min(100.0, comp)),
                    **{k: _int(row.get(k)) for k in ("pass", "fail", "error", "waived")}})
    return out


def trend_chart(points: list[dict[str, Any]]) -> str:
    """A line of compliance over runs (oldest left); runs with nothing decided leave a gap."""
    values = [p["compliance"] for p in points if p["compliance"] is not None]
    lo = 0.0
    if values:
        lo = max(0.0, min(90.0, (min(values) - 5) // 10 * 10))
    hi = 100.0
    plot_w, plot_h = TREND_W - TREND_L - TREND_R, TREND_H - TREND_T - TREND_B
    n = len(points)

    def x(i: int) -> float:
        return TREND_L + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return TREND_T + plot_h * (hi - v) / (hi - lo)

    parts = [f'<svg class="chart-svg trend" viewBox="0 0 {TREND_W} {TREND_H}" role="img" '
             f'aria-label="compliance over runs" xmlns="http://www.w3.org/2000/svg">']
    step = 10 if hi - lo <= 50 else 25
    tick = lo
    while tick <= hi + 1e-9:
        parts.append(f'<line x1="{TREND_L}" x2="{TREND_W - TREND_R}" y1="{_f(y(tick))}" y2="{_f(y(tick))}" '
                     'class="grid"/>')
        parts.append(f'<text x="{TREND_L - 6}" y="{_f(y(tick) + 4)}" text-anchor="end" class="muted">'
                     f"{tick:.0f}%</text>")
        tick += step
    segment: list[str] = []
    lines = []
    for i, p in enumerate(points):
        if p["compliance"] is None:
            if segment:
                lines.append(segment)
            segment = []
            continue
        segment.append(f"{_f(x(i))},{_f(y(p['compliance']))}")
    if segment:
        lines.append(segment)
    for seg in lines:
        parts.append(f'<polyline points="{" ".join(seg)}" class="trend-line" fill="none"/>')
    every = max(1, -(-n // 8))
    for i, p in enumerate(points):
        label = f"run {display(p['run'])}" + (f", as of {display(p['as_of'])}" if p["as_of"] else "")
        if i % every == 0 or i == n - 1:
            anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
            parts.append(f'<text x="{_f(x(i))}" y="{TREND_H - TREND_B + 16}" text-anchor="{anchor}" class="muted">'
                         f'#{esc(display(p["run"]))}</text>')
            if p["as_of"]:
                parts.append(f'<text x="{_f(x(i))}" y="{TREND_H - TREND_B + 30}" text-anchor="{anchor}" '
                             f'class="muted small-text">{esc(display(p["as_of"]))}</text>')
        if p["compliance"] is None:
            continue
        tip = (f"{label}: compliance {_pct_text(p['compliance'])} ({p['pass']} pass, {p['fail']} fail, "
               f"{p['error']} error, {p['waived']} waived)")
        parts.append(f'<circle cx="{_f(x(i))}" cy="{_f(y(p["compliance"]))}" r="3.5" class="trend-point">'
                     f"<title>{esc(tip)}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def _trend_card(history: Any) -> str:
    points = history_points(history)
    if not points:
        return ""
    shown = points[-MAX_TREND_RUNS:]
    decided = [p for p in shown if p["compliance"] is not None]
    notes = [f"{len(points)} run(s) in the audit trail"
             + (f"; the last {len(shown)} are drawn" if len(shown) < len(points) else "") + "."]
    if decided:
        last = decided[-1]
        notes.append(f"Latest: {_pct_text(last['compliance'])}")
        if len(decided) > 1:
            delta = last["compliance"] - decided[-2]["compliance"]
            sign = "+" if delta >= 0 else "\u2212"
            notes[-1] += f" ({sign}{abs(delta):.1f} points since the run before)"
        notes[-1] += "."
    return (f'<div class="card chart wide" id="trend"><h3>Compliance over runs</h3>{trend_chart(shown)}'
            f'<p class="note">{esc(" ".join(notes))}</p></div>')


# -------------------------------------------------------------------- charts --


def _charts(report: Report, subjects: dict[str, dict], history: Any = None) -> str:
    cards: list[str] = []
    trend = _trend_card(history)
    if trend:
        cards.append(trend)
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

    rollups = getattr(report, "rollups", None) or {}
    if any(rollup_rows(report, dim) for dim, _ in DIMENSIONS):
        drill = bool(subjects)
        for dim, _label in DIMENSIONS:
            cards.append(_rollup_card(report, dim, drill))
    else:
        why = ("No projects were audited, so there is nothing to roll up by portfolio or program." if rollups
               else "This report carries no roll-ups by portfolio or program (it was written by an older "
                    "version of pmo-rules, or by hand).")
        cards.append(_card("Compliance by portfolio and program", "", esc(why)))

    failing = sorted(((rid, s) for rid, s in report.summary.items()
                      if s.counts.get("fail", 0) + s.counts.get("error", 0)),
                     key=lambda kv: (-(kv[1].counts.get("fail", 0) + kv[1].counts.get("error", 0)),
                                     SEVERITY_RANK.get(kv[1].severity, 9), kv[0]))
    top_rows = [(rid, dict(s.counts), rid) for rid, s in failing[:10]]
    cards.append(_card("Top failing rules", count_chart(top_rows, ("fail", "error", "waived"), "top failing rules"),
                       "Click a bar to list its findings." if top_rows else "No rule has failures or errors.",
                       _legend(("fail", "error", "waived")) if top_rows else ""))
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
            "portfolio_key": group_key(info, "portfolio"), "program_key": group_key(info, "program"),
        }
        out.append([_clean_json(values[c]) for c in COLUMNS])
    return out, len(listed)


def _clean_json(v: Any) -> Any:
    if v is None or isinstance(v, (int, float, bool)):
        return v
    return _BAD.sub("\ufffd", str(v))


def _findings_section(report: Report, subjects: dict[str, dict], limit: int) -> str:
    rows, total = _findings_data(report, subjects, limit)
    has_groups = any(r[COLUMNS.index(k)] for r in rows for k in ("name", "portfolio", "program"))
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
        '<span class="chip" id="f-group" hidden><span id="f-group-label"></span>'
        '<button type="button" id="f-group-clear" aria-label="Show every program and portfolio" '
        'title="Clear the program / portfolio filter">\u00d7</button></span>'
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
    drill = bool(subjects)
    history = options.get("history")
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
        f"<main>{_banner(report)}{_kpis(report)}<div style=\"height:12px\"></div>{_charts(report, subjects, history)}"
        f'<div style="height:22px"></div>{_rules_table(report)}{_rollups_section(report, drill)}'
        f"{_findings_section(report, subjects, limit)}"
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
