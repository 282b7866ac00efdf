"""The JUnit XML report: audit findings as test results for CI dashboards.

Layout (valid against both the strict Apache Ant schema, windyroad `JUnit.xsd`, and the
lenient Jenkins xUnit `junit-10.xsd`):

- `<testsuites>` (no attributes: the Ant schema allows none) holds one `<testsuite>` per
  policy package (`governance`, `risk`, ...: the rule id before its first `.`), with the
  attributes Ant requires: `package`, `id`, `hostname`, `timestamp` and counts.
- One `<testcase classname="RULE" name="SUBJECT">` per failing, erroring or waived subject:
  `<failure type="PolicyViolation">`, `<error type="EvaluationError">`, or `<skipped>`
  whose message is the waiver's id and justification. The body text holds the message,
  the policy location, the evidence and the remediation.
- One passing `<testcase>` per rule that had no failures and no errors, so CI shows that
  the rule ran (its name, `no failures (N checked, M not applicable)`, says how much it checked).

Deterministic: the timestamp is the audit's as-of date at `T00:00:00` (never the wall
clock), every `time` is `0`, the hostname is the constant `pmo-rules`, and suites and
cases are sorted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from pmo_rules import hookimpl
from pmo_rules.findings import Finding, Report
from pmo_rules.registry import FormatSpec
from pmo_rules.values import display

HOSTNAME = "pmo-rules"
FAILURE_TYPE = "PolicyViolation"
ERROR_TYPE = "EvaluationError"
REPORTED = ("fail", "error", "waived")

# Characters XML 1.0 cannot carry at all (even as character references).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(value: object) -> str:
    """Text safe for an XML 1.0 document: forbidden characters are written as `\\xNN`."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 256
                        else f"\\u{ord(m.group(0)):04x}", str(value))


def package_of(rule_id: str) -> str:
    return rule_id.split(".", 1)[0]


def _body(f: Finding) -> str:
    lines = [f"{f.outcome}: {f.message or ''}".rstrip(),
             f"rule: {f.rule} (severity {f.severity}, enforcement {f.enforcement})",
             f"subject: {f.subject}"]
    if f.location:
        lines.append(f"at: {f.location}")
    if f.evidence:
        lines.append("evidence:")
        lines.extend(f"  {e.expr} = {display(e.value)}" for e in f.evidence)
    if f.waiver:
        w = f.waiver
        lines.append(f"waived by {w.get('id')} (approved by {w.get('approved_by')}, expires {w.get('expires')}): "
                     f"{w.get('reason')}")
    if f.note:
        lines.append(f"note: {f.note}")
    if f.remediation:
        lines.append(f"remediation: {f.remediation}")
    return _x("\n".join(lines) + "\n")


def _testcase(parent: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(parent, "testcase", {"name": _x(name), "classname": _x(classname), "time": "0"})


def build(report: Report) -> ET.Element:
    timestamp = f"{report.as_of}T00:00:00"
    by_rule: dict[str, list[Finding]] = {}
    for f in report.findings:
        if f.outcome in REPORTED:
            by_rule.setdefault(f.rule, []).append(f)
    packages: dict[str, list[str]] = {}
    for rule_id in sorted(set(report.summary) | set(by_rule)):
        packages.setdefault(package_of(rule_id), []).append(rule_id)

    root = ET.Element("testsuites")
    for suite_id, (pkg, rule_ids) in enumerate(sorted(packages.items())):
        suite = ET.SubElement(root, "testsuite", {
            "name": _x(pkg), "package": _x(pkg), "id": str(suite_id), "hostname": HOSTNAME,
            "timestamp": timestamp, "tests": "0", "failures": "0", "errors": "0", "skipped": "0", "time": "0",
        })
        props = ET.SubElement(suite, "properties")
        for name, value in [("pmo-rules.version", report.tool_version or "unknown"), ("as_of", report.as_of),
                            ("report.version", report.version)]:
            ET.SubElement(props, "property", {"name": name, "value": _x(value)})
        for name, value in sorted(report.params.items()):
            if package_of(name) == pkg:
                ET.SubElement(props, "property", {"name": _x(f"param.{name}"), "value": _x(display(value))})
        tests = failures = errors = skipped = 0
        for rule_id in rule_ids:
            findings = sorted(by_rule.get(rule_id, []), key=lambda f: f.subject)
            for f in findings:
                case = _testcase(suite, rule_id, f.subject)
                tests += 1
                text = _body(f)
                if f.outcome == "fail":
                    failures += 1
                    el = ET.SubElement(case, "failure", {"message": _x(f.message or f"{rule_id} failed"),
                                                         "type": FAILURE_TYPE})
                elif f.outcome == "error":
                    errors += 1
                    el = ET.SubElement(case, "error", {"message": _x(f.message or f"{rule_id} could not be decided"),
                                                       "type": ERROR_TYPE})
                else:
                    skipped += 1
                    w = f.waiver or {}
                    el = ET.SubElement(case, "skipped", {"message": _x(
                        f"waived by {w.get('id')}: {w.get('reason')} (approved by {w.get('approved_by')}, "
                        f"expires {w.get('expires')})")})
                el.text = text
            counts = report.summary[rule_id].counts if rule_id in report.summary else {}
            if not any(f.outcome in ("fail", "error") for f in findings) and not counts.get("fail") \
                    and not counts.get("error"):
                checked = sum(counts.get(o, 0) for o in ("pass", "fail", "error", "waived"))
                na = counts.get("not_applicable", 0)
                _testcase(suite, rule_id, f"no failures ({checked} checked, {na} not applicable)")
                tests += 1
        suite.set("tests", str(tests))
        suite.set("failures", str(failures))
        suite.set("errors", str(errors))
        suite.set("skipped", str(skipped))
        ET.SubElement(suite, "system-out")
        ET.SubElement(suite, "system-err")
    return root


def render(report: Report, options: dict | None = None) -> str:
    root = build(report)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("junit", render, ".xml",
                        "JUnit XML (Ant/Jenkins): a suite per package, a test case per failing subject"))
