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

import datetime as dt
import decimal
import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .. import ast
from ..limits import LimitExceeded, time_limit
from ..program import Program
from ..snapshot import Snapshot
from ..values import DECIMAL_CONTEXT
from . import Evaluation, Result, RunContext
from .compiled import Compiler
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
        with decimal.localcontext(DECIMAL_CONTEXT):
            if self.workers > 1 and _fork_available():
                out = _evaluate_parallel(program, snapshot, as_of, include_passes, self.workers, self.limits)
            else:
                out = Evaluation()
                parts, passes = _evaluate_share(program, snapshot, as_of, include_passes, 0, 1, self.progress,
                                                self.limits)
                out.passes = passes
                for rule_id, counts, results in parts:
                    out.counts[rule_id] = counts
                    out.results.extend(results)
            run = RunContext(snapshot, as_of)
            apply_waivers(program, snapshot, as_of, out,
                          lambda w, rule, subject: _waiver_matches(program, run, w, rule, subject))
        return out


def _evaluate_share(program: Program, snapshot: Snapshot, as_of: dt.date, include_passes: bool,
                    share: int, shares: int, progress: Any = None,
                    limits: Limits | None = None) -> tuple[list[tuple[str, Counter, list[Result]]], Counter]:
    """Evaluate every rule on the subjects at positions `share`, `share + shares`, ..."""
    limits = limits or Limits()
    run_deadline = time.monotonic() + limits.run_seconds if limits.run_seconds is not None else None
    passes: Counter = Counter()
    indexes = JoinIndexes(snapshot)
    run = RunContext(snapshot, as_of)
    compilers: dict[str, Compiler] = {}
    out = []
    for rule in program.rules:
        counts: Counter = Counter()
        results: list[Result] = []
        fc = rule.for_clause
        assert fc is not None and isinstance(fc.collection, ast.Name)
        params = program.params.get(rule.package, {})
        compiler = compilers.get(rule.package)
        if compiler is None:
            compiler = compilers[rule.package] = Compiler(program, params, snapshot, indexes)
        evaluate_subject = compiler.rule(rule)
        subjects = snapshot.collection(fc.collection.name)
        positions = scope_candidates(rule, fc.collection.name, params, indexes)
        if positions is None:
            chosen = subjects[share::shares] if shares > 1 else subjects
            total = len(chosen)
        else:
            chosen = [subjects[i] for i in positions if i % shares == share]
            total = len(range(share, len(subjects), shares))
        counts["not_applicable"] += total - len(chosen)
        seconds, what = limits.for_rule(rule.id, run_deadline)
        done = 0
        try:
            with time_limit(seconds, what):
                env = _Env(program, params, run)
                for subject in chosen:
                    env.vars = {}  # one Env per rule, fresh state per subject
                    env.evidence = {}
                    env.recording = True
                    res = evaluate_subject(subject, env)
                    done += 1
                    counts[res.outcome] += 1
                    if res.outcome == "pass":
                        passes[res.subject] += 1
                    if res.outcome != "not_applicable" and (res.outcome != "pass" or include_passes):
                        results.append(res)
        except LimitExceeded as exc:
            # Every subject not decided in time is an `error` naming the rule and the limit.
            for subject in chosen[done:]:
                counts["error"] += 1
                results.append(Result(rule.id, snapshot.subject_id(subject), "error",
                                      f"{exc} (at {rule.span}); this subject was not evaluated",
                                      [], str(rule.span)))
        out.append((rule.id, counts, results))
        if progress is not None:
            progress(len(out), len(program.rules))
    return out, passes


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


def _worker(share: int) -> tuple[list[tuple[str, Counter, list[Result]]], Counter]:
    s = _SHARED
    with decimal.localcontext(DECIMAL_CONTEXT):
        return _evaluate_share(s["program"], s["snapshot"], s["as_of"], s["include_passes"], share, s["shares"],
                               None, s["limits"])


def _evaluate_parallel(program: Program, snapshot: Snapshot, as_of: dt.date, include_passes: bool,
                       workers: int, limits: Limits) -> Evaluation:
    """Fork workers that inherit the program and snapshot (nothing big is pickled in),
    each taking every n-th subject of every rule; results merge into one Evaluation."""
    import multiprocessing

    _SHARED.update(program=program, snapshot=snapshot, as_of=as_of, include_passes=include_passes,
                   shares=workers, limits=limits)
    ctx = multiprocessing.get_context("fork")
    try:
        with ctx.Pool(workers) as pool:
            parts = pool.map(_worker, range(workers))
    finally:
        _SHARED.clear()
    out = Evaluation()
    for rule in program.rules:
        out.counts[rule.id] = Counter()
    for part, passes in parts:
        out.passes.update(passes)
        for rule_id, counts, results in part:
            out.counts[rule_id].update(counts)
            out.results.extend(results)
    return out
