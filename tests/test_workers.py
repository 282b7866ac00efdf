"""`--workers N`: chunks shared out through a counter, a child that dies, limits per worker.

Workers take chunks of every rule's subjects until none is left. Whatever the split,
the evaluation must be the one-worker evaluation, in the same order; a child that dies
must lose nothing; and a rule's time limit must hold over all the chunks a worker
evaluates, not restart with each chunk.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from test_limits import POLICY, HangingPlugin

from pmo_rules import api
from pmo_rules.evaluate import engine
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.generate import generate_portfolio
from pmo_rules.limits import enforceable
from pmo_rules.load import load_collections
from pmo_rules.resources import bundled

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()


@pytest.fixture(scope="module")
def library_run():
    program, _ = api.load_program([bundled("policies")], SESSION)
    loaded = load_collections(generate_portfolio(120, seed=7))
    return program, loaded


def _evaluate(program, loaded, workers):
    return IndexedEvaluator(workers).evaluate(program, loaded.snapshot, AS_OF, include_passes=True)


def _flat(evaluation):
    """Results rule by rule in the rules' order, and within a rule by subject (verdicts
    and the full evaluator decide a rule's subjects in two passes, so their order within
    a rule depends on where chunks begin)."""
    rules = list(dict.fromkeys(r.rule for r in evaluation.results))
    results = [(r.rule, r.subject, r.outcome, r.message, r.evidence, r.location) for r in evaluation.results]
    assert [r[0] for r in results] == sorted((r[0] for r in results), key=rules.index), "not rule by rule"
    return (sorted(results, key=lambda r: (rules.index(r[0]), r[1])),
            {k: dict(v) for k, v in evaluation.counts.items()}, dict(evaluation.passes))


@pytest.mark.skipif(not engine._fork_available(), reason="workers fork")
def test_two_and_three_workers_give_one_workers_evaluation(library_run):
    program, loaded = library_run
    one = _flat(_evaluate(program, loaded, 1))
    assert one[0], "the library fails somewhere on generated data"
    assert _flat(_evaluate(program, loaded, 2)) == one
    assert _flat(_evaluate(program, loaded, 3)) == one


@pytest.mark.skipif(not engine._fork_available(), reason="workers fork")
def test_chunks_a_dead_child_claimed_are_evaluated_by_the_parent(library_run, monkeypatch):
    program, loaded = library_run
    one = _flat(_evaluate(program, loaded, 1))

    def dies_after_claiming(job, counter, conn, requests):
        for _ in range(3):  # takes three chunks, then dies before sending anything
            engine._claim(counter, job.chunks)
        os._exit(1)

    monkeypatch.setattr(engine, "_child", dies_after_claiming)
    assert _flat(_evaluate(program, loaded, 2)) == one


@pytest.mark.skipif(not (enforceable() and engine._fork_available()), reason="limits need SIGALRM; workers fork")
def test_a_rule_limit_holds_over_all_the_chunks_of_a_worker():
    session = api.Session.create(extra=(("hanging", HangingPlugin()),))
    data = {"projects": [{"id": f"P{i:02d}"} for i in range(64)]}
    t0 = time.monotonic()
    report = api.audit_text(POLICY, data, AS_OF, session=session,
                            evaluator=IndexedEvaluator(2, rule_seconds=0.5))
    elapsed = time.monotonic() - t0
    # Each worker spends at most 0.5 s on the verdicts and 0.5 s on `lim.slow` in all;
    # a limit restarting with every chunk (8 a worker) would take 8 s and more.
    assert elapsed < 5, elapsed
    slow = [f for f in report.findings if f.rule == "lim.slow"]
    assert len(slow) == 64 and all(f.outcome == "error" for f in slow)
    assert all("rule `lim.slow` exceeded its time limit of 0.5 s" in f.message for f in slow)
    assert report.summary["lim.quick"].counts["pass"] == 64


SLICED = """package s
rule open-risks-owned {
    for risk in risks where risk.status == "open"
    require risk.owner is present
}
rule milestones-dated {
    for m in milestones
    require m.due is present
}
rule people-booked {
    for person in people
    require count(a.person == person.id for a in assignments) > 0
}
rule bookings-known {
    for a in assignments
    require a.allocation is present
}
"""


def _unlabelled_portfolio():
    """Children with no id and no name are named by position (`P1/risks[0]`): in a view
    slice built per chunk, that name must be the whole view's."""
    projects = []
    for i in range(40):
        risks = [{"status": "open", "owner": None if (i + k) % 3 == 0 else "U1"} for k in range(i % 4)]
        risks.append({"id": f"R{i}", "status": "open"})
        milestones = [{"name": f"M{k}", "due": None if k == 1 else "2026-01-01"} for k in range(3)]
        assignments = [{"person": f"U{i % 5}", "allocation": None if i % 7 == 0 else 0.5}]
        projects.append({"id": f"P{i}", "status": "active", "risks": risks, "milestones": milestones,
                         "assignments": assignments})
    return {"projects": projects, "people": [{"id": f"U{i}"} for i in range(8)]}


def test_views_only_evaluated_as_subjects_are_sliced_and_named_as_whole_views():
    program, diags = api.check_text(SLICED, SESSION, "s.pmo")
    assert program is not None, diags
    loaded = load_collections(_unlabelled_portfolio())
    plan = engine.Plan.build(program, loaded.snapshot, AS_OF)
    # `assignments` is read by name (a join), so it is built whole before any fork.
    assert plan.sliced == {"risks", "milestones"}
    assert loaded.snapshot.has_view("assignments") and not loaded.snapshot.has_view("risks")
    ref = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=True)
    subjects = {f.subject for f in ref.findings}
    assert "P1/risks[0]" in subjects and "P0/R0" in subjects and "P3/M1" in subjects
    for workers in (1, 2, 3):
        loaded.snapshot.release_views()
        fast = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(workers), include_passes=True)
        assert fast.model_dump() == ref.model_dump(), workers
        # The slices' unlabelled items were named by `id()`, which later objects reuse:
        # those names go with the slices; only the whole view's stay.
        IndexedEvaluator(workers).evaluate(program, loaded.snapshot, AS_OF)
        assert set(loaded.snapshot._ids.values()) == {f"P{i}/assignments[0]" for i in range(40)}


def test_a_view_already_built_whole_is_evaluated_whole():
    program, _ = api.check_text(SLICED, SESSION, "s.pmo")
    loaded = load_collections(_unlabelled_portfolio())
    loaded.snapshot.materialise_views()
    assert engine.Plan.build(program, loaded.snapshot, AS_OF).sliced == frozenset()


def test_rules_reading_a_whole_view_wait_for_the_parent_to_build_it(library_run, monkeypatch):
    """With workers, the whole views (and the rules that read them) are left to the
    parent, after the fork: the children start at once and never build them."""
    program, loaded = library_run
    loaded.snapshot.release_views()
    plan = engine.Plan.build(program, loaded.snapshot, AS_OF, defer=True)
    deferred = {plan.rules[k].rule.id for k in plan.deferred}
    assert deferred == {"resources.person-not-overallocated", "resources.cost-rate-set",  # read assignments
                        "resources.assignments-name-people", "resources.bookings-on-live-projects"}  # over them
    assert plan.read_whole == {"assignments"} and not loaded.snapshot.has_view("assignments")
    assert all(plan.rules[k].verdict is None for k in plan.deferred)
    plan.prepare()
    assert loaded.snapshot.has_view("assignments") and plan.deferred == ()
    assert all(plan.rules[k].verdict is not None for k, rp in enumerate(plan.rules) if rp.rule.id in deferred)
    # In the parallel run, only the parent evaluates them, on all their subjects at once.
    whole = []
    share = engine._evaluate_share

    def spy(plan, include_passes, *args, ks=None, **kwargs):
        if ks is not None and {plan.rules[k].rule.id for k in ks} == deferred:
            whole.append(os.getpid())
        return share(plan, include_passes, *args, ks=ks, **kwargs)

    monkeypatch.setattr(engine, "_evaluate_share", spy)
    loaded.snapshot.release_views()
    assert _flat(_evaluate(program, loaded, 2)) == _flat(_evaluate(program, loaded, 1))
    assert whole == [os.getpid()]


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_chunks_cover_every_subject_once_and_end_small(workers):
    bounds = engine.chunk_bounds(workers)
    sizes = [b - a for a, b in zip(bounds, bounds[1:])]
    assert bounds[0] == 0 and all(s > 0 for s in sizes) and sizes == sorted(sizes, reverse=True)
    assert sizes[-1] * 4 == sizes[0]  # the last ones a quarter of the first
    job = engine.Job(None, False, bounds, engine.Limits(), [])  # type: ignore[arg-type]
    for n in (0, 1, 7, 112, 100_003):
        covered = []
        for chunk in range(job.chunks):
            lo, hi, units = job.share(chunk)
            covered.extend(range(n * lo // units, n * hi // units))
        assert covered == list(range(n))
