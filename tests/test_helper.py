"""The worker child an evaluation keeps for the report's roll-ups (`evaluate/helper.py`).

It must answer as the parent would (same numbers, same decimal context), and anything
going wrong with it must cost nothing but time: the report is the one a single process
makes, and no process is left behind.
"""

from __future__ import annotations

import datetime as dt
import decimal
import multiprocessing
import os
import signal
import time

import pytest

from pmo_rules import api, rollups
from pmo_rules.evaluate import engine
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.generate import generate_portfolio
from pmo_rules.load import load_collections
from pmo_rules.resources import bundled

pytestmark = pytest.mark.skipif(not engine._fork_available(), reason="workers fork")

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()


@pytest.fixture(scope="module")
def library_run():
    program, _ = api.load_program([bundled("policies")], SESSION)
    return program, load_collections(generate_portfolio(80, seed=5))


def _report(program, loaded, workers):
    return api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(workers), include_passes=True).model_dump()


def precision(snapshot, extra):
    return decimal.getcontext().prec + extra, len(snapshot.projects)


def fails(snapshot):
    raise RuntimeError("boom")


def test_a_two_worker_evaluation_keeps_a_helper_and_one_worker_none(library_run):
    program, loaded = library_run
    one = IndexedEvaluator(1).evaluate(program, loaded.snapshot, AS_OF)
    two = IndexedEvaluator(2).evaluate(program, loaded.snapshot, AS_OF)
    assert one.helper is None and two.helper is not None
    two.helper.close()


def test_the_helper_answers_in_the_parents_decimal_context(library_run):
    program, loaded = library_run
    evaluation = IndexedEvaluator(2).evaluate(program, loaded.snapshot, AS_OF)
    with decimal.localcontext(decimal.Context(prec=41)):
        assert evaluation.helper.submit(precision, 1)
    assert evaluation.helper.result() == (True, (42, 80))


def test_the_helpers_roll_ups_are_the_parents(library_run, monkeypatch):
    program, loaded = library_run
    expected = _report(program, loaded, 1)
    evaluation = IndexedEvaluator(2).evaluate(program, loaded.snapshot, AS_OF, include_passes=True)

    def not_here(*args):
        raise AssertionError("computed by the parent, not the helper")

    monkeypatch.setattr(rollups, "compute_with_subjects", not_here)  # here only: the child forked before
    report = api.build_report(program, evaluation, loaded, AS_OF, []).model_dump()
    assert report["rollups"] == expected["rollups"] and report["rollups"]["program"]
    assert report["subjects"] == expected["subjects"] and report["subjects"]


def test_a_helper_that_raises_or_dies_costs_nothing_but_time(library_run, monkeypatch):
    program, loaded = library_run
    expected = _report(program, loaded, 1)
    monkeypatch.setattr(rollups, "of_snapshot", fails)
    assert _report(program, loaded, 2) == expected
    evaluation = IndexedEvaluator(2).evaluate(program, loaded.snapshot, AS_OF)
    os.kill(evaluation.helper._proc.pid, signal.SIGKILL)
    evaluation.helper._proc.join()
    assert api.build_report(program, evaluation, loaded, AS_OF, []).model_dump()["rollups"] == expected["rollups"]


def _children_after(seconds: float) -> list:
    """The live children once those ending have ended (nobody waits for a helper to end)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = multiprocessing.active_children()  # reaps those that have ended
        if len(alive) <= 1 or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def test_no_child_is_left_behind(library_run):
    program, loaded = library_run
    evaluation = IndexedEvaluator(3).evaluate(program, loaded.snapshot, AS_OF)
    proc = evaluation.helper._proc
    assert _children_after(10) == [proc]  # the third worker has ended, the helper waits
    del evaluation  # an unused helper ends with its evaluation
    proc.join(10)
    assert not proc.is_alive() and _children_after(10) == []
