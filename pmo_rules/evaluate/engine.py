"""The indexed evaluator: rules compiled to closures once per run, scopes and joins indexed.

It must give exactly the reference interpreter's findings (the oracle, `reference.py`):
`compiled.py` mirrors its semantics closure by closure, and the indexes in `indexes.py`
only ever skip items that could not change a result. What it changes is cost:

- plan once: every rule is compiled with its package's params bound, per run;
- scope index: a rule whose `where` starts with `subject.f == LITERAL` (or `in [...]`) only
  meets the subjects whose value can satisfy it; the rest are `not_applicable` unvisited;
- join index: `sum(a.x for a in assignments where a.person == person.id ...)` reads one
  hash bucket instead of the whole collection, so cross-entity rules are linear;
- workers: `workers > 1` splits the subjects of each rule across forked processes.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import ast
from ..gcpause import gc_paused
from ..limits import LimitExceeded, time_limit
from ..program import Program
from ..schema.models import VIEWS
from ..snapshot import Snapshot, project_key
from ..values import DECIMAL_CONTEXT
from . import Evaluation, Result, RunContext
from .compiled import Compiler
from .fastpath import Verdict, VerdictCompiler
from .indexes import JoinIndexes, scope_candidates
from .reference import _Env, _waiver_matches
from .waivers import apply_waivers


class IndexedEvaluator:
    """Compiled, indexed, optionally parallel evaluation with reference semantics."""

    def __init__(self, workers: int | None = 1, progress: Any = None, *,
                 rule_seconds: float | None = None, run_seconds: float | None = None):
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.progress = progress  # called as progress(rules_done, rules_total), single worker only
        self.limits = Limits(rule_seconds, run_seconds)

    def evaluate(self, program: Program, snapshot: Snapshot, as_of: dt.date, *,
                 include_passes: bool = False) -> Evaluation:
        with decimal.localcontext(DECIMAL_CONTEXT), gc_paused():
            plan = Plan.build(program, snapshot, as_of)
            if self.workers > 1 and _fork_available():
                out = _evaluate_parallel(plan, include_passes, self.workers, self.limits)
            else:
                out = Evaluation()
                parts, passes = _evaluate_share(plan, include_passes, 0, 1, self.progress, self.limits)
                out.passes = passes
                for rule_id, counts, results in parts:
                    out.counts[rule_id] = counts
                    out.results.extend(results)
            apply_waivers(program, snapshot, as_of, out,
                          lambda w, rule, subject: _waiver_matches(program, plan.run, w, rule, subject))
        return out


@dataclass
class RulePlan:
    rule: ast.Rule
    collection: str
    params: dict[str, Any]
    evaluate_subject: Callable[[dict, _Env], Result]  # the full evaluator, with evidence
    verdict: Verdict | None  # the fast one, or None when it cannot be generated
    positions: list[int] | None  # subjects the scope index lets through (None: all)


@dataclass
class Plan:
    """Everything compiled and indexed once per run, before any worker is forked, so that
    workers share it (copy-on-write) instead of each rebuilding views and indexes."""

    program: Program
    snapshot: Snapshot
    run: RunContext
    rules: list[RulePlan]

    @classmethod
    def build(cls, program: Program, snapshot: Snapshot, as_of: dt.date) -> Plan:
        indexes = JoinIndexes(snapshot)
        run = RunContext(snapshot, as_of)
        compilers: dict[str, tuple[Compiler, VerdictCompiler]] = {}
        rules = []
        for rule in program.rules:
            fc = rule.for_clause
            assert fc is not None and isinstance(fc.collection, ast.Name)
            params = program.params.get(rule.package, {})
            pair = compilers.get(rule.package)
            if pair is None:
                pair = compilers[rule.package] = (Compiler(program, params, snapshot, indexes),
                                                  VerdictCompiler(program, params, run, indexes))
            name = fc.collection.name
            snapshot.collection(name)  # a view is built here, once, not in every worker
            rules.append(RulePlan(rule, name, params, pair[0].rule(rule), pair[1].rule(rule),
                                  scope_candidates(rule, name, params, indexes)))
        indexes.build_all()
        return cls(program, snapshot, run, rules)


PASS, NOT_APPLICABLE = 1, 2  # verdict codes; 0: not decided (yet), for the full evaluator


def _evaluate_share(plan: Plan, include_passes: bool, share: int, shares: int, progress: Any = None,
                    limits: Limits | None = None) -> tuple[list[tuple[str, Counter, list[Result]]], Counter]:
    """Evaluate every rule on share `share` of `shares` contiguous slices of its subjects
    (contiguous, so a forked worker touches, and copies, only its part of the snapshot).

    Two phases. First, subject by subject, every rule's verdict (`fastpath.py`): each
    record is read once for all the rules over its collection while it is in the CPU's
    cache, instead of once per rule. Then, rule by rule and under each rule's time limit,
    the full evaluator (with evidence) takes every pair no verdict decided."""
    limits = limits or Limits()
    run_deadline = time.monotonic() + limits.run_seconds if limits.run_seconds is not None else None
    program, snapshot, run = plan.program, plan.snapshot, plan.run
    passed: dict[str, list[int]] = {}  # collection -> passing checks per subject position
    codes: list[bytearray] = []  # per rule: a verdict code per subject of the slice
    slices: list[tuple[int, int]] = []
    groups: dict[str, list[int]] = {}
    for k, rp in enumerate(plan.rules):
        n = len(snapshot.collection(rp.collection))
        lo, hi = n * share // shares, n * (share + 1) // shares
        slices.append((lo, hi))
        codes.append(bytearray(hi - lo))
        groups.setdefault(rp.collection, []).append(k)
        if rp.collection not in passed:
            passed[rp.collection] = [0] * n
    for name, ks in groups.items():
        _verdicts(plan, name, ks, slices[ks[0]], codes, passed[name], limits, run_deadline)
    out = []
    for k, rp in enumerate(plan.rules):
        rule, evaluate_subject = rp.rule, rp.evaluate_subject
        counts: Counter = Counter()
        results: list[Result] = []
        subjects = snapshot.collection(rp.collection)
        pass_counts = passed[rp.collection]
        lo, _ = slices[k]
        code = codes[k]
        passes_here = code.count(PASS)
        not_applicable = code.count(NOT_APPLICABLE)
        if include_passes:
            results.extend(Result(rule.id, snapshot.subject_id(subjects[lo + i]), "pass") for i in _where(code, PASS))
        undecided = [lo + i for i in _where(code, 0)]
        seconds, what = limits.for_rule(rule.id, run_deadline)
        done = 0
        try:
            with time_limit(seconds, what):
                env = _Env(program, rp.params, run)
                for pos in undecided:
                    env.vars = {}  # one Env per rule, fresh state per subject
                    env.evidence = {}
                    env.recording = True
                    res = evaluate_subject(subjects[pos], env)
                    done += 1
                    outcome = res.outcome
                    if outcome == "pass":
                        passes_here += 1
                        pass_counts[pos] += 1
                        if include_passes:
                            results.append(res)
                    elif outcome == "not_applicable":
                        not_applicable += 1
                    else:
                        counts[outcome] += 1
                        results.append(res)
        except LimitExceeded as exc:
            # Every subject not decided in time is an `error` naming the rule and the limit.
            for pos in undecided[done:]:
                counts["error"] += 1
                results.append(Result(rule.id, snapshot.subject_id(subjects[pos]), "error",
                                      f"{exc} (at {rule.span}); this subject was not evaluated",
                                      [], str(rule.span)))
        if passes_here:
            counts["pass"] += passes_here
        if not_applicable:
            counts["not_applicable"] += not_applicable
        out.append((rule.id, counts, results))
        if progress is not None:
            progress(len(out), len(plan.rules))
    passes: Counter = Counter()
    subject_id = snapshot.subject_id
    for name, pass_counts in passed.items():
        subjects = snapshot.collection(name)
        if name not in VIEWS:
            for pos, n in enumerate(pass_counts):
                if n:
                    passes[subject_id(subjects[pos])] += n
            continue
        # A view item's checks count for its project (all roll-ups need): tally per
        # project first, so no `PROJECT/child` id is built for a passing item.
        by_parent: dict[int, list] = {}
        for item, n in zip(subjects, pass_counts):
            if n:
                parent = item["project"]
                entry = by_parent.get(id(parent))
                if entry is None:
                    by_parent[id(parent)] = [parent, n]
                else:
                    entry[1] += n
        for parent, n in by_parent.values():
            passes[project_key(parent)] += n
    return out, passes


def _where(code: bytearray, value: int) -> Iterator[int]:
    """Indexes holding `value`, found by C-speed scans rather than a loop per subject."""
    i = code.find(value)
    while i != -1:
        yield i
        i = code.find(value, i + 1)


def _verdicts(plan: Plan, collection: str, ks: list[int], bounds: tuple[int, int], codes: list[bytearray],
              pass_counts: list[int], limits: Limits, run_deadline: float | None) -> None:
    """Phase one for the rules `ks` over one collection: fill in their verdict codes.

    It gets the time a rule gets; if it runs out (a plugin stuck, say), what is left stays
    undecided and the full evaluator, under each rule's own limit, names the culprit. The
    subject being decided when time ran out is rolled back whole."""
    subjects = plan.snapshot.collection(collection)
    lo, hi = bounds
    lanes = []
    for k in ks:
        rp = plan.rules[k]
        mask = None
        if rp.positions is not None:  # the scope index: the other subjects are out of scope
            mask = bytearray(hi - lo)
            for pos in rp.positions[bisect.bisect_left(rp.positions, lo):bisect.bisect_left(rp.positions, hi)]:
                mask[pos - lo] = 1
            codes[k][:] = bytes(mask).replace(b"\x00", b"\x02").replace(b"\x01", b"\x00")
        if rp.verdict is not None:
            lanes.append((rp.verdict, mask, codes[k]))
    if not lanes:
        return
    seconds, what = limits.for_rule(f"verdicts over {collection}", run_deadline)
    state = (-1, 0)  # (subject being decided, its passes before), for a rollback
    try:
        with time_limit(seconds, what):
            for i in range(hi - lo):
                pos = lo + i
                state = (i, pass_counts[pos])
                subject = subjects[pos]
                for verdict, mask, code in lanes:
                    if mask is not None and not mask[i]:
                        continue
                    try:
                        decided = verdict(subject)
                    except Exception:  # noqa: BLE001 - "not sure": the full evaluator decides and explains
                        continue
                    if decided is True:
                        code[i] = PASS
                        pass_counts[pos] += 1
                    elif decided is False:
                        code[i] = NOT_APPLICABLE
    except LimitExceeded:
        i, before = state
        if i >= 0:
            for _, mask, code in lanes:
                if mask is None or mask[i]:
                    code[i] = 0
            pass_counts[lo + i] = before


@dataclass(frozen=True)
class Limits:
    """Per-rule and per-run evaluation time limits, in seconds (None: unlimited)."""

    rule_seconds: float | None = None
    run_seconds: float | None = None

    def for_rule(self, rule_id: str, run_deadline: float | None) -> tuple[float | None, str]:
        left = None if run_deadline is None else max(run_deadline - time.monotonic(), 0.0)
        if self.rule_seconds is not None and (left is None or self.rule_seconds <= left):
            return self.rule_seconds, f"rule `{rule_id}`"
        if left is not None:
            return left, f"the run's evaluation budget ({self.run_seconds:g} s), reached in rule `{rule_id}`,"
        return None, ""


def _fork_available() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


_SHARED: dict[str, Any] = {}


def _worker(share: int) -> tuple[list[tuple[str, Counter, list[tuple]]], Counter]:
    s = _SHARED
    with decimal.localcontext(DECIMAL_CONTEXT):
        parts, passes = _evaluate_share(s["plan"], s["include_passes"], share, s["shares"], None, s["limits"])
    # Plain tuples pickle in C, several times faster than slotted dataclasses (whose state
    # goes through Python-level __getstate__), and at half the size.
    return [(rule_id, counts, [astuple(r) for r in results]) for rule_id, counts, results in parts], passes


def astuple(r: Result) -> tuple:
    return (r.rule, r.subject, r.outcome, r.message, r.evidence, r.location, r.waiver, r.note)


def _child(share: int, conn: Any) -> None:
    try:
        conn.send(_worker(share))
    finally:
        conn.close()


def _evaluate_parallel(plan: Plan, include_passes: bool, workers: int, limits: Limits) -> Evaluation:
    """Fork `workers - 1` children that inherit the plan (program, snapshot, indexes:
    nothing big is pickled in); the parent evaluates the first slice itself meanwhile, so
    no core waits. A child that dies has its slice evaluated by the parent instead."""
    import multiprocessing

    _SHARED.update(plan=plan, include_passes=include_passes, shares=workers, limits=limits)
    ctx = multiprocessing.get_context("fork")
    children = []
    try:
        for share in range(1, workers):
            receiver, sender = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(share, sender), daemon=True)
            proc.start()
            sender.close()
            children.append((share, proc, receiver))
        with decimal.localcontext(DECIMAL_CONTEXT):
            own = _evaluate_share(plan, include_passes, 0, workers, None, limits)
        parts = []
        for share, proc, receiver in children:
            try:
                parts.append(receiver.recv())
            except (EOFError, OSError):
                parts.append(_worker(share))  # the child died: do its share here
            finally:
                receiver.close()
                proc.join()
    finally:
        _SHARED.clear()
        for _, proc, _ in children:
            if proc.is_alive():
                proc.kill()
    out = Evaluation()
    for rp in plan.rules:
        out.counts[rp.rule.id] = Counter()
    own_part, own_passes = own  # the parent's slice stays Results; the children's come as tuples
    out.passes.update(own_passes)
    for rule_id, counts, results in own_part:
        out.counts[rule_id].update(counts)
        out.results.extend(results)
    for part, passes in parts:
        out.passes.update(passes)
        for rule_id, counts, results in part:
            out.counts[rule_id].update(counts)
            out.results.extend(Result(*r) for r in results)
    return out
