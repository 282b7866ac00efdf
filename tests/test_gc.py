"""A large run and Python's cyclic collector: nothing it must hunt, nothing it must walk.

The collector is paused while a run builds millions of objects (`gcpause`). When the pause
ends, the first collection walks every container made during it: so the plan must be
freed by reference counting (no cycle holding its join indexes), and a pause that built
many (a large load, evaluation or report) freezes them out of the collector's reach.
"""

from __future__ import annotations

import datetime as dt
import gc

from pmo_rules import api, gcpause
from pmo_rules.evaluate.compiled import Compiler
from pmo_rules.evaluate.engine import IndexedEvaluator, Plan
from pmo_rules.evaluate.indexes import JoinIndexes
from pmo_rules.generate import generate_portfolio, write_portfolio

AS_OF = dt.date(2026, 11, 26)


def _loaded(tmp_path, n=30):
    write_portfolio(generate_portfolio(n, seed=3), tmp_path)
    session = api.Session.create()
    program, _ = api.load_program([api.default_policies()], session)
    return program, api.load_data([tmp_path], session)


def test_an_evaluation_leaves_no_plan_for_the_cyclic_collector(tmp_path):
    program, loaded = _loaded(tmp_path)
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        evaluation = IndexedEvaluator(1).evaluate(program, loaded.snapshot, AS_OF)
        assert evaluation.results  # the library finds something in a generated portfolio
        gc.collect()
        left = [type(o) for o in gc.garbage if type(o) in (Compiler, Plan, JoinIndexes)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was:
            gc.enable()
    assert left == []


def test_a_large_report_is_frozen_out_of_the_collectors_reach(tmp_path, monkeypatch):
    program, loaded = _loaded(tmp_path)
    monkeypatch.setattr(gcpause, "FREEZE_OBJECTS", 10)
    before = gc.get_freeze_count()
    try:
        report = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(1))
        assert gc.get_freeze_count() > before
        young = {id(o) for o in gc.get_objects()}  # the permanent generation is not listed
        assert report.findings and not any(id(f) in young for f in report.findings)
    finally:
        gc.unfreeze()


def test_a_small_report_is_left_to_the_collector(tmp_path):
    program, loaded = _loaded(tmp_path, n=5)
    before = gc.get_freeze_count()
    report = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(1))
    assert gc.get_freeze_count() == before
    assert report.findings


def test_a_large_evaluation_is_frozen_out_of_the_collectors_reach(tmp_path, monkeypatch):
    program, loaded = _loaded(tmp_path)
    monkeypatch.setattr(gcpause, "FREEZE_OBJECTS", 10)
    before = gc.get_freeze_count()
    try:
        evaluation = IndexedEvaluator(1).evaluate(program, loaded.snapshot, AS_OF)
        assert gc.get_freeze_count() > before
        young = {id(o) for o in gc.get_objects()}
        assert evaluation.results and not any(id(r) in young for r in evaluation.results)
    finally:
        gc.unfreeze()
