"""The HTML report in a real headless Chromium: scripts run without errors under the
page's own Content-Security-Policy, the findings table and charts are drawn, hostile
names stay text, and a screenshot is kept as a test artefact (`tests/artifacts/`).

Skipped when no Chromium is installed (`apt-get install -y chromium`). Each browser run
uses a fresh profile and stays under a 60 s timeout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pmo_rules_builtins.formats import html

from pmo_rules import api

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AS_OF = "2026-11-26"
HOSTILE = "<script>alert(1)</script>"
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
    return out


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
    subjects = {p["id"]: {"collection": "projects", "name": p["name"], "portfolio": p.get("portfolio"),
                          "program": p.get("program")} for p in _projects()}
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html.render(report, {"subjects": subjects}), encoding="utf-8")
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
