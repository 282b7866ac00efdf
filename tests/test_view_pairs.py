"""View slices as (child, project) pairs: the items a worker's chunk evaluates are not made.

`Snapshot.view_slices` gives each view as its children and their projects, the fast
verdicts read both (`fastpath`, `pair`), and only the items the full evaluator takes are
made (`ViewSlices.item`). Everything a rule can see must stay what the whole view shows:
`x.project`, a child's own `project` field (hidden by the item's), the item used whole,
a scope on the project's fields, unlabelled items' names, children that are not records.
Each case is held to the reference interpreter, with 1 and 2 workers, passes included.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from pmo_rules import api
from pmo_rules.evaluate import engine
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.load import load_collections
from pmo_rules.snapshot import Snapshot, view_item

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()


def _program(text: str):
    program, diags = api.check_text("package t\n" + text, SESSION, "t.pmo")
    assert program is not None, diags
    return program


def _outcomes(evaluation) -> tuple:
    results = sorted((r.rule, r.subject, r.outcome, r.message, repr(r.evidence)) for r in evaluation.results)
    # Passes per project, which is all roll-ups read (the indexed evaluator counts a view
    # item's under its project, the reference under the item's id).
    passes: Counter = Counter()
    for subject, n in evaluation.passes.items():
        passes[subject.split("/", 1)[0]] += n
    return results, {k: dict(v) for k, v in evaluation.counts.items()}, dict(passes)


def _same_as_reference(program, make_snapshot, workers=(1, 2)) -> tuple:
    expected = _outcomes(ReferenceEvaluator().evaluate(program, make_snapshot(), AS_OF, include_passes=True))
    for n in workers:
        evaluator = IndexedEvaluator(n)
        snapshot = make_snapshot()  # fresh: no whole view left by another evaluator
        got = _outcomes(evaluator.evaluate(program, snapshot, AS_OF, include_passes=True))
        assert got == expected, f"{n} worker(s)"
    return expected


def _portfolio(n: int) -> dict:
    statuses = ["active", "proposed", "completed", None]
    return {"projects": [
        {"id": f"PRJ-{i:05d}", "status": statuses[i % 4],
         "milestones": [{"name": "Kick-off", "due": "2026-01-01", "completed": "2026-01-02"},
                        {"due": "2026-03-01", **({"completed": "2026-03-05"} if i % 3 else {})},
                        {"due": "2026-06-01", "project": "mine"}],
         "risks": [{"id": f"R-{i}", "status": "open", "owner": None if i % 5 == 0 else "PER-1",
                    "project": {"id": "not the parent"}}]}
        for i in range(n)]}


@pytest.fixture(scope="module")
def loaded_portfolio():
    data = _portfolio(400)
    return lambda: load_collections(data).snapshot


def test_a_scope_on_the_project_and_unlabelled_items_named_by_position(loaded_portfolio):
    program = _program("""
rule done-on-live {
    severity low
    for m in milestones where m.project.status == "active"
    require m.completed is present else "{m.project.id}: milestone due {m.due} not completed"
}
""")
    results, counts, _ = _same_as_reference(program, loaded_portfolio)
    subjects = {r[1] for r in results if r[2] == "fail"}
    assert "PRJ-00000/milestones[1]" in subjects and "PRJ-00004/milestones[1]" not in subjects
    assert "PRJ-00000/Kick-off" in {r[1] for r in results}
    assert counts["t.done-on-live"]["not_applicable"] == 300 * 3  # the projects not active


def test_the_item_s_project_hides_a_child_s_own_project_field(loaded_portfolio):
    program = _program("""
rule owner-and-parent {
    severity low
    for r in risks where r.project.id != "not the parent"
    require r.owner is present and r.project.status is present
}
""")
    _, counts, _ = _same_as_reference(program, loaded_portfolio)
    assert counts["t.owner-and-parent"].get("not_applicable", 0) == 0
    assert counts["t.owner-and-parent"]["fail"] == 80 + 100 - 20  # no owner, or a project without status


def test_a_rule_using_the_item_whole_gets_the_item(loaded_portfolio):
    program = _program("""
rule whole {
    severity low
    for m in milestones
    require m is present and count(x.due == m.due for x in m.project.milestones) == 1
    require m != null
}
""")
    snapshot = loaded_portfolio()
    plan = engine.Plan.build(program, snapshot, AS_OF)
    assert "milestones" in plan.sliced
    verdict = plan.rules[0].verdict
    first, made = verdict.source.splitlines()[:2]
    # The item, made once per call, first: `view_item(child, project)`, bound as a constant.
    maker = made.split("= ", 1)[1].split("(", 1)[0]
    assert first.startswith("def verdict(_v1, _v") and verdict.__globals__[maker] is view_item
    _, counts, _ = _same_as_reference(program, loaded_portfolio)
    assert counts["t.whole"] == {"pass": 1200}


def test_children_that_are_not_records_are_no_subjects_as_in_a_whole_view():
    # A snapshot not loaded from data (built in code): nothing promised its children are records.
    def snapshot():
        return Snapshot(projects=[
            {"id": "P1", "status": "active", "milestones": ["not a record", {"due": dt.date(2026, 1, 1)}, 7, {}]},
            {"id": "P2", "milestones": [{"name": "M", "completed": dt.date(2026, 1, 1)}]},
            {"id": "P3", "milestones": "not a list"}])
    program = _program("""
rule done {
    severity low
    for m in milestones
    require m.completed is present
}
""")
    assert not snapshot().validated
    results, counts, _ = _same_as_reference(program, snapshot, workers=(1,))
    assert counts["t.done"] == {"fail": 2, "pass": 1}
    assert sorted(r[1] for r in results) == ["P1/milestones[1]", "P1/milestones[3]", "P2/M"]


def test_only_a_loaded_snapshot_is_known_to_hold_records():
    assert load_collections({"projects": [{"id": "P1"}]}).snapshot.validated
    assert not Snapshot().validated


@pytest.mark.parametrize("block", [1, 3, 64])
def test_projects_and_their_children_decided_a_block_at_a_time(monkeypatch, block):
    # The verdicts go through the projects `PROJECT_BLOCK` at a time, and through each
    # view slice over the children of those projects: blocks of one project, of several,
    # with no children at all (every fourth project has no risks), or larger than a share.
    data = _portfolio(40)
    for i, project in enumerate(data["projects"]):
        if i % 4 == 1:
            project["risks"] = []
    program = _program("""
rule live-and-owned {
    severity low
    for r in risks where r.project.status == "active"
    require r.owner is present
}
rule milestones-done {
    severity low
    for m in milestones where m.due is present
    require m.completed is present
}
rule projects-with-risks {
    severity low
    for p in projects where p.status != "completed"
    require count(r.status == "open" for r in p.risks) >= 1
}
""")
    monkeypatch.setattr(engine, "PROJECT_BLOCK", block)
    _, counts, _ = _same_as_reference(program, lambda: load_collections(data).snapshot, workers=(1, 2, 3))
    # the 10 active projects' risks (2 without an owner); the other 20 risks; none for 10 projects
    assert counts["t.live-and-owned"] == {"pass": 8, "fail": 2, "not_applicable": 20}
    assert counts["t.projects-with-risks"]["fail"] == 10  # the proposed projects: no risks
