"""The report formats (SPEC 4, "Compliance reports"): junit, sarif, markdown, csv, html.

Every format renders a real report (fail, error, waived and pass outcomes from a small
policy with a waiver) whose data carries hostile text: markup, formula starters, table
pipes, link syntax, non-ASCII, control characters. SARIF is validated against the
vendored OASIS schema, JUnit against the strict Ant schema and the Jenkins one
(`tests/data/schemas/`, see SOURCES.md there); every format is byte-for-byte
deterministic.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.metadata
import io
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from pmo_rules_builtins.formats import csv_report, html, json_report, junit, markdown, sarif, text

from pmo_rules import api
from pmo_rules.findings import Evidence, Finding, Report, RuleSummary
from pmo_rules.storage import AuditTrail, record_run

SCHEMAS = Path(__file__).resolve().parent / "data" / "schemas"
AS_OF = "2026-11-26"
NEW_FORMATS = {"junit": junit, "sarif": sarif, "markdown": markdown, "csv": csv_report, "html": html}
ALL_FORMATS = {**NEW_FORMATS, "json": json_report, "text": text}
EXTENSIONS = {"junit": ".xml", "sarif": ".sarif", "markdown": ".md", "csv": ".csv", "html": ".html"}

SCRIPT_NAME = "<script>alert(1)</script>"
PIPE_NAME = "Ledger | <b>bold</b> [click](http://evil.example) `code` *x* \n# heading"
NONASCII_NAME = "Zürich café – 東京 ✓"

POLICY = '''package governance

rule sponsor-assigned {
    title "Active projects have an executive sponsor"
    description "Every active project names an executive sponsor who owns its business case."
    ref "https://example.org/pmo/handbook#sponsor"
    severity high
    enforcement soft
    tags "governance", "stage-gate"
    for project in projects where project.status == "active"
    require project.sponsor is present
    message "{project.id} ({project.name}) has no sponsor"
    remediation "Name an executive sponsor in the portfolio register"
}

rule cpi-floor {
    title "Cost efficiency is at or above the floor"
    ref "PMBOK Guide 7th ed. 2.7 <measurement>"
    severity critical
    for project in projects where project.status == "active"
    let cpi = project.budget.earned_value / project.budget.actual_cost
    require cpi >= 0.9 else "CPI {cpi} is below 0.9 for {project.name}"
}

rule named {
    severity low
    enforcement advisory
    for project in projects
    require len(project.name) < 2
    message "{project.name}"
}

rule manager-assigned {
    severity info
    for project in projects where project.status == "active"
    require project.manager is present
}

waiver W-2026-014 {
    rule governance.sponsor-assigned
    subjects "PRJ-3"
    reason "Sponsor hand-over approved | <b>steering</b> on 2026-11-02"
    approved_by "CFO"
    expires 2026-12-15
}
'''


def _project(pid: str, name: str, **kw) -> dict:
    p = {"id": pid, "name": name, "status": "active", "manager": "Ana",
         "budget": {"approved": 100, "actual_cost": 50, "earned_value": 50}}
    p.update(kw)
    return p


HOSTILE_PORTFOLIO = "Digital</script>"
HOSTILE_PROGRAM = "PGM | <img src=x onerror=alert(1)> [x](http://evil.example)"

DATA = {"projects": [
    _project("PRJ-1", SCRIPT_NAME, budget={"approved": 100, "actual_cost": 50, "earned_value": 40},
             portfolio=HOSTILE_PORTFOLIO, program="PGM-1"),
    _project("PRJ-2", '=HYPERLINK("http://evil.example","x")', sponsor="Bo",
             budget={"approved": 100, "actual_cost": 0, "earned_value": 0}, portfolio="Operations"),
    _project("PRJ-3", NONASCII_NAME, portfolio=HOSTILE_PORTFOLIO, program="PGM-1"),
    _project("PRJ-4", PIPE_NAME, sponsor="Cy", portfolio="Operations", program=HOSTILE_PROGRAM,
             budget={"approved": 900, "actual_cost": 50, "earned_value": 50}),
    _project("PRJ-5", "+1", sponsor="Cy"),
    _project("PRJ-6", "-1", sponsor="Cy"),
    _project("PRJ-7", "@SUM(1+1)", sponsor="Cy"),
]}

SUBJECTS = {
    "PRJ-1": {"collection": "projects", "name": SCRIPT_NAME, "portfolio": "Digital</script>", "program": "PGM-1"},
    "PRJ-2": {"collection": "projects", "name": "x", "portfolio": "Operations", "program": None},
    "PRJ-3": {"collection": "projects", "name": NONASCII_NAME, "portfolio": "Digital</script>", "program": "PGM-1"},
    "PRJ-4": {"collection": "projects", "name": PIPE_NAME, "portfolio": "Operations", "program": "PGM-2"},
}


def _report(session, include_passes: bool = True) -> Report:
    return api.audit_text(POLICY, DATA, AS_OF, session=session, include_passes=include_passes)


@pytest.fixture(scope="module")
def report(session) -> Report:
    return _report(session)


@pytest.fixture(scope="module")
def outcomes(report) -> dict[tuple[str, str], str]:
    return {(f.rule, f.subject): f.outcome for f in report.findings}


def test_the_fixture_report_has_every_outcome(report, outcomes):
    assert outcomes[("governance.sponsor-assigned", "PRJ-1")] == "fail"
    assert outcomes[("governance.sponsor-assigned", "PRJ-3")] == "waived"
    assert outcomes[("governance.cpi-floor", "PRJ-2")] == "error"
    assert outcomes[("governance.cpi-floor", "PRJ-1")] == "fail"
    assert outcomes[("governance.manager-assigned", "PRJ-1")] == "pass"
    assert {"pass", "fail", "error", "waived"} <= set(outcomes.values())
    assert report.summary["governance.manager-assigned"].counts["fail"] == 0


def _hand_report() -> Report:
    """Two packages, a rule with no findings, ids and text a renderer could choke on."""
    counts = {"pass": 0, "fail": 0, "error": 0, "waived": 0, "not_applicable": 0}
    return Report(
        tool_version="9.9", as_of=AS_OF, blocking=True,
        summary={
            "risk.owned": RuleSummary(severity="medium", enforcement="soft", location="risk.pmo:3:1",
                                      counts={**counts, "fail": 1, "pass": 2}),
            "zeta.quiet": RuleSummary(title="Nothing to see", severity="info", enforcement="advisory",
                                      location="C:\\policies\\zeta.pmo:1:1", counts={**counts, "not_applicable": 4}),
        },
        totals={**counts, "fail": 1, "pass": 2, "not_applicable": 4},
        findings=[Finding(
            rule="risk.owned", subject="PRJ-9/R-1 \x07bell", outcome="fail", severity="medium", enforcement="soft",
            message="owner {missing} \x00 \ud800 </failure>]]> & more\r\nline two",
            evidence=[Evidence(expr="r.owner", value=None), Evidence(expr="r.title", value="=cmd|' /C calc'!A0")],
            location="policies/risk (copy).pmo:12:5",
        )],
    )


# ---------------------------------------------------------------- registration --


def test_each_module_registers_its_format_through_the_hook():
    session = api.Session.create(entry_points="none",
                                 extra=tuple((f"formats_{n}", m) for n, m in NEW_FORMATS.items()))
    assert session.problems == []
    for name, ext in EXTENSIONS.items():
        spec = session.registry.formats[name]
        assert spec.extension == ext
        assert spec.description
        assert spec.plugin == f"formats_{name}"


def test_entry_points_list_the_new_formats():
    names = {ep.name for ep in importlib.metadata.entry_points(group="pmo_rules")}
    missing = {f"formats_{n}" for n in NEW_FORMATS} - names
    if missing:
        pytest.skip(f"entry points {sorted(missing)} are not in the installed metadata yet "
                    "(add them to pyproject.toml and re-run `pip install -e .`)")
    formats = api.Session.create().registry.formats
    assert set(NEW_FORMATS) <= set(formats)


# --------------------------------------------------------------- determinism --


@pytest.mark.parametrize("name", sorted(ALL_FORMATS))
def test_every_format_is_deterministic(session, name):
    module = ALL_FORMATS[name]
    first = module.render(_report(session), {}).encode("utf-8")
    second = module.render(_report(session), {}).encode("utf-8")
    assert first == second


@pytest.mark.parametrize("name", sorted(NEW_FORMATS))
def test_hostile_text_renders_deterministically_as_utf8(name):
    """NUL, BEL, a lone surrogate, CR/LF and markup in data still give encodable, stable output."""
    module = NEW_FORMATS[name]
    assert module.render(_hand_report(), {}).encode("utf-8") == module.render(_hand_report(), {}).encode("utf-8")


@pytest.mark.parametrize("name", sorted(NEW_FORMATS))
def test_every_format_renders_an_empty_report(name):
    empty = Report(as_of=AS_OF, summary={}, totals={k: 0 for k in ("pass", "fail", "error", "waived",
                                                                  "not_applicable")}, findings=[])
    out = NEW_FORMATS[name].render(empty, {})
    assert isinstance(out, str) and out


# --------------------------------------------------------------------- JUnit --


@pytest.fixture(scope="module")
def xsd():
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema (a test dependency) is needed for the XSDs")
    return {"ant": xmlschema.XMLSchema(str(SCHEMAS / "junit.xsd")),
            "jenkins": xmlschema.XMLSchema(str(SCHEMAS / "junit-jenkins-xunit-10.xsd"))}


def _assert_valid_junit(xml_text: str, xsd) -> ET.Element:
    for name, schema in xsd.items():
        errors = list(schema.iter_errors(xml_text))
        assert not errors, f"{name}: {errors[0]}"
    return ET.fromstring(xml_text.encode("utf-8"))


def test_junit_is_valid_against_both_schemas(report, xsd):
    root = _assert_valid_junit(junit.render(report, {}), xsd)
    assert root.tag == "testsuites" and not root.attrib


def test_junit_cases_per_rule_and_subject(report, xsd):
    root = _assert_valid_junit(junit.render(report, {}), xsd)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == suite.get("package") == "governance"
    assert suite.get("timestamp") == f"{AS_OF}T00:00:00"
    assert suite.get("hostname") and suite.get("id") == "0"
    cases = {(c.get("classname"), c.get("name")): c for c in suite.findall("testcase")}
    fail = cases[("governance.sponsor-assigned", "PRJ-1")].find("failure")
    assert fail is not None and fail.get("type") and SCRIPT_NAME in fail.get("message")
    assert "project.sponsor = null" in fail.text and "remediation: Name an executive sponsor" in fail.text
    err = cases[("governance.cpi-floor", "PRJ-2")].find("error")
    assert err is not None and "division by zero" in err.get("message")
    skipped = cases[("governance.sponsor-assigned", "PRJ-3")].find("skipped")
    assert skipped is not None and "W-2026-014" in skipped.get("message")
    assert "Sponsor hand-over approved | <b>steering</b>" in skipped.get("message")
    # No per-subject case for passes; one passing case for the rule that never failed.
    assert ("governance.sponsor-assigned", "PRJ-2") not in cases
    passing = [c for (cls, _), c in cases.items() if cls == "governance.manager-assigned"]
    assert len(passing) == 1 and len(passing[0]) == 0 and "no failures" in passing[0].get("name")
    assert not any(cls == "governance.sponsor-assigned" and "no failures" in n for cls, n in cases)
    n_fail = sum(1 for c in cases.values() if c.find("failure") is not None)
    n_err = sum(1 for c in cases.values() if c.find("error") is not None)
    n_skip = sum(1 for c in cases.values() if c.find("skipped") is not None)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == \
        (str(len(cases)), str(n_fail), str(n_err), str(n_skip))
    assert n_fail == report.totals["fail"] and n_err == report.totals["error"] and n_skip == report.totals["waived"]
    children = [c.tag for c in suite]
    assert children[0] == "properties" and children[-2:] == ["system-out", "system-err"]


def test_junit_suite_per_package_and_hostile_text(xsd):
    root = _assert_valid_junit(junit.render(_hand_report(), {}), xsd)
    suites = root.findall("testsuite")
    assert [(s.get("name"), s.get("id")) for s in suites] == [("risk", "0"), ("zeta", "1")]
    failure = suites[0].find("testcase/failure")
    assert "</failure>]]> & more" in failure.get("message") and "\\x00" in failure.get("message")
    assert [c.get("name") for c in suites[1].findall("testcase")] == ["no failures (0 checked, 4 not applicable)"]


# --------------------------------------------------------------------- SARIF --


@pytest.fixture(scope="module")
def sarif_validator():
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _assert_valid_sarif(text_: str, validator) -> dict:
    log = json.loads(text_)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, f"{list(errors[0].absolute_path)}: {errors[0].message}"
    return log


def test_sarif_is_valid_against_the_oasis_schema(report, sarif_validator):
    log = _assert_valid_sarif(sarif.render(report, {}), sarif_validator)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    _assert_valid_sarif(sarif.render(_hand_report(), {}), sarif_validator)
    _assert_valid_sarif(sarif.render(report, {"subjects": SUBJECTS, "information_uri": "https://example.org"}),
                        sarif_validator)


def test_sarif_rules_and_results(report, sarif_validator):
    run = _assert_valid_sarif(sarif.render(report, {}), sarif_validator)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pmo-rules" and driver["version"] == report.tool_version
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == sorted(report.summary)
    sponsor = rules["governance.sponsor-assigned"]
    assert sponsor["shortDescription"]["text"] == "Active projects have an executive sponsor"
    assert sponsor["help"]["text"] == "Name an executive sponsor in the portfolio register"
    assert sponsor["properties"]["severity"] == "high" and sponsor["properties"]["enforcement"] == "soft"
    assert sponsor["properties"]["tags"] == ["governance", "stage-gate"]
    results = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r for r in run["results"]}
    assert all(r["properties"]["outcome"] != "pass" for r in run["results"])
    assert len(results) == sum(1 for f in report.findings if f.outcome in ("fail", "error", "waived"))
    for (rule_id, _), r in results.items():
        assert driver["rules"][r["ruleIndex"]]["id"] == rule_id

    fail = results[("governance.sponsor-assigned", "PRJ-1")]
    assert (fail["kind"], fail["level"]) == ("fail", "error")  # high -> error
    phys = fail["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "%3Cpolicy%3E"
    assert phys["region"] == {"startLine": 11, "startColumn": 13}
    assert fail["properties"]["evidence"] == [{"expr": "project.sponsor", "value": None}]
    assert "suppressions" not in fail

    cpi = results[("governance.cpi-floor", "PRJ-1")]
    assert cpi["level"] == "error"  # critical -> error
    assert {"expr": "cpi", "value": 0.8} in cpi["properties"]["evidence"]
    assert results[("governance.named", "PRJ-4")]["level"] == "warning"  # low -> warning

    err = results[("governance.cpi-floor", "PRJ-2")]
    assert (err["kind"], err["level"], err["properties"]["outcome"]) == ("fail", "error", "error")

    waived = results[("governance.sponsor-assigned", "PRJ-3")]
    (sup,) = waived["suppressions"]
    assert sup["kind"] == "external" and sup["status"] == "accepted"
    assert "Sponsor hand-over approved" in sup["justification"] and "CFO" in sup["justification"]


def test_sarif_rule_description_remediation_and_ref(report, sarif_validator):
    run = _assert_valid_sarif(sarif.render(report, {}), sarif_validator)["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    sponsor = rules["governance.sponsor-assigned"]
    assert sponsor["fullDescription"]["text"] == \
        "Every active project names an executive sponsor who owns its business case."
    assert sponsor["help"]["text"] == "Name an executive sponsor in the portfolio register"
    assert sponsor["properties"]["ref"] == sponsor["helpUri"] == "https://example.org/pmo/handbook#sponsor"
    cpi = rules["governance.cpi-floor"]
    assert cpi["properties"]["ref"] == "PMBOK Guide 7th ed. 2.7 <measurement>"
    assert "helpUri" not in cpi  # not a URL
    assert cpi["fullDescription"]["text"].startswith("Cost efficiency is at or above the floor (severity critical")
    assert "help" not in cpi and "ref" not in rules["governance.named"]["properties"]


def test_sarif_help_comes_from_the_rule_summary(sarif_validator):
    """A rule's remediation reaches `help` even when no finding carries it (e.g. all passed)."""
    hand = _hand_report()
    hand.summary["zeta.quiet"] = hand.summary["zeta.quiet"].model_copy(
        update={"remediation": "Keep quiet", "description": "Quiet rule.", "ref": "http://example.org/q"})
    run = _assert_valid_sarif(sarif.render(hand, {}), sarif_validator)["runs"][0]
    quiet = {r["id"]: r for r in run["tool"]["driver"]["rules"]}["zeta.quiet"]
    assert quiet["help"] == {"text": "Keep quiet"} and quiet["fullDescription"] == {"text": "Quiet rule."}
    assert quiet["helpUri"] == "http://example.org/q"


def test_sarif_levels_cover_every_severity():
    f = _hand_report().findings[0]
    levels = {sev: sarif.level_of(f.model_copy(update={"severity": sev}))
              for sev in ("critical", "high", "medium", "low", "info")}
    assert levels == {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}
    assert sarif.level_of(f.model_copy(update={"severity": "info", "outcome": "error"})) == "error"


def test_sarif_text_escapes_and_locations(sarif_validator):
    run = _assert_valid_sarif(sarif.render(_hand_report(), {}), sarif_validator)["runs"][0]
    (result,) = run["results"]
    assert "{{missing}}" in result["message"]["text"]  # SARIF 3.11.5: literal braces doubled
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "policies/risk%20(copy).pmo"
    assert "\\ud800" in sarif.render(_hand_report(), {})  # a lone surrogate stays a valid JSON escape
    with_subjects = sarif.build(_hand_report(), {"subjects": {"PRJ-9": {"collection": "projects"}}})
    logical = with_subjects["runs"][0]["results"][0]["locations"][0]["logicalLocations"][0]
    assert logical["kind"] == "object" and logical["fullyQualifiedName"] == "PRJ-9/R-1 \x07bell"
    full = sarif.build(_hand_report(), {"subjects": {"PRJ-9/R-1 \x07bell": {"collection": "risks"}}})
    assert full["runs"][0]["results"][0]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == \
        "risks/PRJ-9/R-1 \x07bell"


# ----------------------------------------------------------------------- CSV --


def _csv_rows(out: str) -> list[list[str]]:
    data = out.encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so that Excel reads non-ASCII"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_one_row_per_finding(report):
    rows = _csv_rows(csv_report.render(report, {}))
    assert rows[0] == list(csv_report.COLUMNS)
    assert len(rows) == 1 + len(report.findings)
    by_key = {(r[0], r[1]): dict(zip(rows[0], r)) for r in rows[1:]}
    cpi = by_key[("governance.cpi-floor", "PRJ-1")]
    assert cpi["outcome"] == "fail" and cpi["severity"] == "critical"
    assert cpi["evidence"] == ("project.budget.earned_value=40; project.budget.actual_cost=50; cpi=0.8; "
                               "to pass=passes when `cpi` >= 0.9; now 0.8")
    assert cpi["location"].startswith("<policy>:")
    assert by_key[("governance.sponsor-assigned", "PRJ-3")]["waiver"] == "W-2026-014"
    assert by_key[("governance.cpi-floor", "PRJ-2")]["outcome"] == "error"


def test_csv_neutralises_formulas(report):
    rows = _csv_rows(csv_report.render(report, {}))
    messages = {r[1]: r[5] for r in rows[1:] if r[0] == "governance.named"}
    assert messages["PRJ-2"] == '\'=HYPERLINK("http://evil.example","x")'
    assert messages["PRJ-5"] == "'+1"
    assert messages["PRJ-6"] == "'-1"
    assert messages["PRJ-7"] == "'@SUM(1+1)"
    for r in rows:
        for cell in r:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    for bad in ("=1", "+1", "-1", "@x", "\tx", "\rx", "\uff1d1"):
        assert csv_report.safe_cell(bad) == "'" + bad
    assert csv_report.safe_cell("1-2") == "1-2"


def test_csv_round_trips_non_ascii_and_line_breaks(report):
    rows = _csv_rows(csv_report.render(report, {}))
    messages = {r[1]: r[5] for r in rows[1:] if r[0] == "governance.named"}
    assert messages["PRJ-3"] == NONASCII_NAME
    assert messages["PRJ-4"] == PIPE_NAME  # commas, quotes and the line break survive quoting
    hand = _csv_rows(csv_report.render(_hand_report(), {}))
    assert hand[1][1] == "PRJ-9/R-1 \x07bell"
    assert hand[1][5] == "owner {missing} \x00 \ufffd </failure>]]> & more\r\nline two"
    assert hand[1][6] == "r.owner=null; r.title==cmd|' /C calc'!A0"


# ------------------------------------------------------------------ Markdown --


def _table_cells(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_markdown_summary(report):
    out = markdown.render(report, {})
    assert out.startswith("## pmo-rules audit as of 2026-11-26")
    decided = report.totals["pass"] + report.totals["fail"]
    assert f"**Compliance {100 * report.totals['pass'] / decided:.1f}%**" in out
    assert "| ❌ | governance\\.cpi-floor |" not in out  # rule ids are not over-escaped
    assert "governance.cpi-floor" in out and "W-2026-014" in out and "expiring soon" in out
    assert "### Evaluation errors" in out and "division by zero" in out
    assert "evidence: project.budget.earned\\_value = 40" in out


def test_markdown_escapes_data(report):
    out = markdown.render(report, {})
    assert "<script" not in out and "<b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert not re.search(r"(?<!\\)\]\(", out) and "\\[click\\]" in out and "\\`code\\`" in out and "\\*x\\*" in out
    assert "http\\://evil" in out
    assert not any(line.lstrip().startswith("#") and not line.startswith(("## ", "### ")) for line in out.splitlines())
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| waiver |"))
    assert _table_cells(lines[header + 2]) == _table_cells(lines[header])  # `|` in the reason is escaped
    rules = next(i for i, line in enumerate(lines) if line.startswith("| | rule |"))
    for line in lines[rules + 2:]:
        if not line.startswith("|"):
            break
        assert _table_cells(line) == _table_cells(lines[rules])
    assert markdown.md("# x\n[y](z) <i> `c` | w www.e.com a@b") == \
        "\\# x \\[y\\](z) &lt;i&gt; \\`c\\` \\| w www\\.e.com a\\@b"


def _md_table(out: str, heading: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    table = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        table.append(line)
    return table


def test_markdown_roll_ups_per_portfolio_and_program(report):
    out = markdown.render(report, {})
    for dim in ("portfolio", "program"):
        table = _md_table(out, f"### Compliance by {dim}")
        assert table[0] == f"| {dim} | projects | failing projects | compliance | budget-weighted |"
        body = table[2:]
        assert len(body) == len(report.rollups[dim])
        assert all(_table_cells(line) == _table_cells(table[0]) for line in body)  # names cannot add cells
        for row in report.rollups[dim]:
            cells = (f"| {markdown.md(row[dim])} | {row['projects']} | {row['failing_projects']} "
                     f"| {html.ratio_text(row['compliance'])} | {html.ratio_text(row['budget_weighted_compliance'])} |")
            assert cells in body, cells
        shown = [float(line.split("|")[-3].strip().rstrip("%").replace("n/a", "1000")) for line in body]
        assert shown == sorted(shown)  # least compliant first
    assert "PGM \\| &lt;img src=x onerror=alert(1)&gt; \\[x\\](http\\://evil.example)" in out
    assert "<img" not in out
    capped = markdown.render(report, {"top_groups": 1})
    assert "### Compliance by program (1 least compliant of 3)" in capped
    assert len(_md_table(capped, "### Compliance by program")) == 3


def test_markdown_without_roll_ups_has_no_roll_up_tables():
    out = markdown.render(_hand_report(), {})
    assert "Compliance by portfolio" not in out and "Compliance by program" not in out


# ---------------------------------------------------------------------- HTML --


def _data_json(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="pmo-data">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_html_is_self_contained(report):
    page = html.render(report, {})
    assert page.startswith("<!DOCTYPE html>")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', page)
    assert csp and csp.group(1).replace("&#x27;", "'").startswith(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:")
    assert not re.search(r"<(link|iframe|object|embed|img)\b", page)
    # no element has a src attribute (escaped text and attribute values may say `src=`)
    assert not re.search(r"<[A-Za-z][^<>]*\ssrc\s*=", re.sub(r'"[^"]*"', '""', page))
    assert "@import" not in page and "url(" not in page
    assert not re.search(r'href\s*=\s*"(?!#)', page)


def test_html_escapes_everything(report):
    page = html.render(report, {})
    assert SCRIPT_NAME not in page and "<img" not in page
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "Digital&lt;/script&gt;" in page  # a portfolio name as a chart label
    assert html.esc(HOSTILE_PROGRAM) in page and f'data-value="{html.esc(HOSTILE_PROGRAM)}"' in page
    data = _data_json(page)
    rows = [dict(zip(data["columns"], r)) for r in data["findings"]]
    assert any(r["name"] == SCRIPT_NAME for r in rows)
    assert any(r["portfolio"] == "Digital</script>" for r in rows)
    assert any(r["program_key"] == HOSTILE_PROGRAM for r in rows)
    block = re.search(r'id="pmo-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    assert not re.search(r"[^\x00-\x7f]", block)  # U+2028/2029 and all non-ASCII as \u escapes
    assert "Sponsor hand-over approved | &lt;b&gt;steering&lt;/b&gt;" in page


def test_html_content(report):
    page = html.render(report, {})
    decided = report.totals["pass"] + report.totals["fail"]
    assert f"{100 * report.totals['pass'] / decided:.1f}%" in page
    for heading in ("Compliance by PMO function", "Findings by severity", "Top failing rules",
                    "Compliance by portfolio", "Compliance by program", "Programs and portfolios",
                    "Waiver register", "Findings"):
        assert heading in page, heading
    assert page.count("<svg") >= 6
    assert "expiring soon" in page and "CFO" in page and "2026-12-15" in page
    assert "Compliance over runs" not in page  # no history given
    data = _data_json(page)
    assert len(data["findings"]) == sum(1 for f in report.findings if f.outcome in ("fail", "error", "waived"))
    assert data["has_groups"] is True
    assert "Portfolio / program" in page


def _bar(page: str, dim: str, value: str) -> str:
    m = re.search(rf'<g class="bar-row ru-row" data-group="{dim}" data-value="{re.escape(html.esc(value))}"'
                  r"[^>]*>(.*?)</g>", page, re.S)
    assert m, (dim, value)
    return m.group(1)


def test_html_rollup_charts_and_tables_follow_the_report(report):
    page = html.render(report, {})
    assert {r["portfolio"] for r in report.rollups["portfolio"]} == {"Digital</script>", "Operations", "(none)"}
    for dim in ("portfolio", "program"):
        for row in report.rollups[dim]:
            bar = _bar(page, dim, row[dim])
            assert f'class="pct">{html.ratio_text(row["compliance"])}</text>' in bar
            assert f"{html.ratio_text(row['budget_weighted_compliance'])} by budget" in bar
            # the roll-up table lists it too, with a button that drills down
            assert (f'<button type="button" class="group-link" data-group="{dim}" '
                    f'data-value="{html.esc(row[dim])}"') in page
    # PGM-1 (PRJ-1 and PRJ-3) from the findings themselves (passes are listed in this report)
    checks = [f for f in report.findings if f.subject in ("PRJ-1", "PRJ-3") and f.outcome in ("pass", "fail")]
    passed = sum(1 for f in checks if f.outcome == "pass")
    assert f'class="pct">{100 * passed / len(checks):.1f}%</text>' in _bar(page, "program", "PGM-1")
    assert html.ratio_text(None) == "n/a" and html.ratio_text(Decimal("0.87654")) == "87.7%"
    assert html.ratio_text(Decimal("0.8765")) == "87.7%"  # half up, exactly


def test_html_findings_carry_their_roll_up_group(report):
    data = _data_json(html.render(report, {}))
    rows = {(r[data["columns"].index("rule")], r[data["columns"].index("subject")]): dict(zip(data["columns"], r))
            for r in data["findings"]}
    one = rows[("governance.sponsor-assigned", "PRJ-1")]
    assert (one["portfolio_key"], one["program_key"]) == ("Digital</script>", "PGM-1")
    two = rows[("governance.cpi-floor", "PRJ-2")]
    assert (two["portfolio_key"], two["program_key"]) == ("Operations", "(none)")  # as rollups.py names it
    assert two["program"] is None


def test_html_with_empty_subjects_draws_roll_ups_without_drill_down(report):
    """`subjects` is empty when no listed finding is on a project: the roll-ups still show."""
    page = html.render(report.model_copy(update={"subjects": {}}), {})
    assert "Compliance by portfolio" in page and "Compliance by program" in page
    assert "Programs and portfolios" in page
    assert "data-group=" not in page  # nothing to drill down to
    assert "no findings to drill down to" in page
    data = _data_json(page)
    assert data["has_groups"] is False and "Portfolio / program" not in page
    assert all(r[data["columns"].index("program_key")] is None for r in data["findings"])
    # options["subjects"] can still supply them
    page = html.render(report.model_copy(update={"subjects": {}}), {"subjects": SUBJECTS})
    assert "data-group=" in page and _data_json(page)["has_groups"] is True


def test_html_without_roll_ups_says_why():
    page = html.render(_hand_report(), {})
    assert "carries no roll-ups by portfolio or program" in page and "data-group=" not in page
    no_projects = _hand_report().model_copy(update={"rollups": {"program": [], "portfolio": []}})
    assert "No projects were audited" in html.render(no_projects, {})


def _history() -> list[dict]:
    return [
        {"run": 1, "as_of": "2026-09-30", "started": "x", "pass": 80, "fail": 20, "error": 0, "waived": 1,
         "not_applicable": 5, "compliance": Decimal("80.0")},
        {"run": 2, "as_of": "<b>2026-10-31</b>", "pass": 0, "fail": 0, "error": 3, "waived": 0,
         "compliance": None},
        {"run": 3, "as_of": "2026-11-26", "pass": 875, "fail": 125, "error": 1, "waived": 2,
         "compliance": Decimal("87.5")},
        {"run": 4, "as_of": "2026-11-27", "pass": 9, "fail": 1, "error": 0, "waived": 0, "compliance": 90},
    ]


def test_html_trend_over_runs(report):
    page = html.render(report, {"history": _history()})
    m = re.search(r'<div class="card chart wide" id="trend">(.*?)</div>', page, re.S)
    assert m and "Compliance over runs" in m.group(1)
    trend = m.group(1)
    assert trend.count("<polyline") == 2  # run 2 decided nothing: a gap in the line
    assert trend.count("<circle") == 3
    assert "run 3, as of 2026-11-26: compliance 87.5% (875 pass, 125 fail, 1 error, 2 waived)" in trend
    assert "&lt;b&gt;2026-10-31&lt;/b&gt;" in trend and "<b>" not in trend
    assert "4 run(s) in the audit trail. Latest: 90.0% (+2.5 points since the run before)." in trend
    assert html.render(report, {"history": _history()}) == page


@pytest.mark.parametrize("history", [None, [], "runs", 3, {"run": 1}, [1, "x", None]])
def test_html_without_usable_history_has_no_trend(report, history):
    page = html.render(report, {"history": history})
    assert "Compliance over runs" not in page and 'id="trend"' not in page


def test_html_trend_from_the_audit_trail(report, tmp_path):
    db = tmp_path / "audit.db"
    now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
    for _ in range(2):
        record_run(db, report, policies_sha256="p", data_sha256="d", params_sha256="x", started=now, ended=now)
    with AuditTrail.open(db) as trail:
        history = trail.history()
    page = html.render(report, {"history": history})
    trend = re.search(r'id="trend">(.*?)</div>', page, re.S).group(1)
    assert trend.count("<circle") == 2 and "2 run(s) in the audit trail" in trend
    decided = report.totals["pass"] + report.totals["fail"]
    assert f"compliance {100 * report.totals['pass'] / decided:.1f}%" in trend


def test_html_caps_embedded_findings(report):
    page = html.render(report, {"max_findings": 2})
    assert len(_data_json(page)["findings"]) == 2
    assert "most severe of" in page
