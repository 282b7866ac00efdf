"""The generated verdicts (`evaluate/fastpath.py`) may only ever claim what the oracle says.

A verdict answers True (pass), False (not applicable) or defers (None, or an exception).
Each test here runs the verdict of a rule on a subject directly and checks it against the
reference interpreter's outcome for the same pair: a wrong claim is a failure, a deferral
never is. Other tests make sure the verdicts are really used (most pairs decided) and that
the generated source compiles for every construct of the language.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings
from test_differential_fuzz import policies, portfolios

import pmo_rules
from pmo_rules import api
from pmo_rules.evaluate import RunContext
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.fastpath import VerdictCompiler
from pmo_rules.evaluate.indexes import Index, JoinIndexes, scope_candidates, scope_holds, scope_test
from pmo_rules.evaluate.reference import ReferenceEvaluator, _Env, evaluate_subject
from pmo_rules.generate import generate_portfolio
from pmo_rules.load import load_collections
from pmo_rules.registry import FunctionSpec
from pmo_rules.resources import bundled
from pmo_rules.values import DECIMAL_CONTEXT

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()


def _check_verdicts(program, snapshot) -> Counter:
    """Compare every verdict with the reference outcome; count what the verdicts did."""
    run = RunContext(snapshot, AS_OF)
    ref_run = RunContext(snapshot, AS_OF)
    joins = JoinIndexes(snapshot)
    seen: Counter = Counter()
    with decimal.localcontext(DECIMAL_CONTEXT):
        for rule in program.rules:
            params = program.params.get(rule.package, {})
            verdict = VerdictCompiler(program, params, run, joins).rule(rule)
            assert verdict is not None, f"{rule.id}: no verdict generated"
            subjects = snapshot.collection(rule.for_clause.collection.name)
            # The in-scope verdict, on the subjects the scope index selects (as the engine uses it)
            in_scope = VerdictCompiler(program, params, run, joins).rule(rule, in_scope=True)
            scope = scope_test(rule, params)
            selected = scope_candidates(scope, lambda keys, items=subjects: Index.build(items, keys))
            if scope_holds(scope) and selected is not None:
                assert in_scope is not None
                pairs = [(verdict, s) for s in subjects] + [(in_scope, subjects[i]) for i in selected]
                seen["in scope"] += len(selected)
            else:
                pairs = [(verdict, s) for s in subjects]
            for verdict, subject in pairs:
                try:
                    claim = verdict(subject)
                except Exception:  # noqa: BLE001 - a deferral
                    claim = None
                outcome = evaluate_subject(rule, subject, _Env(program, params, ref_run)).outcome
                if claim is True:
                    assert outcome == "pass", (rule.id, snapshot.subject_id(subject), outcome, verdict.source)
                elif claim is False:
                    assert outcome == "not_applicable", (rule.id, snapshot.subject_id(subject), outcome)
                else:
                    assert claim is None
                seen["pass" if claim is True else "not_applicable" if claim is False else "deferred"] += 1
                seen[outcome] += 0
    return seen


def test_library_verdicts_agree_and_decide_most_pairs():
    program, _ = api.load_program([bundled("policies")], SESSION)
    loaded = load_collections(generate_portfolio(300, seed=11))
    seen = _check_verdicts(program, loaded.snapshot)
    decided = seen["pass"] + seen["not_applicable"]
    assert decided > 0.8 * (decided + seen["deferred"]), seen
    assert seen["in scope"] > 1000, seen


def test_library_verdicts_agree_on_the_sample():
    program, _ = api.load_program([bundled("policies")], SESSION)
    loaded = api.load_data([], SESSION)
    seen = _check_verdicts(program, loaded.snapshot)
    assert seen["pass"] and seen["not_applicable"] and seen["deferred"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(), portfolios())
def test_verdicts_never_contradict_the_reference(policy, data):
    program, _ = api.check_text(policy, SESSION, "fuzz.pmo")
    assume(program is not None)
    _check_verdicts(program, load_collections(data).snapshot)


TRICKY = """
package tricky

param floor = 0.5

rule nested {
    for project in projects
    require all(all(r.impact >= 0 for r in project.risks) for q in project.risks)
    require any(p.id == (project.sponsor ?? "none") for p in people) or true
}

rule coalesce-in-iterable {
    for project in projects
    require count(true for r in (project.risks ?? []) where (r.status ?? "open") == "open") >= 0
}

rule mixed-types {
    for project in projects where project.priority == 1
    require project.custom.flag == true
    require project.custom.level > 2
}

rule literal-left {
    for project in projects where "active" == project.status
    require 0 <= project.budget.approved ?? 0
    require floor < 1 and not (project.status in ["on_hold", "closed"])
}

rule durations {
    for project in projects where project.last_status_update is present
    require today - project.last_status_update <= 10000d
    require project.start_date + 14d >= 2000-01-01
}
"""

TRICKY_DATA = {
    "projects": [
        {"id": "A", "status": "active", "priority": 1, "sponsor": "P1", "custom": {"flag": True, "level": 3},
         "budget": {"approved": 10}, "risks": [{"id": "R1", "impact": 5, "status": "open"}],
         "last_status_update": "2026-11-01", "start_date": "2026-01-01"},
        {"id": "B", "status": "active", "priority": 1, "custom": {"flag": 1, "level": "high"},
         "risks": [{"id": "R1", "impact": None}], "start_date": None},
        {"id": "C", "status": None, "priority": None, "custom": {"flag": False}},
        {"id": "D", "status": "on_hold", "priority": 2, "custom": None, "risks": [],
         "last_status_update": "2026-11-20", "start_date": "2026-02-01"},
    ],
    "people": [{"id": "P1"}, {"id": 7}],
}


def test_tricky_constructs_compile_and_agree():
    program, diags = api.check_text(TRICKY, SESSION, "tricky.pmo")
    assert program is not None, diags
    loaded = load_collections(TRICKY_DATA)
    seen = _check_verdicts(program, loaded.snapshot)
    assert seen["pass"] and seen["deferred"]
    ref = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=True)
    for workers in (1, 2):
        fast = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(workers), include_passes=True)
        assert fast.model_dump() == ref.model_dump()


@pytest.mark.parametrize("text, expected", [
    ('"x" == "x"', True), ("1.0 == 1", True), ("true == true", True), ("2026-01-01 < 2026-01-02", True),
    ("3d < 4d", True), ('"b" > "a"', True), ("1 != 2", True), ("not (1 == 2)", True),
])
def test_inline_comparisons_with_constants(text, expected):
    policy = f"package k\nrule r {{\n    for project in projects\n    require {text}\n}}\n"
    program, diags = api.check_text(policy, SESSION, "k.pmo")
    assert program is not None, diags
    loaded = load_collections({"projects": [{"id": "A"}]})
    run = RunContext(loaded.snapshot, AS_OF)
    verdict = VerdictCompiler(program, {}, run, JoinIndexes(loaded.snapshot)).rule(program.rules[0])
    assert verdict(loaded.snapshot.projects[0]) is (True if expected else None)


def test_constant_subexpressions_are_folded_when_the_verdict_is_generated():
    policy = """package k
param target = 0.8
rule r {
    for project in projects
    require project.budget.approved >= 50k * 2 + target * 100
    require project.budget.approved / (1 - 1) > 0 or true
}
"""
    program, diags = api.check_text(policy, SESSION, "k.pmo")
    assert program is not None, diags
    loaded = load_collections({"projects": [{"id": "A", "budget": {"approved": 100080}},
                                            {"id": "B", "budget": {"approved": 100079}}]})
    run = RunContext(loaded.snapshot, AS_OF)
    params = program.params["k"]
    verdict = VerdictCompiler(program, params, run, JoinIndexes(loaded.snapshot)).rule(program.rules[0])
    assert "_mul" not in verdict.source and "_add" not in verdict.source  # 100080, computed once
    assert "_div" in verdict.source and "_sub" not in verdict.source  # 1 - 1 is 0; dividing by it waits
    a, b = loaded.snapshot.projects
    with decimal.localcontext(DECIMAL_CONTEXT):
        with pytest.raises(Exception):  # noqa: B017 - dividing by zero defers
            verdict(a)
        assert verdict(b) is None  # 100079 < 100080: fails, so the full evaluator explains it


def _verdict(policy: str, records: list[dict]):
    program, diags = api.check_text(policy, SESSION, "k.pmo")
    assert program is not None, diags
    loaded = load_collections({"projects": records})
    run = RunContext(loaded.snapshot, AS_OF)
    verdict = VerdictCompiler(program, program.params.get("k", {}), run, JoinIndexes(loaded.snapshot)).rule(
        program.rules[0])
    assert verdict is not None
    return verdict, loaded.snapshot.projects


@pytest.mark.parametrize("scope, expected", [
    # Evaluated, the comprehension would divide by zero (an error: the verdict defers).
    # Each short-circuit must leave it unevaluated, as the reference does, so the verdict
    # still decides the scope.
    ('project.status == "active" and any(1 / r.impact > 0 for r in project.risks)', True),
    ('project.status == "completed" or any(1 / r.impact > 0 for r in project.risks)', False),
    ('project.status == "active" implies any(1 / r.impact > 0 for r in project.risks)', False),
    ("(project.priority ?? count(1 / r.impact > 0 for r in project.risks)) == 3", False),
])
def test_loops_in_a_short_circuit_run_only_when_the_reference_evaluates_them(scope, expected):
    policy = f"package k\nrule r {{\n    for project in projects where not ({scope})\n    require true\n}}\n"
    record = {"id": "A", "status": "completed", "priority": 3, "risks": [{"id": "R", "impact": 0}]}
    verdict, (project,) = _verdict(policy, [record])
    assert "\n        for " in verdict.source  # the loop form, under the short-circuit's condition
    with decimal.localcontext(DECIMAL_CONTEXT):
        assert verdict(project) is expected
    # and when the reference does evaluate it, the verdict meets the error and defers
    evaluated = {**record, "status": "on_hold" if " or " in scope else "active", "priority": None}
    verdict, (project,) = _verdict(policy, [evaluated])
    with decimal.localcontext(DECIMAL_CONTEXT), pytest.raises(Exception):  # noqa: B017 - a deferral
        verdict(project)


def test_loops_decide_any_all_none_count_and_sums_as_the_reference():
    policy = """package k
rule r {
    for project in projects
    let open = count(r.status == "open" for r in project.risks)
    let exposure = sum(r.impact for r in project.risks where r.status == "open")
    require any(r.impact > 5 for r in project.risks) == (open > 0 and exposure > 5)
    require all(r.impact >= 0 for r in project.risks)
    require none(r.impact < 0 for r in project.risks where r.status == "open")
    require any(any(m.completed is present for m in project.milestones) for r in project.risks) or open == 0
}
"""
    risks = [{"id": "R1", "status": "open", "impact": 7}, {"id": "R2", "status": "closed", "impact": 1}]
    records = [{"id": "A", "risks": risks, "milestones": [{"id": "M", "completed": "2026-01-01"}]},
               {"id": "B", "risks": [], "milestones": []},
               {"id": "C", "risks": [{"id": "R", "status": "open", "impact": -1}], "milestones": []}]
    verdict, projects = _verdict(policy, records)
    assert verdict.source.count("    for ") == 7 and "any(" not in verdict.source  # nested ones too
    with decimal.localcontext(DECIMAL_CONTEXT):
        assert [verdict(p) for p in projects] == [True, True, None]
    program, _ = api.check_text(policy, SESSION, "k.pmo")
    assert _check_verdicts(program, load_collections({"projects": records}).snapshot)["pass"] == 2


JOINED = """package k
rule managed {
    for project in projects
    require any(p.id == project.manager for p in people)
}
rule unsponsored {
    for project in projects
    require none(p.id == project.sponsor for p in people)
}
"""


@pytest.mark.parametrize("people", [
    [{"id": "P1"}, {"id": "P2"}],
    # a number among the ids: the index leaves every text key to a scan
    [{"id": "P1"}, {"id": "P2"}, {"id": 7}],
])
def test_joins_on_text_keys_answer_as_the_reference_again_and_again(people):
    # Each key comes back, so the second lookup of a text (a person, or nobody) is answered
    # from what the first found: the answer must not change.
    projects = [{"id": f"A{i}", "manager": manager, "sponsor": sponsor}
                for i, (manager, sponsor) in enumerate([("P1", "P2"), ("P9", "P1"), ("P1", "P9"), ("P9", "P9"),
                                                        (None, "P2"), ("P2", "P1"), ("P9", None)])]
    program, diags = api.check_text(JOINED, SESSION, "k.pmo")
    assert program is not None, diags
    loaded = load_collections({"projects": projects, "people": people})
    seen = _check_verdicts(program, loaded.snapshot)
    # managed: A0, A2, A5; unsponsored: A2, A3, A6 (no id is null)
    assert seen["pass"] == 6
    ref = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=True)
    for workers in (1, 2):
        fast = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(workers), include_passes=True)
        assert fast.model_dump() == ref.model_dump()


def _twice(value):
    return None if value == "none" else 2 * len(value) if value != "float" else 1.5


def _broken(value):
    raise ValueError(f"cannot take {value!r}")


class _Functions:
    @pmo_rules.hookimpl
    def pmo_rules_functions(self, register):
        # an int (made a number), null, a float (refused, naming the plugin), a failure
        register(FunctionSpec("twice", _twice, ("text",), "number", "Twice the length."))
        register(FunctionSpec("broken", _broken, ("text",), "number", "Always fails."))


def test_one_argument_plugin_functions_decide_as_the_reference():
    # The verdicts call a plugin function of one argument directly, not through `invoke`:
    # whatever it returns or raises must come to what the reference makes of it.
    session = api.Session.create(entry_points="builtin", extra=(("test_functions", _Functions()),))
    policy = """package k
rule twice-small {
    for project in projects
    require twice(project.name) < 10
}
rule never {
    for project in projects where project.name == "broken"
    require broken(project.name) > 0
}
"""
    program, diags = api.check_text(policy, session, "k.pmo")
    assert program is not None, diags
    names = ["ab", "abcdef", "none", "float", "broken", None, "ab"]
    loaded = load_collections({"projects": [{"id": f"A{i}", "name": n} for i, n in enumerate(names)]})
    seen = _check_verdicts(program, loaded.snapshot)
    assert seen["pass"] == 2 and seen["deferred"]
    ref = api.audit(program, loaded, AS_OF, evaluator=ReferenceEvaluator(), include_passes=True)
    outcomes = {(f.rule, f.subject): f.outcome for f in ref.findings}
    assert outcomes[("k.twice-small", "A3")] == outcomes[("k.never", "A4")] == "error"
    for workers in (1, 2):
        fast = api.audit(program, loaded, AS_OF, evaluator=IndexedEvaluator(workers), include_passes=True)
        assert fast.model_dump() == ref.model_dump()
