"""The CSV report: one row per finding, for spreadsheets.

Columns: rule, subject, outcome, severity, enforcement, message, evidence (`expr=value;
...`), waiver (id), location, remediation, note. Findings keep the report's order (rule,
then subject); passes appear only when the report lists them (`--include-passes`).

Safe to open in Excel: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return (or their full-width forms) is prefixed with `'`, so it is shown as text instead
of being run as a formula (OWASP "CSV injection"). The text starts with a UTF-8
byte-order mark so that Excel reads non-ASCII names correctly; quoting is the `csv`
module's (fields with commas, quotes or line breaks are quoted), with CRLF row ends.
"""

from __future__ import annotations

import csv
import io
import re

from pmo_rules import hookimpl
from pmo_rules.findings import Finding, Report
from pmo_rules.registry import FormatSpec
from pmo_rules.values import display

COLUMNS = ("rule", "subject", "outcome", "severity", "enforcement", "message", "evidence", "waiver",
           "location", "remediation", "note")
BOM = "\ufeff"
_SURROGATE = re.compile("[\ud800-\udfff]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: object) -> str:
    """The cell text, neutralised when a spreadsheet would read it as a formula."""
    s = "" if value is None else (value if isinstance(value, str) else display(value))
    s = _SURROGATE.sub("\ufffd", s)  # not encodable as UTF-8
    return "'" + s if s.startswith(FORMULA_STARTS) else s


def evidence_text(f: Finding) -> str:
    return "; ".join(f"{e.expr}={display(e.value)}" for e in f.evidence)


def row(f: Finding) -> list[str]:
    values = [f.rule, f.subject, f.outcome, f.severity, f.enforcement, f.message or "", evidence_text(f),
              (f.waiver or {}).get("id") or "", f.location or "", f.remediation or "", f.note or ""]
    return [safe_cell(v) for v in values]


def render(report: Report, options: dict | None = None) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, dialect="excel", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in report.findings:
        writer.writerow(row(f))
    return BOM + buf.getvalue()


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("csv", render, ".csv", "CSV, one row per finding (Excel-safe)"))
