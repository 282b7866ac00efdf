"""The JSON report: the versioned, machine-readable record of an audit (SPEC 5).

Deterministic: findings sorted by rule and subject, keys in model order, numbers printed
with their exact decimal digits. `report.schema.json` next to this module is the JSON
Schema (2020-12) of this output (`pmo-rules schema report` prints it). It is written by
hand rather than generated from the pydantic models, because `Report.model_json_schema()`
knows nothing of the outcome, severity and enforcement vocabularies, of which finding
fields are left out when empty, or of the shape of waivers, roll-ups and subjects (plain
dicts in the model); `tests/test_report_schema.py` checks that the two stay in step.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from importlib import resources
from typing import Any

from pmo_rules import hookimpl
from pmo_rules.findings import Evidence, Finding, Report
from pmo_rules.jsonout import (
    SURROGATE,
    Unsupported,
    decimal_text,
    dumps,
    encode,
    float_text,
    string,
    surrogate_escape,
    writer,
)
from pmo_rules.registry import FormatSpec

SCHEMA_FILE = "report.schema.json"


def report_schema_text() -> str:
    """The JSON Schema of the JSON report, as stored."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def report_schema() -> dict[str, Any]:
    return json.loads(report_schema_text())


def report_dict(report: Report) -> dict:
    data = report.model_dump(mode="python", exclude_none=False)
    for f in data["findings"]:
        for key in ("waiver", "remediation", "note"):
            if f.get(key) is None:
                f.pop(key, None)
    return data


def render(report: Report, options: dict | None = None) -> str:
    return report_json(report, end="\n")


# --- the fast path --------------------------------------------------------------------
#
# `report_json(report)` is exactly `dumps(report_dict(report))`, written without dumping the
# findings (a 100k-project audit has ~184k of them, ~150 MB of JSON) to dicts first: each
# finding is written from its model in a few pieces, the pieces that repeat (a rule's id,
# outcome, severity, location, remediation, an evidence expression) encoded once per run.
# Where a finding holds a value of a type `jsonout` does not handle exactly (see `writer`'s
# `strict`), that finding is dumped by pydantic as before, since `model_dump` may turn such a
# value into another (a dataclass into a dict, say); a report that is not made of exactly
# these models is written the old way altogether. `tests/test_json_speed.py` checks the
# equality, on real reports and random ones.

_FINDING_FIELDS = ("rule", "subject", "outcome", "severity", "enforcement", "message", "evidence", "waiver",
                   "location", "remediation", "note")
_DROPPED_IF_NONE = ("waiver", "remediation", "note")
_write = writer(2)
_write_strict = writer(2, strict=True)


class _NotTheModels(Exception):
    """The report holds something other than `Finding`s in its findings."""


def _fast_path_applies() -> bool:
    return tuple(Finding.model_fields) == _FINDING_FIELDS and tuple(Evidence.model_fields) == ("expr", "value")


def report_json(report: Report, end: str = "") -> str:
    """`jsonout.dumps(report_dict(report)) + end` (`end` added here: at 100k projects the
    text is 150M characters, too many to copy again)."""
    return "".join(report_parts(report, end))


def render_parts(report: Report, options: dict | None = None) -> list[str]:
    """The report as pieces to write one after the other (`FormatSpec.render_parts`): at
    100k projects the joined text would be another 150M characters (600 MB of memory when
    one name holds an emoji)."""
    return report_parts(report, "\n")


def report_parts(report: Report, end: str = "") -> list[str]:
    findings = getattr(report, "findings", None)
    if type(report) is not Report or type(findings) is not list or not _fast_path_applies():
        return [dumps(report_dict(report)) + end]
    data = report.model_dump(mode="python", exclude={"findings", "subjects"})
    if list(data) != [name for name in Report.model_fields if name not in ("findings", "subjects")]:
        return [dumps(report_dict(report)) + end]  # fields left out or computed ones: not the shape known here
    out: list[str] = []
    lead = "{\n  "
    for name in Report.model_fields:
        out.append(lead + string(name) + ": ")
        lead = ",\n  "
        if name == "findings":
            try:
                _write_findings(findings, out)
            except _NotTheModels:
                return [dumps(report_dict(report)) + end]
        elif name == "subjects":
            try:
                out.append(_subjects_text(report.subjects))
            except Unsupported:
                _write(report.model_dump(mode="python", include={"subjects"})["subjects"], out, 1)
        else:
            _write(data[name], out, 1)
    out.append("\n}" + end)
    return out


def _write_findings(findings: list[Finding], out: list[str]) -> None:
    if not findings:
        out.append("[]")
        return
    text = _finding_writer()
    lead = "[\n    "
    for f in findings:
        if type(f) is not Finding:
            raise _NotTheModels
        out.append(lead)
        lead = ",\n    "
        try:
            out.append(text(f))
        except (Unsupported, KeyError):
            data = f.model_dump(mode="python", exclude_none=False)
            for key in _DROPPED_IF_NONE:
                if data.get(key) is None:
                    data.pop(key, None)
            _write(data, out, 2)
    out.append("\n  ]")


_SUBJECT_KEYS = ("name", "program", "portfolio")
_SUBJECT = '%s\n    %s: {\n      "name": %s,\n      "program": %s,\n      "portfolio": %s\n    }'


def _text_or_null(value) -> str:
    if type(value) is str:
        return encode(value)
    if value is None:
        return "null"
    raise Unsupported(value)


def _subjects_text(subjects: dict) -> str:
    """The subjects (1 level deep): {project id: {"name": ..., ...}}, values text or null;
    `Unsupported` for anything else."""
    if type(subjects) is not dict:
        raise Unsupported(subjects)
    if not subjects:
        return "{}"
    keys: dict[str, str] = {}  # key -> '"key": ' (indented)
    entries = ["{"]
    lead = ""
    for pid, about in subjects.items():
        if type(pid) is not str or type(about) is not dict:
            raise Unsupported(pid)
        if tuple(about) == _SUBJECT_KEYS:  # as `rollups.subjects` makes them
            name, program, portfolio = about.values()
            entries.append(_SUBJECT % (lead, encode(pid), encode(name) if type(name) is str else _text_or_null(name),
                                       encode(program) if type(program) is str else _text_or_null(program),
                                       encode(portfolio) if type(portfolio) is str else _text_or_null(portfolio)))
        elif not about:
            entries.append(f"{lead}\n    {encode(pid)}: {{}}")
        else:
            parts = [f"{lead}\n    {encode(pid)}: {{"]
            comma = ""
            for k, v in about.items():
                prefix = keys.get(k) if type(k) is str else None
                if prefix is None:
                    if type(k) is not str:
                        raise Unsupported(k)
                    prefix = keys[k] = "\n      " + encode(k) + ": "
                parts.append(comma + prefix + _text_or_null(v))
                comma = ","
            parts.append("\n    }")
            entries.append("".join(parts))
        lead = ","
    entries.append("\n  }")
    text = "".join(entries)
    if not text.isascii() and SURROGATE.search(text):
        text = SURROGATE.sub(surrogate_escape, text)
    return text


def _finding_writer():
    """`text(finding)`: one finding as it appears in the report's list (2 levels deep);
    `Unsupported` for a value that must go through pydantic."""
    str_type, dec_type, int_type, float_type, date_type = str, Decimal, int, float, dt.date
    int_repr = int.__repr__

    def opt(value) -> str:  # a `str | None` field
        if type(value) is str_type:
            return string(value)
        if value is None:
            return "null"
        raise Unsupported(value)

    # (rule, outcome, severity, enforcement, location, remediation) -> the text around the
    # subject and message: '{ "rule": ..., "subject": ', ', "outcome": ... "message": ',
    # ', "location": ..., "remediation": ...', and that closed (no waiver, no note).
    shapes: dict[tuple, tuple[str, str, str, str]] = {}
    exprs: dict[str, str] = {}  # evidence expression -> '{ "expr": ..., "value": '

    def shape(key: tuple) -> tuple[str, str, str, str]:
        rule, outcome, severity, enforcement, location, remediation = key
        where = ',\n      "location": ' + opt(location)
        if remediation is not None:
            where += ',\n      "remediation": ' + opt(remediation)
        made = shapes[key] = (
            '{\n      "rule": ' + opt(rule) + ',\n      "subject": ',
            ',\n      "outcome": ' + opt(outcome) + ',\n      "severity": ' + opt(severity) +
            ',\n      "enforcement": ' + opt(enforcement) + ',\n      "message": ',
            where, where + "\n    }")
        return made

    def text(f: Finding) -> str:
        d = f.__dict__
        rule, outcome, severity, enforcement = d["rule"], d["outcome"], d["severity"], d["enforcement"]
        location, remediation = d["location"], d["remediation"]
        if not (type(rule) is type(outcome) is type(severity) is type(enforcement) is str_type
                and (type(location) is str_type or location is None)
                and (type(remediation) is str_type or remediation is None)):
            raise Unsupported(f)
        key = (rule, outcome, severity, enforcement, location, remediation)
        head, mid, where, where_end = shapes.get(key) or shape(key)
        subject, message = d["subject"], d["message"]
        parts = [head, encode(subject) if type(subject) is str_type else opt(subject), mid,
                 encode(message) if type(message) is str_type else opt(message), ',\n      "evidence": ']
        evidence = d["evidence"]
        if type(evidence) is not list:
            raise Unsupported(evidence)
        if evidence:
            lead = "["
            for e in evidence:
                if type(e) is not Evidence:
                    raise Unsupported(e)
                ed = e.__dict__
                expr = ed["expr"]
                pre = exprs.get(expr) if type(expr) is str_type else None
                if pre is None:
                    pre = exprs[expr] = '\n        {\n          "expr": ' + opt(expr) + ',\n          "value": '
                v = ed["value"]
                t = type(v)
                if t is dec_type:
                    value = decimal_text(v)
                elif t is str_type:
                    value = encode(v)
                elif v is None:
                    value = "null"
                elif v is True:
                    value = "true"
                elif v is False:
                    value = "false"
                elif t is int_type:
                    value = int_repr(v)
                elif t is float_type:
                    value = float_text(v)
                elif t is date_type:
                    value = f'"{v.isoformat()}"'
                else:
                    nested: list[str] = []
                    _write_strict(v, nested, 5)
                    value = "".join(nested)
                parts.append(f"{lead}{pre}{value}\n        }}")
                lead = ","
            parts.append("\n      ]")
        else:
            parts.append("[]")
        waiver, note = d["waiver"], d["note"]
        if waiver is None and note is None:
            parts.append(where_end)
        else:
            if waiver is not None:
                parts.append(',\n      "waiver": ')
                _write_strict(waiver, parts, 3)
            parts.append(where)
            if note is not None:
                parts.append(',\n      "note": ' + opt(note))
            parts.append("\n    }")
        text = "".join(parts)
        if not text.isascii() and SURROGATE.search(text):
            # `encode` (above) leaves a lone surrogate as it is; `jsonout.string` (the cached
            # pieces) writes it as its escape. They only occur inside strings: one pass does.
            text = SURROGATE.sub(surrogate_escape, text)
        return text

    return text


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("json", render, ".json", "Versioned JSON report (exact decimals)", render_parts=render_parts))
