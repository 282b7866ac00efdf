"""Evaluation limits: a rule that runs too long (even inside a hanging plugin) becomes
`error` outcomes naming the rule; the audit completes."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from pmo_rules import api, hookimpl
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.limits import enforceable
from pmo_rules.registry import FunctionSpec

pytestmark = pytest.mark.skipif(not enforceable(), reason="time limits need SIGALRM in the main thread")

POLICY = """
package lim

rule slow {
    for project in projects
    require hang(project.id) == "x"
}

rule quick {
    for project in projects
    require project.id is present
}
"""
DATA = {"projects": [{"id": f"P{i}"} for i in range(4)]}


class HangingPlugin:
    @hookimpl
    def pmo_rules_functions(self, register):
        register(FunctionSpec("hang", lambda text: time.sleep(1000), ("text",), "text", "Never returns."))


@pytest.fixture(scope="module")
def session():
    return api.Session.create(extra=(("hanging", HangingPlugin()),))


def _findings(session, evaluator):
    report = api.audit_text(POLICY, DATA, dt.date(2026, 11, 26), session=session, evaluator=evaluator)
    return {(f.rule, f.subject): f for f in report.findings}, report


def test_a_hanging_plugin_is_stopped_by_the_rule_limit(session):
    t0 = time.monotonic()
    found, report = _findings(session, IndexedEvaluator(1, rule_seconds=0.5))
    assert time.monotonic() - t0 < 10
    slow = [f for (rule, _), f in found.items() if rule == "lim.slow"]
    assert len(slow) == 4 and all(f.outcome == "error" for f in slow)
    assert "rule `lim.slow` exceeded its time limit of 0.5 s" in slow[0].message
    assert report.summary["lim.slow"].counts["error"] == 4
    assert report.summary["lim.quick"].counts["pass"] == 4  # the rest of the audit completed


def test_the_run_budget_stops_the_rest(session):
    found, report = _findings(session, IndexedEvaluator(1, run_seconds=0.5))
    assert report.summary["lim.slow"].counts["error"] == 4
    assert "evaluation budget" in found[("lim.slow", "P0")].message
    assert report.summary["lim.quick"].counts["error"] == 4  # no budget left for it


def test_without_limits_nothing_changes():
    report = api.audit_text(POLICY.replace("hang(project.id)", "project.id"), DATA, dt.date(2026, 11, 26),
                            evaluator=IndexedEvaluator(1, rule_seconds=30))
    assert report.totals["error"] == 0
