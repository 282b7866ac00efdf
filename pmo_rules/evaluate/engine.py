"""The indexed evaluator: rules compiled to closures once per run, scopes and joins indexed.

It must give exactly the reference interpreter's findings (the oracle, `reference.py`):
`compiled.py` mirrors its semantics closure by closure, and the indexes in `indexes.py`
only ever skip items that could not change a result. What it changes is cost:

- plan once: every rule is compiled with its package's params bound, per run;
- scope index: a rule whose `where` starts with `subject.f == LITERAL` (or `in [...]`) only
  meets the subjects whose value can satisfy it; the rest are `not_applicable` unvisited;
- join index: `sum(a.x for a in assignments where a.person == person.id ...)` reads one
  hash bucket instead of the whole collection, so cross-entity rules are linear;
- workers: `workers > 1` forks processes that take chunks of every rule's subjects from
  a shared counter until none is left, so no core idles while another finishes; one of
  them is then kept as the evaluation's `helper`, which computes the report's roll-ups
  while the parent builds its findings (`helper.py`). The rules that read a whole view
  (`Plan.deferred`) wait for it: the parent builds those views (and their join indexes)
  after the fork, and evaluates those rules, while the children start on the others,
  instead of every process waiting for one to build them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import os
import pickle
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from itertools import compress
from operator import itemgetter
from typing import Any

from .. import ast
from ..gcpause import gc_paused
from ..limits import LimitExceeded, time_limit
from ..pipes import widen
from ..program import Program
from ..schema.models import VIEWS
from ..snapshot import Snapshot, ViewSlices, project_key
from ..source import Span
from ..values import DECIMAL_CONTEXT
from . import Evaluation, Result, RunContext
from .compiled import Compiler
from .fastpath import Verdict, VerdictCompiler
from .helper import READY, Helper, end, serve
from .indexes import Index, JoinIndexes, ScopeTest, scope_candidates, scope_holds, scope_test
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
            parallel = self.workers > 1 and _fork_available()
            plan = Plan.build(program, snapshot, as_of, defer=parallel)
            if parallel:
                free = [k for k in range(len(plan.rules)) if k not in plan.deferred]
                out = _evaluate_parallel(Job(plan, include_passes, chunk_bounds(self.workers), self.limits, free),
                                         self.workers)
            else:
                out = _assemble(plan, [_evaluate_share(plan, include_passes, WHOLE, Budget(self.limits),
                                                       self.progress)])
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
    scope: ScopeTest | None  # the `where`'s indexable first conjunct (`indexes.scope_test`)
    # The fast one for the subjects a scope index selected, when those are known to make
    # the first conjunct of the `where` true (`indexes.scope_holds`): it skips that test.
    verdict_in_scope: Verdict | None


@dataclass
class Plan:
    """Everything compiled and indexed once per run, before any worker is forked, so that
    workers share it (copy-on-write) instead of each rebuilding it: the rules, the join
    indexes and the views rules read whole. Two exceptions: views only evaluated as
    subjects (each worker builds the part it evaluates, see `sliced`), and with workers,
    what `prepare` does after the fork (see `deferred`)."""

    program: Program
    snapshot: Snapshot
    run: RunContext
    rules: list[RulePlan]
    indexes: JoinIndexes  # the join indexes (scope indexes: per share, `_verdicts`)
    #: Views only ever evaluated as rules' subjects, not read whole by any rule and not
    #: built yet: each worker builds its share's part (`Snapshot.view_slices`).
    sliced: frozenset[str]
    #: The views some rule reads whole (a join, a scan): built by `build`, or if it
    #: defers, by `prepare`.
    read_whole: frozenset[str] = frozenset()
    #: The rules (by number) compiled by `prepare`, once the whole views they read are
    #: built; until then their `RulePlan` only names the rule and its collection.
    deferred: tuple[int, ...] = ()
    compilers: dict[str, tuple[Compiler, VerdictCompiler]] = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, program: Program, snapshot: Snapshot, as_of: dt.date, *, defer: bool = False) -> Plan:
        """The plan, ready; with `defer`, ready but for `prepare`: the whole views, the join
        indexes and the rules reading whole views are left to it (see `deferred`)."""
        # A view a rule reads by name (a join, a scan) is built whole, in one pass over
        # the projects (`build_views`); one that is only some rules' subjects is built in
        # parts, by the workers, in parallel.
        read_whole: set[str] = set()
        subjects: set[str] = set()
        reads: list[set[str]] = []
        for rule in program.rules:
            fc = rule.for_clause
            assert fc is not None and isinstance(fc.collection, ast.Name)
            # What the rule evaluates besides its subjects (`statements` repeats these).
            body = (fc.where, rule.lets, rule.requires, rule.message)
            reads.append({name for name in _names(body) if name in VIEWS})
            read_whole |= reads[-1]
            subjects.add(fc.collection.name)
        sliced = frozenset(name for name in subjects
                           if name in VIEWS and name not in read_whole and not snapshot.has_view(name))
        deferred = tuple(k for k, rule in enumerate(program.rules)
                         if reads[k] or rule.for_clause.collection.name in read_whole  # type: ignore[union-attr]
                         ) if defer else ()
        plan = cls(program, snapshot, RunContext(snapshot, as_of), [], JoinIndexes(snapshot), sliced,
                   frozenset(read_whole), deferred)
        # Unless deferred, the whole views are built before the rules are compiled: a join
        # over one is compiled with the list it reads.
        if not deferred:
            snapshot.build_views(read_whole)
        plan.rules = [plan._rule(rule) if k not in deferred else _waiting(rule)
                      for k, rule in enumerate(program.rules)]
        # The join indexes the rules compiled so far need, now: after a fork, each process
        # would build them again, copying every page of the records it reads.
        plan.indexes.build_all()
        return plan

    def prepare(self) -> list[int]:
        """Build the whole views, compile the deferred rules and build their join indexes
        (in the parent, after the fork: its children never read them); the numbers of the
        rules it compiled."""
        compiled = list(self.deferred)
        if not compiled:
            return compiled
        self.snapshot.build_views(self.read_whole)
        for k in compiled:
            self.rules[k] = self._rule(self.program.rules[k])
        self.deferred = ()
        self.indexes.build_all()
        return compiled

    def _rule(self, rule: ast.Rule) -> RulePlan:
        fc = rule.for_clause
        assert fc is not None and isinstance(fc.collection, ast.Name)
        params = self.program.params.get(rule.package, {})
        compilers = self.compilers.get(rule.package)
        if compilers is None:
            compilers = self.compilers[rule.package] = (
                Compiler(self.program, params, self.snapshot, self.indexes),
                VerdictCompiler(self.program, params, self.run, self.indexes))
        fast = compilers[1]
        pair = fc.collection.name in self.sliced  # its subjects come as (child, project): `view_slices`
        verdict, scope = fast.rule(rule, pair=pair), scope_test(rule, params)
        in_scope = fast.rule(rule, in_scope=True, pair=pair) if verdict is not None and scope_holds(scope) else None
        return RulePlan(rule, fc.collection.name, params, compilers[0].rule(rule), verdict, scope, in_scope)


def _waiting(rule: ast.Rule) -> RulePlan:
    """A deferred rule's plan until `Plan.prepare` compiles it: nothing may evaluate it."""
    fc = rule.for_clause
    assert fc is not None and isinstance(fc.collection, ast.Name)

    def unprepared(subject: dict, env: _Env) -> Result:
        raise RuntimeError(f"rule `{rule.id}` evaluated before Plan.prepare")
    return RulePlan(rule, fc.collection.name, {}, unprepared, None, None, None)


def _names(node: Any) -> Iterator[str]:
    """Every name an AST node (or tuple of them) mentions, a collection among them,
    shadowed or not."""
    if isinstance(node, ast.Name):
        yield node.name
    elif isinstance(node, tuple):
        for item in node:
            yield from _names(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            v = getattr(node, f.name)
            if isinstance(v, tuple) or (dataclasses.is_dataclass(v) and not isinstance(v, Span)):
                yield from _names(v)


PASS, NOT_APPLICABLE = 1, 2  # verdict codes; 0: not decided (yet), for the full evaluator


#: A part of every collection: units `lo` to `hi` of `units` equal ones (items
#: `n * lo // units` to `n * hi // units` of a collection of `n`).
Share = tuple[int, int, int]
WHOLE: Share = (0, 1, 1)


def _evaluate_share(plan: Plan, include_passes: bool, share: Share, budget: Budget,
                    progress: Any = None, ks: list[int] | None = None) -> Part:
    """Evaluate the rules numbered `ks` (all) on a share of their subjects, a contiguous
    slice of each collection (contiguous, so a forked worker touches, and copies, only its
    part of the snapshot). A view no rule reads whole (`Plan.sliced`) is sliced by
    project: this share's part of it is built here, from this share's projects, and
    dropped when the share is done."""
    if ks is None:
        ks = list(range(len(plan.rules)))
    views = plan.sliced & {plan.rules[k].collection for k in ks}
    with plan.snapshot.view_slices(views, *_bounds(share, len(plan.snapshot.projects)), PROJECT_BLOCK) as local:
        return _evaluate_slices(plan, include_passes, share, budget, progress, local, ks)


def _bounds(share: Share, n: int) -> tuple[int, int]:
    """The share's items of a collection of `n`."""
    lo, hi, units = share
    return n * lo // units, n * hi // units


#: Projects whose verdicts, and those of their risks, gates, milestones... (the view
#: slices), are decided together (`_evaluate_slices`).
PROJECT_BLOCK = 64


def _evaluate_slices(plan: Plan, include_passes: bool, share: Share, budget: Budget,
                     progress: Any, local: ViewSlices, ks: list[int]) -> Part:
    """Two phases. First, subject by subject, every rule's verdict (`fastpath.py`): each
    record is read once for all the rules over its collection while it is in the CPU's
    cache, instead of once per rule. Then, rule by rule and under each rule's time limit,
    the full evaluator (with evidence) takes every pair no verdict decided.

    The projects and the view slices are decided `PROJECT_BLOCK` projects at a time: the
    projects' rules, then their children's, collection by collection. A project's
    children lie next to it in memory, away from the other projects' children: going
    through all the gates of a share after all its projects met a cache miss at almost
    every gate (the library's verdicts at 100,000 projects, one process: 4.3-4.6 s a block
    at a time, against 4.7-5.3 s collection by collection)."""
    program, snapshot, run = plan.program, plan.snapshot, plan.run
    # collection -> (its items, this share's bounds in them): a view slice is all this share's,
    # and its items are its children, with their projects beside them in `parents`
    parts: dict[str, tuple[list[dict], int, int]] = {}
    parents: dict[str, list[dict]] = {}
    passed: dict[str, list[int]] = {}  # collection -> passing checks per subject of the share
    codes: dict[int, bytearray] = {}  # per rule: a verdict code per subject of the share
    groups: dict[str, list[int]] = {}
    for k in ks:
        name = plan.rules[k].collection
        if name not in parts:
            if name in local.views:
                children, parents[name] = local.views[name]
                parts[name] = (children, 0, len(children))
            else:
                items = snapshot.collection(name)
                parts[name] = (items, *_bounds(share, len(items)))
            _, lo, hi = parts[name]
            passed[name] = [0] * (hi - lo)
        _, lo, hi = parts[name]
        codes[k] = bytearray(hi - lo)
        groups.setdefault(name, []).append(k)
    blocked = [name for name in groups if name in local.bounds]  # the projects and the view slices
    for name, group in groups.items():
        if name not in blocked:
            _verdicts(plan, parts[name], group, codes, passed[name], budget, name, parents.get(name))
    for b in range(len(local.bounds["projects"]) - 1):
        for name in blocked:
            ends = local.bounds[name]
            _verdicts(plan, parts[name], groups[name], codes, passed[name], budget, name, parents.get(name),
                      (ends[b], ends[b + 1]))
    out = {}
    for k in ks:
        rp = plan.rules[k]
        rule, evaluate_subject = rp.rule, rp.evaluate_subject
        counts: Counter = Counter()
        results: list[Result] = []
        subjects, lo, _ = parts[rp.collection]
        if rp.collection in parents:  # a view slice: items made only for the full evaluator
            subject_at, id_at = partial(local.item, rp.collection), partial(local.subject_id, rp.collection)
        else:
            subject_at, id_at = subjects.__getitem__, _subject_ids(snapshot, subjects)
        pass_counts = passed[rp.collection]
        code = codes[k]
        passes_here = code.count(PASS)
        not_applicable = code.count(NOT_APPLICABLE)
        if include_passes:
            results.extend(Result(rule.id, id_at(lo + i), "pass") for i in _where(code, PASS))
        undecided = list(_where(code, 0))
        done = 0
        try:
            with budget.limit(rule.id):
                env = _Env(program, rp.params, run)
                for i in undecided:
                    env.vars = {}  # one Env per rule, fresh state per subject
                    env.evidence = {}
                    env.recording = True
                    res = evaluate_subject(subject_at(lo + i), env)
                    done += 1
                    outcome = res.outcome
                    if outcome == "pass":
                        passes_here += 1
                        pass_counts[i] += 1
                        if include_passes:
                            results.append(res)
                    elif outcome == "not_applicable":
                        not_applicable += 1
                    else:
                        counts[outcome] += 1
                        results.append(res)
        except LimitExceeded as exc:
            # Every subject not decided in time is an `error` naming the rule and the limit.
            for i in undecided[done:]:
                counts["error"] += 1
                results.append(Result(rule.id, id_at(lo + i), "error",
                                      f"{exc} (at {rule.span}); this subject was not evaluated",
                                      [], str(rule.span)))
        if passes_here:
            counts["pass"] += passes_here
        if not_applicable:
            counts["not_applicable"] += not_applicable
        out[k] = (rule.id, counts, results)
        if progress is not None:
            progress(len(out), len(ks))
    # Passing checks per subject id, added up in a plain dict (a Counter's missing keys go
    # through Python) over the subjects with any, picked out in C (`compress`).
    tally: dict[str, int] = {}
    get = tally.get
    subject_id = snapshot.subject_id
    for name, pass_counts in passed.items():
        items, lo, hi = parts[name]
        counts = filter(None, pass_counts)
        if name not in VIEWS:
            for sid, n in zip(map(subject_id, compress(items[lo:hi], pass_counts)), counts):
                tally[sid] = get(sid, 0) + n
            continue
        # A view item's checks count for its project (all roll-ups need), whose items are
        # next to each other: added up per run of items of one project, so no
        # `PROJECT/child` id is built for a passing item.
        owners = (compress(parents[name][lo:hi], pass_counts) if name in parents
                  else map(itemgetter("project"), compress(items[lo:hi], pass_counts)))
        last, total = None, 0
        for parent, n in zip(owners, counts):
            if parent is last:
                total += n
                continue
            if last is not None:
                key = project_key(last)
                tally[key] = get(key, 0) + total
            last, total = parent, n
        if last is not None:
            key = project_key(last)
            tally[key] = get(key, 0) + total
    passes = Counter(tally)
    return out, passes


def _subject_ids(snapshot: Snapshot, subjects: list[dict]) -> Callable[[int], str]:
    def at(i: int) -> str:
        return snapshot.subject_id(subjects[i])
    return at


def _where(code: bytearray, value: int) -> Iterator[int]:
    """Indexes holding `value`, found by C-speed scans rather than a loop per subject."""
    i = code.find(value)
    while i != -1:
        yield i
        i = code.find(value, i + 1)


def _verdicts(plan: Plan, part: tuple[list[dict], int, int], ks: list[int], codes: dict[int, bytearray],
              pass_counts: list[int], budget: Budget, collection: str, parents: list[dict] | None = None,
              block: tuple[int, int] | None = None) -> None:
    """Phase one for the rules `ks` over one collection: fill in their verdict codes. For a
    view slice, `part` holds the children and `parents` their projects: the items are
    not made, and the verdicts take (child, project) (`fastpath`, `pair`). `block`: only
    the subjects from the part's `block[0]`-th to before its `block[1]`-th (the codes and
    pass counts are the part's, whichever block).

    It gets the time a rule gets; if it runs out (a plugin stuck, say), what is left stays
    undecided and the full evaluator, under each rule's own limit, names the culprit. The
    subject being decided when time ran out is rolled back whole."""
    subjects, lo, hi = part
    start, stop = block or (0, hi - lo)
    scopes: dict[tuple[str, ...], Index] = {}

    def index_of(keys: tuple[str, ...]) -> Index:
        idx = scopes.get(keys)
        if idx is None:
            if parents is not None and keys[0] == "project":  # the items' `project`: their parents
                idx = scopes[keys] = Index.build(parents[lo + start:lo + stop], keys[1:])
            else:
                idx = scopes[keys] = Index.build(subjects[lo + start:lo + stop], keys)
        return idx

    lanes = []
    for k in ks:
        rp = plan.rules[k]
        mask = None
        # The scope index, of this share only (built here, in the worker, once for all
        # the rules over these subjects): the subjects it leaves out are out of scope.
        positions = scope_candidates(rp.scope, index_of)
        if positions is not None:
            mask = bytearray(stop - start)  # over the block
            for pos in positions:
                mask[pos] = 1
            codes[k][start:stop] = bytes(mask).replace(b"\x00", b"\x02").replace(b"\x01", b"\x00")
            if rp.verdict_in_scope is not None:
                lanes.append((rp.verdict_in_scope, mask, codes[k]))
                continue
        if rp.verdict is not None:
            lanes.append((rp.verdict, mask, codes[k]))
    if not lanes:
        return
    state = (-1, 0)  # (subject being decided, its passes before), for a rollback
    try:
        with budget.limit(f"verdicts over {collection}"):
            for i in range(start, stop):
                state = (i, pass_counts[i])
                subject = subjects[lo + i]
                parent = parents[lo + i] if parents is not None else None  # a view item's project
                j = i - start
                for verdict, mask, code in lanes:
                    if mask is not None and not mask[j]:
                        continue
                    try:
                        decided = verdict(subject, parent)
                    except Exception:  # noqa: BLE001 - "not sure": the full evaluator decides and explains
                        continue
                    if decided is True:
                        code[i] = PASS
                        pass_counts[i] += 1
                    elif decided is False:
                        code[i] = NOT_APPLICABLE
    except LimitExceeded:
        i, before = state
        if i >= 0:
            for _, mask, code in lanes:
                if mask is None or mask[i - start]:
                    code[i] = 0
            pass_counts[i] = before


@dataclass(frozen=True)
class Limits:
    """Per-rule and per-run evaluation time limits, in seconds (None: unlimited)."""

    rule_seconds: float | None = None
    run_seconds: float | None = None


class Budget:
    """What is left of the limits in one process: the run's deadline, and the time each
    rule (or verdict phase) has already used here, over all the chunks it evaluated."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.deadline = time.monotonic() + limits.run_seconds if limits.run_seconds is not None else None
        self.spent: dict[str, float] = {}

    @contextmanager
    def limit(self, rule_id: str) -> Iterator[None]:
        seconds, what, limit = self._left(rule_id)
        start = time.monotonic()
        try:
            with time_limit(seconds, what, limit):
                yield
        finally:
            self.spent[rule_id] = self.spent.get(rule_id, 0.0) + time.monotonic() - start

    def _left(self, rule_id: str) -> tuple[float | None, str, float | None]:
        """(seconds left, what runs out, the limit as set)."""
        limits = self.limits
        left = None if self.deadline is None else max(self.deadline - time.monotonic(), 0.0)
        if limits.rule_seconds is not None:
            rule_left = max(limits.rule_seconds - self.spent.get(rule_id, 0.0), 0.0)
            if left is None or rule_left <= left:
                return rule_left, f"rule `{rule_id}`", limits.rule_seconds
        if left is not None:
            return left, f"the run's evaluation budget ({limits.run_seconds:g} s), reached in rule `{rule_id}`,", None
        return None, "", None


def _fork_available() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def chunk_bounds(workers: int) -> tuple[int, ...]:
    """Where the chunks begin and end, in units of the subjects (the last bound is the
    number of units). With workers, each takes chunks from a shared counter until none is
    left, so that a slower worker (a heavier slice, pages copied on write in a forked
    child) takes fewer chunks instead of keeping the others waiting. The last chunks are
    smaller, so that the workers finish close together: at 100,000 projects a chunk of 4
    units takes 0.3-0.4 s, and the last one to end kept the others idle for as long."""
    sizes = [4] * (12 * workers) + [2] * (2 * workers) + [1] * (4 * workers)
    bounds = [0]
    for size in sizes:
        bounds.append(bounds[-1] + size)
    return tuple(bounds)


#: Per rule number evaluated: (rule id, counts, results); passes per subject.
Part = tuple[dict[int, tuple[str, Counter, list[Result]]], Counter]


@dataclass(frozen=True)
class Job:
    """What every worker evaluates chunks of; forked children inherit it (nothing pickled)."""

    plan: Plan
    include_passes: bool
    bounds: tuple[int, ...]  # `chunk_bounds`
    limits: Limits
    free: list[int]  # the rules (by number) evaluated in chunks: all but `plan.deferred`

    @property
    def chunks(self) -> int:
        return len(self.bounds) - 1

    def share(self, chunk: int) -> Share:
        return self.bounds[chunk], self.bounds[chunk + 1], self.bounds[-1]


def _claim(counter: Any, chunks: int) -> int | None:
    with counter.get_lock():
        chunk = counter.value
        if chunk >= chunks:
            return None
        counter.value = chunk + 1
    return chunk


def _chunks(job: Job, claim: Callable[[], int | None], budget: Budget, done: Callable[[int, Part], None]) -> None:
    """Evaluate chunks as long as there are chunks to claim, handing each to `done`."""
    with decimal.localcontext(DECIMAL_CONTEXT):
        while (chunk := claim()) is not None:
            done(chunk, _evaluate_share(job.plan, job.include_passes, job.share(chunk), budget, ks=job.free))


def astuple(r: Result) -> tuple:
    return (r.rule, r.subject, r.outcome, r.message, r.evidence, r.location, r.waiver, r.note)


def _child(job: Job, counter: Any, conn: Any, requests: Any) -> None:
    # The pipe's writes wait for the parent's receiving thread, which waits for the GIL
    # its own evaluation holds: a chunk's 800 KB took 60 ms to go, a quarter of the time
    # evaluating it took. So a thread of the child's sends while its evaluation goes on.
    outbox: queue.SimpleQueue = queue.SimpleQueue()

    def post() -> None:
        try:
            while (data := outbox.get()) is not None:
                conn.send_bytes(data)
        except OSError:
            pass  # the parent is gone, or stopped listening: what was not sent, it evaluates

    def send(chunk: int, part: Part) -> None:
        # Plain tuples pickle in C, several times faster than slotted dataclasses (whose
        # state goes through Python-level __getstate__), and at half the size.
        parts, passes = part
        outbox.put(pickle.dumps(
            (chunk, {k: (rule_id, counts, [astuple(r) for r in results])
                     for k, (rule_id, counts, results) in parts.items()}, passes),
            protocol=pickle.HIGHEST_PROTOCOL))

    sender = threading.Thread(target=post, daemon=True)
    sender.start()
    try:
        _chunks(job, lambda: _claim(counter, job.chunks), Budget(job.limits), send)
    finally:
        outbox.put(None)
        sender.join()
    # Its chunks done, the child waits: the parent may keep it as its `Helper`.
    try:
        conn.send_bytes(pickle.dumps(READY))
    except OSError:
        return
    serve(job.plan.snapshot, conn, requests)
    conn.close()


def _receive(conn: Any, done: dict[int, Part], ready: list) -> None:
    """Take a child's chunks as it sends them (a thread of the parent's: the child need
    not wait for the parent to finish its own chunks, nor pickle everything at the end),
    until it says it is done and waiting (`READY`: `conn` goes into `ready`)."""
    try:
        while True:
            message = pickle.loads(conn.recv_bytes())  # as `_child` sends them
            if message == READY:
                ready.append(conn)
                return
            chunk, parts, passes = message
            done[chunk] = ({k: (rule_id, counts, [Result(*r) for r in results])
                            for k, (rule_id, counts, results) in parts.items()}, passes)
    except (EOFError, OSError):
        pass  # the child died: its chunks not received are done again


def _evaluate_parallel(job: Job, workers: int) -> Evaluation:
    """Fork `workers - 1` children that inherit the job (program, snapshot, indexes:
    nothing big is pickled in); the parent evaluates chunks too meanwhile, so no core
    waits. Chunks a child claimed but never sent (it died) are evaluated by the parent.
    One child that finished well is kept waiting, as the evaluation's `helper`."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    children = []
    done: dict[int, Part] = {}  # chunk -> its part (filled by this thread and the receivers)
    ready: list = []  # the result pipes of the children done and waiting
    helper = None
    try:
        for _ in range(1, workers):
            receiver, sender = ctx.Pipe(duplex=False)
            asks, requests = ctx.Pipe(duplex=False)
            widen(sender)  # a chunk's results go in a write or two, not sixteen
            proc = ctx.Process(target=_child, args=(job, counter, sender, asks), daemon=True)
            proc.start()
            sender.close()
            asks.close()
            children.append((proc, receiver, requests,
                             threading.Thread(target=_receive, args=(receiver, done, ready), daemon=True)))
        for *_, thread in children:  # after the last fork: no child inherits a thread's state
            thread.start()
        budget = Budget(job.limits)
        # While the children start on the chunks, the whole views, the join indexes and
        # the rules reading whole views; then chunks, as they do.
        deferred = job.plan.prepare()
        whole = [_evaluate_share(job.plan, job.include_passes, WHOLE, budget, ks=deferred)] if deferred else []
        _chunks(job, lambda: _claim(counter, job.chunks), budget, done.__setitem__)
        for proc, receiver, requests, thread in children:
            thread.join()
            if helper is None and receiver in ready:
                helper = Helper(proc, receiver, requests)
            else:
                end(proc, receiver, requests)  # not needed
        missing = iter(sorted(set(range(job.chunks)) - set(done)))  # claimed by a child that died
        _chunks(job, lambda: next(missing, None), budget, done.__setitem__)
        out = _assemble(job.plan, [done[chunk] for chunk in range(job.chunks)] + whole)
    except BaseException:
        if helper is not None:
            helper.close()
        raise
    finally:
        for proc, *_ in children:
            if proc.is_alive() and (helper is None or not helper.holds(proc)):
                proc.kill()
    out.helper = helper
    return out


def _assemble(plan: Plan, parts: list[Part]) -> Evaluation:
    """One evaluation from the chunks' parts, in chunk order: rule by rule, chunk by chunk,
    the same order whichever worker evaluated which chunk. (A rule is in every chunk's
    part, or in one part that evaluated it on every subject.)"""
    out = Evaluation()
    for _, passes in parts:
        out.passes.update(passes)
    for k, rp in enumerate(plan.rules):
        counts = out.counts[rp.rule.id] = Counter()
        for rule_results, _ in parts:
            if k in rule_results:
                _, c, results = rule_results[k]
                counts.update(c)
                out.results.extend(results)
    return out
