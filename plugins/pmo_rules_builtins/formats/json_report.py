"""The JSON report: the versioned, machine-readable record of an audit (SPEC 5).

Deterministic: findings sorted by rule and subject, keys in model order, numbers printed
with their exact decimal digits.
"""

from __future__ import annotations

from pmo_rules import hookimpl
from pmo_rules.findings import Report
from pmo_rules.jsonout import dumps
from pmo_rules.registry import FormatSpec


def report_dict(report: Report) -> dict:
    data = report.model_dump(mode="python", exclude_none=False)
    for f in data["findings"]:
        for key in ("waiver", "remediation", "note"):
            if f.get(key) is None:
                f.pop(key, None)
    return data


def render(report: Report, options: dict | None = None) -> str:
    return dumps(report_dict(report)) + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("json", render, ".json", "Versioned JSON report (exact decimals)"))
