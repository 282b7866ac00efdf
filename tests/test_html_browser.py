"""The HTML report in a real headless Chromium: scripts run without errors under the
page's own Content-Security-Policy, the findings table and charts (roll-ups by portfolio
and program, the trend over runs) are drawn, the drill-down from a program or portfolio
filters the findings table (driven by the `#filter=program:ID` fragment, as a click
would), hostile names stay text, and a screenshot is kept as a test artefact
(`tests/artifacts/`).

Skipped when no Chromium is installed (`apt-get install -y chromium`). Each browser run
uses a fresh profile and stays under a 60 s timeout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from pmo_rules_builtins.formats import html

from pmo_rules import api

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AS_OF = "2026-11-26"
HOSTILE = "<script>alert(1)</script>"
HOSTILE_PROGRAM = "<img src=x onerror=alert(1)>"
TIMEOUT = 60

POLICY = '''package governance

rule sponsor-assigned {
    title "Active projects have an executive sponsor"
    severity high
    for project in projects where project.status == "active"
    require project.sponsor is present
    message "{project.id} ({project.name}) has no sponsor"
    remediation "Name an executive sponsor"
}

rule cpi-floor {
    severity critical
    for project in projects
    let cpi = project.budget.earned_value / project.budget.actual_cost
    require cpi >= 0.9 else "CPI {cpi} is below 0.9"
}

waiver W-1 {
    rule governance.sponsor-assigned
    subjects "PRJ-3"
    reason "Hand-over </script><script>alert(2)</script>"
    approved_by "CFO"
    expires 2026-12-01
}
'''


def _projects() -> list[dict]:
    out = [
        {"id": "PRJ-1", "name": HOSTILE, "status": "active", "portfolio": "Digital", "program": "PGM-1",
         "budget": {"approved": 100, "actual_cost": 50, "earned_value": 40}},
        {"id": "PRJ-2", "name": "Zero cost", "status": "active", "sponsor": "Ana",
         "budget": {"approved": 100, "actual_cost": 0, "earned_value": 0}},
        {"id": "PRJ-3", "name": "Zürich \u2028 café", "status": "active",
         "budget": {"approved": 100, "actual_cost": 10, "earned_value": 10}},
    ]
    for i in range(4, 40):
        out.append({"id": f"PRJ-{i}", "name": f"Project {i}", "status": "active",
                    "sponsor": None if i % 5 == 0 else "Bo", "portfolio": ["Digital", "Operations", "Research"][i % 3],
                    "program": f"PGM-{i % 4}",
                    "budget": {"approved": 100, "actual_cost": 50, "earned_value": 40 + i % 15}})
    out.append({"id": "PRJ-40", "name": "Hostile programme", "status": "active", "portfolio": "Research",
                "program": HOSTILE_PROGRAM, "budget": {"approved": 500, "actual_cost": 50, "earned_value": 40}})
    return out


HISTORY = [
    {"run": 1, "as_of": "2026-09-30", "pass": 70, "fail": 30, "error": 0, "waived": 0, "compliance": Decimal("70.0")},
    {"run": 2, "as_of": "2026-10-31", "pass": 75, "fail": 25, "error": 1, "waived": 1, "compliance": Decimal("75.0")},
    {"run": 3, "as_of": "2026-11-26", "pass": 80, "fail": 20, "error": 1, "waived": 1, "compliance": Decimal("80.0")},
]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH and "
                    "/usr/bin/chromium); install it with `apt-get install -y chromium` to run the browser tests")
    return path


@pytest.fixture(scope="module")
def report(session):
    return api.audit_text(POLICY, {"projects": _projects()}, AS_OF, session=session)


@pytest.fixture(scope="module")
def page(report, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html.render(report, {"history": HISTORY}), encoding="utf-8")
    return path


def run_chromium(chromium: str, tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
            *extra, url]
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, encoding="utf-8",
                              errors="replace")
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT} s: {' '.join(args)}")


def console_lines(stderr: str) -> list[str]:
    """Chromium's log of the page's console (errors, uncaught exceptions, CSP violations)."""
    return [line for line in stderr.splitlines()
            if ":CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line]


def dump_dom(chromium: str, tmp_path: Path, page: Path, fragment: str = "") -> tuple[str, list[str]]:
    result = run_chromium(chromium, tmp_path, page.as_uri() + fragment, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, console_lines(result.stderr)


def finding_rows(dom: str) -> int:
    return len(re.findall(r'<tr class="finding-row">', dom))


def listed(report) -> list:
    return [f for f in report.findings if f.outcome in ("fail", "error", "waived")]


def in_group(report, dim: str, value: str) -> int:
    """Listed findings on the projects of one program or portfolio (as the roll-ups group them)."""
    def key(subject: str) -> str | None:
        info = report.subjects.get(subject.split("/", 1)[0])
        if info is None:
            return None
        return info[dim] if isinstance(info[dim], str) else "(none)"
    return sum(1 for f in listed(report) if key(f.subject) == value)


def without_attribute_values(dom: str) -> str:
    return re.sub(r'="[^"]*"', '=""', dom)


def test_page_runs_without_console_errors_and_builds_the_table(chromium, page, report, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page)
    assert console == []
    assert 'data-js="ready"' in dom
    listed = sum(1 for f in report.findings if f.outcome in ("fail", "error", "waived"))
    assert finding_rows(dom) == min(listed, 100)
    assert re.search(rf"Showing 1\u2013{min(listed, 100)} of {listed}", dom)
    assert dom.count("<svg") >= 6 and 'class="c-fail"' in dom
    assert 'id="f-controls" hidden' not in dom


def test_console_check_catches_errors(chromium, page, tmp_path):
    """The console check above is not vacuous: an uncaught error and a blocked load are seen."""
    broken = tmp_path / "broken.html"
    broken.write_text(page.read_text(encoding="utf-8").replace(
        "</main>", '</main><img src="https://example.invalid/x.png">', 1).replace(
        "</body>", "<script>throw new Error('boom')</script></body>", 1), encoding="utf-8")
    _, console = dump_dom(chromium, tmp_path, broken)
    text = "\n".join(console)
    assert "Uncaught Error: boom" in text
    assert "Content Security Policy" in text


def test_hostile_names_stay_text(chromium, page, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page)
    assert console == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom  # the subject's name cell and the message
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in dom  # the waiver justification
    assert len(re.findall(r"<script\b", dom)) == 2  # the data block and the page's own script


def test_fragment_filters_the_table(chromium, page, report, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page, "#q=rule:governance.sponsor-assigned")
    assert console == []
    expected = sum(1 for f in report.findings
                   if f.rule == "governance.sponsor-assigned" and f.outcome in ("fail", "error", "waived"))
    assert 0 < expected < sum(1 for f in report.findings if f.outcome in ("fail", "error", "waived"))
    assert finding_rows(dom) == expected


def test_screenshot(chromium, page, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "html-report.png"
    if shot.exists():
        shot.unlink()
    result = run_chromium(chromium, tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1280,2000",
                          "--hide-scrollbars")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_lines(result.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 1280 and int.from_bytes(data[20:24], "big") == 2000
    assert len(data) > 20_000


def test_roll_up_and_trend_charts_render(chromium, page, report, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page)
    assert console == []
    for heading in ("Compliance by portfolio", "Compliance by program", "Compliance over runs",
                    "Programs and portfolios"):
        assert f"{heading}</h" in dom, heading
    for dim in ("program", "portfolio"):
        rows = report.rollups[dim]
        assert len(re.findall(rf'<g class="bar-row ru-row" data-group="{dim}"', dom)) == len(rows)
        assert len(re.findall(rf'<button type="button" class="group-link" data-group="{dim}"', dom)) == len(rows)
    assert 'class="c-weighted"' in dom
    assert dom.count('class="trend-line"') == 1 and dom.count('class="trend-point"') == len(HISTORY)
    assert 'id="f-group" hidden' in dom  # no drill-down yet


def test_fragment_filters_by_program(chromium, page, report, tmp_path):
    """What a click on the PGM-1 bar does: the table lists only PGM-1's findings."""
    dom, console = dump_dom(chromium, tmp_path, page, "#filter=program:PGM-1")
    assert console == []
    expected = in_group(report, "program", "PGM-1")
    assert 0 < expected < len(listed(report))
    assert finding_rows(dom) == expected
    assert f"Showing 1\u2013{expected} of {expected} (filtered from {len(listed(report))})" in dom
    assert '<span id="f-group-label">Program: PGM-1</span>' in dom and 'id="f-group" hidden' not in dom
    assert re.search(r'<g class="bar-row ru-row selected" data-group="program" data-value="PGM-1"', dom)
    assert re.search(r'class="group-link selected" data-group="program" data-value="PGM-1"[^>]*'
                     r'aria-pressed="true"', dom)
    # every listed row is on a PGM-1 project
    subjects = re.findall(r'<tr class="finding-row">.*?<div class="mono">([^<]*)</div>', dom)
    assert subjects and all(report.subjects[s.split("/")[0]]["program"] == "PGM-1" for s in subjects)


def test_fragment_filters_by_portfolio_and_unassigned(chromium, page, report, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page, "#filter=portfolio:Research")
    assert console == []
    assert finding_rows(dom) == in_group(report, "portfolio", "Research") > 0
    assert '<span id="f-group-label">Portfolio: Research</span>' in dom
    dom, console = dump_dom(chromium, tmp_path, page, "#filter=program:" + quote("(none)"))
    assert console == []
    assert finding_rows(dom) == in_group(report, "program", "(none)") > 0  # PRJ-2 and PRJ-3 have no program


def test_hostile_program_name_stays_text(chromium, page, report, tmp_path):
    dom, console = dump_dom(chromium, tmp_path, page, "#filter=program:" + quote(HOSTILE_PROGRAM, safe=""))
    # An <img src=x> element would be refused by the CSP (img-src data:) and logged here.
    assert console == []
    assert finding_rows(dom) == in_group(report, "program", HOSTILE_PROGRAM) > 0
    assert '<span id="f-group-label">Program: &lt;img src=x onerror=alert(1)&gt;</span>' in dom
    assert "&lt;img src=x onerror=alert(1)&gt;</text>" in dom  # the chart label
    assert "<img" not in without_attribute_values(dom)
