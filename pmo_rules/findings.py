"""The report of an audit run: pydantic models, versioned, the input of every format.

The JSON format writes exactly these models, so `REPORT_VERSION` changes whenever a field
changes meaning. Numbers in evidence stay exact `Decimal`s; `jsonout.dumps` prints their
digits as JSON numbers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPORT_VERSION = "1.0"
OUTCOME_ORDER = ("pass", "fail", "error", "waived", "not_applicable")


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)
    expr: str
    value: Any = None


class Finding(BaseModel):
    rule: str
    subject: str
    outcome: str
    severity: str
    enforcement: str
    message: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    waiver: dict[str, Any] | None = None
    location: str | None = None
    remediation: str | None = None
    note: str | None = None


class RuleSummary(BaseModel):
    title: str | None = None
    severity: str
    enforcement: str
    tags: list[str] = Field(default_factory=list)
    location: str
    counts: dict[str, int]
    description: str | None = None
    remediation: str | None = None
    ref: str | None = None


class Rejected(BaseModel):
    file: str
    record: int
    id: str | None = None
    field: str
    message: str


class DataSummary(BaseModel):
    sources: list[str] = Field(default_factory=list)
    records: dict[str, int] = Field(default_factory=dict)
    rejected: list[Rejected] = Field(default_factory=list)


class Report(BaseModel):
    version: str = REPORT_VERSION
    tool: str = "pmo-rules"
    tool_version: str = ""
    as_of: str
    blocking: bool = False
    summary: dict[str, RuleSummary]
    totals: dict[str, int]
    findings: list[Finding]
    waivers: list[dict[str, Any]] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    data: DataSummary = Field(default_factory=DataSummary)
    problems: list[str] = Field(default_factory=list)
    # Compliance per program and portfolio ("program" and "portfolio" lists, see rollups.py).
    rollups: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    # Name, program and portfolio of every project that has a finding (for drill-down).
    subjects: dict[str, dict[str, Any]] = Field(default_factory=dict)


# --- building many findings fast ----------------------------------------------------------
#
# A 100k-project audit has ~184k findings with ~590k pieces of evidence; validating each
# (all of whose values the evaluator already made right) took seconds. `trusted_finding` and
# `trusted_evidence` make the same objects as `Finding(**values)` / `Evidence(expr=, value=)`
# given every field, as `model_construct` does but without its per-call bookkeeping: the
# same `__dict__`, and every field set. All instances share one `fields_set` set: it holds
# every field, so pydantic's only change to it (adding the name of an assigned field) never
# changes it, and `model_copy` copies it. `tests/test_json_speed.py` checks them against the
# validating constructors.

_new = object.__new__
# BaseModel's slots, set through their descriptors: `object.__setattr__` would look each
# one up by name first (a quarter of the time of making 590,000 Evidence objects).
_set_dict, _set_fields_set, _set_extra, _set_private = (
    BaseModel.__dict__[name].__set__
    for name in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))
_EVIDENCE_FIELDS = set(Evidence.model_fields)
_FINDING_FIELDS = set(Finding.model_fields)


def trusted_evidence(expr: str, value: Any) -> Evidence:
    e = _new(Evidence)
    _set_dict(e, {"expr": expr, "value": value})
    _set_fields_set(e, _EVIDENCE_FIELDS)
    _set_extra(e, None)
    _set_private(e, None)
    return e


def trusted_finding(values: dict[str, Any]) -> Finding:
    """`values`: every field of `Finding`, in its order, already valid (it becomes the
    instance's `__dict__`)."""
    f = _new(Finding)
    _set_dict(f, values)
    _set_fields_set(f, _FINDING_FIELDS)
    _set_extra(f, None)
    _set_private(f, None)
    return f
