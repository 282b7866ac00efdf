"""Risk metrics over a project's risk register (PMO-DOMAIN.md 2.5).

`risk_exposure` = the sum of `probability x impact` (expected value in money) over the
project's open threats: risks whose `status` is `open` (case and spaces ignored), leaving
out opportunities (an organisation field `type: "opportunity"`), which are counted
separately by the domain. Missing data is unknown, not zero: the result is null when any
open threat lacks a probability or an impact, or has a probability outside 0..1 (an
ordinal 1-5 score is not a probability; normalise it in the importer). A project with no
open threat has exposure 0.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec
from pmo_rules.values import DECIMAL_CONTEXT


def _is(value: object, text: str) -> bool:
    return isinstance(value, str) and value.strip().lower() == text


def risk_exposure(project: dict) -> Decimal | None:
    """Σ probability x impact over open threats; null if any lacks either; 0 when there are none."""
    risks = project.get("risks") or []
    if not isinstance(risks, list):
        return None
    total = Decimal(0)
    with decimal.localcontext(DECIMAL_CONTEXT):
        for r in risks:
            if not isinstance(r, dict) or not _is(r.get("status"), "open") or _is(r.get("type"), "opportunity"):
                continue
            p, i = r.get("probability"), r.get("impact")
            if not isinstance(p, Decimal) or not isinstance(i, Decimal) or not 0 <= p <= 1:
                return None
            total += p * i
    return total


METRICS = (
    FunctionSpec("risk_exposure", risk_exposure, ("project",), "number",
                 "Open risk exposure: sum of probability x impact over open risks (opportunities excluded)."
                 " Null when an open risk lacks a probability (0..1) or an impact; 0 when none is open.",
                 unit="money", kind="metric", inputs=("risks",)),
)


@hookimpl
def pmo_rules_metrics(register):
    for spec in METRICS:
        register(spec)
