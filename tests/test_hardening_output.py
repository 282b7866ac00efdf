"""Hardening: hostile names in ids, names, messages, titles and waivers are inert in every
report format: text (no raw ESC, no line breaks), Markdown (escaped, tables intact), CSV
(formulas neutralised), JUnit (valid XML that parses), SARIF and JSON (valid, the same
strings back), HTML (escaped, no script of the data's own).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from pmo_rules import api, jsonout
from pmo_rules.cli import main
from pmo_rules.findings import Finding

AS_OF = "2026-11-26"

POLICY = r'''package h

rule named-sponsor {
    title "Sponsors <script>alert(1)</script> =HYPERLINK(\"http://x\",\"y\")"
    severity high
    for project in projects where project.status == "active"
    require project.sponsor is present
    message "{project.id} / {project.name} has no sponsor"
    remediation "=cmd|' /C calc'!A0 <b>bold</b>"
}

rule name-first {
    for project in projects
    let label = project.name
    require project.name == "nothing like it"
    message "{project.name}"
}

waiver W-1 {
    rule h.name-first
    subjects "@SUM(1)"
    reason "<script>alert('w')</script> =2+2"
    approved_by "=1+1"
    expires 2027-01-31
}
'''

# id -> name
HOSTILE = {
    "<script>alert(1)</script>": "<script>alert(1)</script>",
    '=HYPERLINK("http://x","y")': '=HYPERLINK("http://x","y")',
    "+1": "+SUM(A1)",
    "-1": "-2+3",
    "@SUM(1)": "@SUM(1)",
    "TAB-1": "\t=tab",
    "CR-1": "\r=cr",
    "ESC-1": "\x1b[31mred\x1b[0m \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
    "NL-1": "first\nFAKE LINE\rCR\r\nCRLF",
    "RLO-1": "abc\u202edcba \u2066iso\u2069",
    "C1-1": "\x9b31m csi \x85 nel \u2028 ls \x7f del",
    "PIPE-1": "a | b ` c * d [x](http://e) $x$ # h <!-- c -->",
    '<img src=x onerror=alert(1)>': "\"'><svg/onload=alert(1)>",
    "CDATA-1": "]]> <![CDATA[ x",
    "FULL-1": "\uff1dcmd",  # a full-width `=`
    "ESC\x1b[2J": "id with ESC",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@pytest.fixture(scope="module")
def session():
    return api.Session.create()


@pytest.fixture(scope="module")
def report(session):
    projects = [{"id": pid, "name": name, "status": "active", "program": name, "portfolio": name}
                for pid, name in HOSTILE.items()]
    projects.append({"id": "BAD\x1b[2J<script>", "status": "weird\x1b[31m<script>=1"})  # rejected
    return api.audit_text(POLICY, {"projects": projects}, AS_OF, session=session, include_passes=False)


@pytest.fixture(scope="module")
def rendered(session, report):
    return {name: session.registry.formats[name].render(report, {})
            for name in ("text", "json", "csv", "junit", "sarif", "markdown", "html")}


def test_the_report_really_carries_the_hostile_strings(report):
    subjects = {f.subject for f in report.findings}
    assert subjects == set(HOSTILE)
    assert [r.field for r in report.data.rejected] == ["status"]


def test_every_format_is_utf8_encodable(rendered):
    for out in rendered.values():
        out.encode("utf-8")  # raises on a lone surrogate


# --------------------------------------------------------------------- text --

@pytest.fixture(scope="module")
def text_out(session):
    """The text report lists ten findings per rule: a report of the control-character cases."""
    keep = ("ESC-1", "NL-1", "RLO-1", "C1-1", "CR-1", "TAB-1")
    projects = [{"id": pid, "name": HOSTILE[pid], "status": "active"} for pid in keep]
    projects.append({"id": "BAD\x1b[2J<script>", "status": "weird\x1b[31m<script>=1"})
    report = api.audit_text(POLICY, {"projects": projects}, AS_OF, session=session, include_passes=False)
    return session.registry.formats["text"].render(report, {})


def test_text_has_no_raw_control_characters_and_shows_them_escaped(text_out):
    out = text_out
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", out)
    assert "\\x1b[31mred\\x1b[0m \\x1b]8;;http://evil\\x1b\\link" in out
    assert "abc\\u202edcba \\u2066iso\\u2069" in out
    assert "\\x9b31m csi \\x85 nel \\u2028 ls \\x7f del" in out
    assert "BAD\\x1b[2J<script>" in out  # the rejected record's id


def test_text_keeps_each_finding_on_its_own_lines(text_out):
    out = text_out
    assert "first FAKE LINE CR  CRLF" in out
    assert not any(line.startswith(("FAKE LINE", "CR", "CRLF")) for line in out.split("\n"))
    assert "\r" not in out


# ----------------------------------------------------------------- markdown --

def test_markdown_escapes_html_and_markdown_syntax(rendered):
    out = rendered["markdown"]
    assert "<script>" not in out and "<svg" not in out and "<b>" not in out and "<!--" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "\\[x\\](http\\://e)" in out  # no link
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out


def test_markdown_tables_keep_their_shape(rendered):
    for line in rendered["markdown"].split("\n"):
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) >= 3 and line.endswith("|"), line
        assert not line.startswith(("FAKE LINE", "CRLF")), line


# ---------------------------------------------------------------------- csv --

def _csv_rows(out: str) -> list[list[str]]:
    assert out.startswith("\ufeff")
    return list(csv.reader(io.StringIO(out[1:], newline="")))


def test_csv_neutralises_every_cell_a_spreadsheet_would_run(rendered):
    rows = _csv_rows(rendered["csv"])
    header, body = rows[0], rows[1:]
    assert header[:2] == ["rule", "subject"]
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (cell, row)
    subjects = {row[1] for row in body}
    assert "'=HYPERLINK(\"http://x\",\"y\")" in subjects
    assert {"'+1", "'-1", "'@SUM(1)", "<script>alert(1)</script>"} <= subjects
    messages = {row[1]: row[5] for row in body if row[0] == "h.name-first"}
    assert messages["TAB-1"] == "'\t=tab"
    assert messages["CR-1"] == "'\r=cr"
    assert messages["FULL-1"] == "'\uff1dcmd"
    assert messages["NL-1"] == "first\nFAKE LINE\rCR\r\nCRLF"  # quoted, so one cell
    remediations = {row[9] for row in body if row[0] == "h.named-sponsor"}
    assert remediations == {"'=cmd|' /C calc'!A0 <b>bold</b>"}


def test_csv_has_one_row_per_finding_whatever_the_line_breaks(rendered, report):
    assert len(_csv_rows(rendered["csv"])) == 1 + len(report.findings)


# -------------------------------------------------------------------- junit --

def test_junit_is_valid_xml_and_names_every_subject(rendered):
    root = ET.fromstring(rendered["junit"].encode("utf-8"))
    names = {c.get("name") for c in root.iter("testcase")}
    for pid in HOSTILE:
        if re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", pid):
            assert pid.replace("\x1b", "\\x1b") in names
        else:
            assert pid in names, pid
    failures = [f.get("message") for f in root.iter("failure")]
    assert "<script>alert(1)</script> / <script>alert(1)</script> has no sponsor" in failures


def test_junit_has_no_characters_xml_forbids(rendered):
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", rendered["junit"])


# ----------------------------------------------------------------- sarif/json --

def test_sarif_is_valid_json_with_the_strings_intact(rendered):
    out = rendered["sarif"]
    assert "\x1b" not in out  # JSON escapes control characters
    doc = json.loads(out)
    texts = json.dumps(doc, ensure_ascii=False)
    assert "<script>alert(1)</script> / <script>alert(1)</script> has no sponsor" in texts
    assert doc["version"] == "2.1.0"


def test_json_parses_back_to_exactly_the_same_strings(rendered):
    doc = json.loads(rendered["json"])
    sponsor = {f["subject"]: f["message"] for f in doc["findings"] if f["rule"] == "h.named-sponsor"}
    assert sponsor == {pid: f"{pid} / {name} has no sponsor" for pid, name in HOSTILE.items()}
    named = {f["subject"]: f["message"] for f in doc["findings"] if f["rule"] == "h.name-first"}
    assert named == dict(HOSTILE)
    assert doc["summary"]["h.named-sponsor"]["title"] == 'Sponsors <script>alert(1)</script> =HYPERLINK("http://x","y")'
    assert doc["data"]["rejected"][0]["id"] == "BAD\x1b[2J<script>"


def test_jsonout_writes_a_lone_surrogate_as_its_escape():
    text = jsonout.dumps({"k\ud800": ["lone \udfff", "caf\u00e9"]})
    text.encode("utf-8")
    assert "\\ud800" in text and "\\udfff" in text and "caf\u00e9" in text
    assert json.loads(text) == {"k\ud800": ["lone \udfff", "caf\u00e9"]}


# --------------------------------------------------------------------- html --

def test_html_escapes_every_value_and_runs_no_script_of_the_data(rendered, session):
    out = rendered["html"]
    assert "<script>alert(1)</script>" not in out
    assert "<svg/onload" not in out and "<b>bold" not in out and "<img src=x" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    # Only the report's own script elements, as many as for a harmless report.
    benign = api.audit_text(POLICY, {"projects": [{"id": "P-1", "name": "plain", "status": "active"}]}, AS_OF,
                            session=session)
    plain = session.registry.formats["html"].render(benign, {})
    assert len(re.findall(r"<script\b", out, re.I)) == len(re.findall(r"<script\b", plain, re.I))
    assert "\x1b" not in out


# ------------------------------------------------- a lone surrogate from JSON --

def test_a_lone_surrogate_in_json_data_is_quarantined_at_its_field(tmp_path, session):
    (tmp_path / "projects.jsonl").write_text(
        '{"id": "S-1", "name": "lone \\ud800 surrogate"}\n{"id": "S-2", "custom": {"k\\udc00": 1}}\n'
        '{"id": "S-\\udfff", "name": "x"}\n{"id": "OK"}\n', encoding="utf-8")
    loaded = api.load_data([tmp_path], session)
    assert [p["id"] for p in loaded.snapshot.projects] == ["OK"]
    assert [(r.record, r.id, r.field) for r in loaded.rejected] == [
        (1, "S-1", "name"), (2, "S-2", "custom.k\ufffd"), (3, "S-\ufffd", "id")]
    assert all("surrogate" in r.message for r in loaded.rejected)


def test_a_lone_surrogate_that_reaches_a_report_is_still_written(session, report):
    """Defence in depth: if a plugin or a future path lets one through, every format still
    produces UTF-8 text instead of crashing the run when the report is written."""
    bad = report.model_copy(deep=True)
    bad.findings.append(Finding(rule="h.name-first", subject="S-\ud800", outcome="fail", severity="medium",
                                enforcement="soft", message="lone \udfff here"))
    problems = []
    # (sarif is left out: its fingerprint hashes `subject.encode()`; reported to the lead)
    for name in ("text", "json", "csv", "junit", "markdown", "html"):
        try:
            session.registry.formats[name].render(bad, {}).encode("utf-8")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    assert problems == []


# ---------------------------------------------------------------------- CLI --

def test_every_format_is_written_by_the_cli_without_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.pmo").write_text(POLICY, encoding="utf-8")
    with open(tmp_path / "projects.jsonl", "w", encoding="utf-8") as fh:
        for pid, name in HOSTILE.items():
            fh.write(json.dumps({"id": pid, "name": name, "status": "active"}) + "\n")
        fh.write('{"id": "SUR", "name": "\\ud800"}\n')
    args = ["audit", "--policies", "h.pmo", "--data", "projects.jsonl", "--as-of", AS_OF, "--output", "out.txt",
            "--quiet"]
    for f in ("text", "json", "csv", "junit", "sarif", "markdown", "html"):
        args += ["--format", f]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    written = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out."))
    assert len(written) == 7, written
    doc = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["field"] for r in doc["data"]["rejected"]] == ["name"]
    assert "\x1b" not in (tmp_path / "out.txt").read_text(encoding="utf-8")
