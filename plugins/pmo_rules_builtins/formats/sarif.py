"""The SARIF 2.1.0 report: findings for code-scanning tools (GitHub, Azure DevOps, IDEs).

One run; `tool.driver` is `pmo-rules` with one `rules` entry per policy rule (id, a
PascalCase `name`, `shortDescription` = title, `fullDescription` = the rule's
`description` (else a line made of title, severity, enforcement and location), `help` =
the rule's `remediation` (else the first finding's), `helpUri` when the rule's `ref` is an
http(s) URL, `defaultConfiguration.level`, and `properties` with severity, enforcement,
tags, outcome counts and `ref`).

Each `fail`, `error` and `waived` finding is one result (passes and not-applicable checks
are counted in the rule's properties, not listed):

| outcome | kind   | level                                                      |
|---------|--------|------------------------------------------------------------|
| fail    | `fail` | critical, high -> `error`; medium, low -> `warning`; info -> `note` |
| waived  | `fail` | as for fail, plus `suppressions: [{kind: external, status: accepted, justification}]` |
| error   | `fail` | always `error`: the rule could not be decided (missing or bad data), which blocks the run (exit 3) and must not be hidden. (SARIF's `review` kind would force level `none`, which most viewers do not show.) `properties.outcome` is `error`. |

Locations: the physical location is the policy file, line and column of the deciding
`require` (`Finding.location`, `file:line:col`); the logical location is the subject
(`kind: object`; `fullyQualifiedName` is `COLLECTION/ID` when the report knows the
subject's collection, else the id). `properties` carry the outcome, severity,
enforcement, evidence (exact numbers), remediation and note.

As SARIF requires (3.11.5), literal `{` and `}` in result message text are doubled.
Deterministic: sorted results, no timestamps, no GUIDs; `partialFingerprints` hash the
rule and subject so that a result keeps its identity when a policy line moves.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import quote

from pmo_rules import hookimpl
from pmo_rules.findings import Finding, Report
from pmo_rules.jsonout import dumps
from pmo_rules.registry import FormatSpec

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL_BY_SEVERITY = {"critical": "error", "high": "error", "medium": "warning", "low": "warning", "info": "note"}
REPORTED = ("fail", "error", "waived")
_SURROGATE = re.compile("[\ud800-\udfff]")
_HTTP_URL = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
_LOCATION = re.compile(r"^(?P<file>.*):(?P<line>\d+):(?P<col>\d+)$")


def level_of(finding: Finding) -> str:
    if finding.outcome == "error":
        return "error"
    return LEVEL_BY_SEVERITY.get(finding.severity, "warning")


def _pascal(rule_id: str) -> str:
    local = rule_id.split(".", 1)[-1]
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", local) if p) or rule_id


def _uri(path: str) -> str:
    p = path.replace("\\", "/")
    safe = "/:@!$&'()*+,;=-._~"
    if re.match(r"^[A-Za-z]:/", p):
        return "file:///" + quote(p, safe=safe)
    if p.startswith("/"):
        return "file://" + quote(p, safe=safe)
    return quote(p, safe=safe)


def _physical(location: str) -> dict[str, Any]:
    m = _LOCATION.match(location)
    if not m:
        return {"artifactLocation": {"uri": _uri(location)}}
    region: dict[str, Any] = {"startLine": max(1, int(m["line"]))}
    if int(m["col"]) >= 1:
        region["startColumn"] = int(m["col"])
    return {"artifactLocation": {"uri": _uri(m["file"])}, "region": region}


def _subjects(report: Report, options: dict) -> dict[str, dict]:
    found = getattr(report, "subjects", None) or {}
    extra = options.get("subjects") or {}
    out = {str(k): (v.model_dump() if hasattr(v, "model_dump") else dict(v)) for k, v in dict(found).items()}
    out.update({str(k): dict(v) for k, v in dict(extra).items()})
    return out


def _msg(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _rule(rule_id: str, report: Report, remediation: str | None) -> dict[str, Any]:
    s = report.summary.get(rule_id)
    if s is None:
        return {"id": rule_id, "name": _pascal(rule_id), "shortDescription": {"text": rule_id}}
    title = s.title or rule_id
    full = s.description or f"{title} (severity {s.severity}, enforcement {s.enforcement}; defined at {s.location})"
    remediation = s.remediation or remediation
    d: dict[str, Any] = {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": title},
        "fullDescription": {"text": full},
    }
    if remediation:
        d["help"] = {"text": remediation}
    if s.ref and _HTTP_URL.match(s.ref):
        d["helpUri"] = s.ref
    d["defaultConfiguration"] = {"level": LEVEL_BY_SEVERITY.get(s.severity, "warning")}
    d["properties"] = {
        "tags": sorted(set(s.tags)),
        "severity": s.severity,
        "enforcement": s.enforcement,
        "package": rule_id.split(".", 1)[0],
        "counts": dict(s.counts),
    }
    if s.ref:
        d["properties"]["ref"] = s.ref
    return d


def _result(f: Finding, rule_index: int, subjects: dict[str, dict]) -> dict[str, Any]:
    text = f.message or (f"{f.rule} could not be decided for {f.subject}" if f.outcome == "error"
                         else f"{f.rule} failed for {f.subject}")
    info = subjects.get(f.subject) or {}
    coll = info.get("collection") or info.get("kind")
    logical = {"name": f.subject, "fullyQualifiedName": f"{coll}/{f.subject}" if coll else f.subject,
               "kind": "object"}
    location: dict[str, Any] = {}
    if f.location:
        location["physicalLocation"] = _physical(f.location)
    location["logicalLocations"] = [logical]
    r: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": level_of(f),
        "message": {"text": _msg(text)},
        "locations": [location],
        "partialFingerprints": {
            "pmoRulesSubject/v1": hashlib.sha256(f"{f.rule}\x00{f.subject}".encode("utf-8", "surrogatepass")).hexdigest()[:32],
        },
    }
    if f.outcome == "waived" and f.waiver:
        w = f.waiver
        r["suppressions"] = [{
            "kind": "external",
            "status": "accepted",
            "justification": f"{w.get('id')}: {w.get('reason')} (approved by {w.get('approved_by')}, "
                             f"expires {w.get('expires')})",
            "properties": {"waiver": w.get("id"), "approvedBy": w.get("approved_by"), "expires": w.get("expires")},
        }]
    props: dict[str, Any] = {
        "outcome": f.outcome,
        "severity": f.severity,
        "enforcement": f.enforcement,
        "subject": f.subject,
        "evidence": [{"expr": e.expr, "value": e.value} for e in f.evidence],
    }
    if f.remediation:
        props["remediation"] = f.remediation
    if f.note:
        props["note"] = f.note
    r["properties"] = props
    return r


def build(report: Report, options: dict | None = None) -> dict[str, Any]:
    options = options or {}
    findings = sorted((f for f in report.findings if f.outcome in REPORTED),
                      key=lambda f: (f.rule, f.subject, f.outcome))
    remediation: dict[str, str] = {}
    for f in report.findings:
        if f.remediation and f.rule not in remediation:
            remediation[f.rule] = f.remediation
    rule_ids = sorted(set(report.summary) | {f.rule for f in findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    subjects = _subjects(report, options)
    notifications = [{"level": "warning", "message": {"text": p}} for p in report.problems]
    for rej in report.data.rejected:
        ident = f" (id {rej.id})" if rej.id else ""
        notifications.append({"level": "warning", "message": {
            "text": f"invalid data record: {rej.file}, record {rej.record}{ident}, field `{rej.field}`: {rej.message}"}})
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver: dict[str, Any] = {
        "name": "pmo-rules",
        "fullName": "pmo-rules policy-as-code audit",
        "version": report.tool_version or "unknown",
        "rules": [_rule(rid, report, remediation.get(rid)) for rid in rule_ids],
    }
    if options.get("information_uri"):
        driver["informationUri"] = str(options["information_uri"])
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule], subjects) for f in findings],
        "properties": {
            "asOf": report.as_of,
            "reportVersion": report.version,
            "blocking": report.blocking,
            "totals": dict(report.totals),
            "params": dict(sorted(report.params.items())),
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, options: dict | None = None) -> str:
    # A lone surrogate (possible in JSON input) cannot be written as UTF-8: keep it as a JSON escape.
    text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", dumps(build(report, options)))
    return text + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("sarif", render, ".sarif", "SARIF 2.1.0 for code-scanning tools"))
