"""The run's metric cache keys a record or list argument by identity (`metric_key`).

An id names an object only while the object lives. A worker's view items die with its
chunk, and a list a rule builds dies with the call; the next object made often takes the
same address. Before the cache kept what it keyed (`MetricCache.pins`), a plugin metric
over risks gave a later chunk's risk the result of an earlier, dead one: with 2 workers,
432 failures where there are 429.
"""

from __future__ import annotations

import datetime as dt

import pytest

import pmo_rules
from pmo_rules import api
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.load import load_collections
from pmo_rules.registry import FunctionSpec

AS_OF = dt.date(2026, 11, 26)


def _impact(record):
    return record.get("impact")


def _spread(values):
    return max(values) - min(values)


METRICS = (
    FunctionSpec("impact_of", _impact, ("record",), "number", "A risk's impact.", kind="metric"),
    FunctionSpec("spread", _spread, ("list",), "number", "Largest minus smallest.", kind="metric"),
)


class _Metrics:
    @pmo_rules.hookimpl
    def pmo_rules_metrics(self, register):
        for spec in METRICS:
            register(spec)


SESSION = api.Session.create(entry_points="builtin", extra=(("test_metrics", _Metrics()),))

POLICY = """package t

rule small-risks {
    severity low
    for r in risks
    require impact_of(r) < 500 else "{r.id} is too big"
}

rule narrow-budget {
    severity low
    for p in projects
    require spread([p.budget.approved, p.budget.actual_cost]) < 50 else "{p.id} overran"
}
"""


def _portfolio(n: int) -> dict:
    return {"projects": [
        {"id": f"PRJ-{i:05d}", "budget": {"approved": 100, "actual_cost": 100 + (i % 5) * 20},
         "risks": [{"id": f"R-{i}", "impact": 1000 if i % 7 == 0 else 10}]}
        for i in range(n)]}


def _program():
    program, diags = api.check_text(POLICY, SESSION, "t.pmo")
    assert program is not None, diags
    return program


def _expected(n: int) -> dict:
    return {"t.small-risks": {"fail": len(range(0, n, 7)), "pass": n - len(range(0, n, 7))},
            "t.narrow-budget": {"fail": 2 * n // 5, "pass": n - 2 * n // 5}}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_metric_over_view_items_is_not_handed_a_dead_items_result(workers):
    program = _program()
    loaded = load_collections(_portfolio(3000))  # fresh: no whole view built by another evaluator
    evaluation = IndexedEvaluator(workers).evaluate(program, loaded.snapshot, AS_OF)
    assert {rule: dict(c) for rule, c in evaluation.counts.items()} == _expected(3000)


def test_the_reference_never_hands_a_list_a_rule_builds_a_dead_lists_result():
    program = _program()
    loaded = load_collections(_portfolio(500))
    evaluation = ReferenceEvaluator().evaluate(program, loaded.snapshot, AS_OF)
    assert {rule: dict(c) for rule, c in evaluation.counts.items()} == _expected(500)
