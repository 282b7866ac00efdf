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

import json
from importlib import resources
from typing import Any

from pmo_rules import hookimpl
from pmo_rules.findings import Report
from pmo_rules.jsonout import dumps
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
    return dumps(report_dict(report)) + "\n"


@hookimpl
def pmo_rules_formats(register):
    register(FormatSpec("json", render, ".json", "Versioned JSON report (exact decimals)"))
