"""Run the `test` blocks of policy files (SPEC 2.5) and measure what they exercise.

A test builds a small snapshot from its `given`s (inline records or data files, validated
by the same pydantic models as any data file), evaluates the rules its `expect`s name with
the default (indexed) evaluator as of its `as_of` (default: the run's as-of), applies the
waivers loaded with the policies, and compares each expected outcome with the actual one.

Coverage:
- a rule is exercised when at least one expectation evaluated it (named it, for a subject
  that exists in the test's data);
- a `require` is exercised when an expected subject reached it: `pass` exercises every
  `require` of the rule, `fail`/`waived`/`error` at require k exercises requires 1..k (an
  error outside any require, in a `let` or the `where`, exercises none).

Public surface: `run_tests(paths, session, as_of=...) -> TestRun`; `load_suite` and
`run_test` let the pytest plugin run one test at a time; `compute_coverage`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import ast
from .program import Program

_BASE_COLLECTIONS = ("projects", "people", "programs")


class GivenError(Exception):
    """A `given` could not be turned into records; the test errors with this message."""


# --------------------------------------------------------------------- results --


@dataclass
class ExpectationResult:
    rule: str
    subject: str
    expected: str
    actual: str | None  # None when the subject does not exist
    location: str  # of the `expect` line
    message: str | None = None
    evidence: list[tuple[str, Any]] = field(default_factory=list)
    result_location: str | None = None  # the `require` that failed or errored
    waiver: str | None = None
    note: str | None = None  # "no such subject ..." and other explanations

    @property
    def passed(self) -> bool:
        return self.actual is not None and self.actual == self.expected

    def describe(self) -> str:
        head = f'expect {self.rule} {self.expected} for "{self.subject}"'
        if self.actual is None:
            return f"{head}: {self.note or 'no such subject'}"
        if self.passed:
            return f"{head}: ok"
        return f"{head}: got {self.actual}"


@dataclass
class TestResult:
    name: str  # package.test-name
    package: str
    location: str  # file:line:col of the `test`
    file: str
    line: int
    as_of: dt.date | None = None
    expectations: list[ExpectationResult] = field(default_factory=list)
    error: str | None = None  # the test could not run (a bad `given`, an engine crash)

    __test__ = False  # not a pytest class

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        return "pass" if all(e.passed for e in self.expectations) else "fail"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failures(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if not e.passed]

    def failure_text(self) -> str:
        """Readable reasons: expected vs actual, message and evidence of each failed expectation."""
        from .values import display

        if self.error is not None:
            return f"test {self.name} ({self.location}) could not run: {self.error}"
        lines = [f"test {self.name} ({self.location}) failed:"]
        for e in self.failures:
            lines.append(f"  {e.describe()}  ({e.location})")
            if e.actual is None:
                continue
            lines.append(f"      expected: {e.expected}")
            lines.append(f"      actual:   {e.actual}")
            if e.message:
                lines.append(f"      message:  {e.message}")
            if e.result_location:
                lines.append(f"      at:       {e.result_location}")
            if e.waiver:
                lines.append(f"      waiver:   {e.waiver}")
            if e.note:
                lines.append(f"      note:     {e.note}")
            if e.evidence:
                lines.append("      evidence: " + ", ".join(f"{k} = {display(v)}" for k, v in e.evidence))
        return "\n".join(lines)


@dataclass
class RuleCoverage:
    rule: str
    location: str
    requires: list[str]  # location of each `require`, in order
    exercised: bool = False
    requires_hit: set[int] = field(default_factory=set)  # 0-based indexes

    @property
    def uncovered_requires(self) -> list[tuple[int, str]]:
        return [(i + 1, loc) for i, loc in enumerate(self.requires) if i not in self.requires_hit]


@dataclass
class Coverage:
    rules: dict[str, RuleCoverage] = field(default_factory=dict)

    @property
    def rules_total(self) -> int:
        return len(self.rules)

    @property
    def rules_covered(self) -> int:
        return sum(1 for r in self.rules.values() if r.exercised)

    @property
    def requires_total(self) -> int:
        return sum(len(r.requires) for r in self.rules.values())

    @property
    def requires_covered(self) -> int:
        return sum(len(r.requires_hit) for r in self.rules.values())

    @property
    def rule_percent(self) -> float:
        return 100.0 if not self.rules else 100.0 * self.rules_covered / self.rules_total

    @property
    def require_percent(self) -> float:
        total = self.requires_total
        return 100.0 if not total else 100.0 * self.requires_covered / total

    @property
    def uncovered_rules(self) -> list[RuleCoverage]:
        return [r for r in self.rules.values() if not r.exercised]

    @property
    def uncovered_requires(self) -> list[tuple[str, int, str]]:
        """(rule id, 1-based require number, location) for every require not exercised."""
        return [(r.rule, n, loc) for r in self.rules.values() for n, loc in r.uncovered_requires]


@dataclass
class TestRun:
    as_of: dt.date
    tests: list[TestResult]
    coverage: Coverage

    __test__ = False

    @property
    def passed(self) -> bool:
        return all(t.passed for t in self.tests)

    def count(self, status: str) -> int:
        return sum(1 for t in self.tests if t.status == status)


# ------------------------------------------------------------------- the suite --


@dataclass
class Suite:
    """A checked program with its tests, and where each policy file really is."""

    program: Program
    session: Any
    files: dict[str, Path]  # display name (as in spans) -> path on disk

    @property
    def tests(self) -> list[ast.Test]:
        return list(self.program.tests)

    def real_path(self, display_name: str) -> Path:
        return self.files.get(display_name, Path(display_name))


def load_suite(paths: list[Path], session: Any) -> Suite:
    """Parse and check the policy and test files; raises PolicyError like `check` does."""
    from . import api

    program, _ = api.load_program(paths, session, include_tests=True)
    files = {api._display_path(f): f for f in api.policy_files(paths, include_tests=True)}
    for m in program.modules:
        files.setdefault(m.file, Path(m.file))
    return Suite(program, session, files)


def qualified_name(test: ast.Test) -> str:
    return f"{test.package}.{test.name}"


def run_tests(paths: list[Path], session: Any, *, as_of: dt.date | None = None) -> TestRun:
    """Run every test found in `paths` (policy files and `*_test.pmo` side by side)."""
    suite = load_suite(paths, session)
    day = as_of or dt.date.today()
    results = [run_test(suite, t, as_of=day) for t in suite.tests]
    return TestRun(day, results, compute_coverage(suite.program, results))


def run_test(suite: Suite, test: ast.Test, *, as_of: dt.date | None = None) -> TestResult:
    """Run one test block; never raises for problems in the test itself."""
    from .evaluate.engine import IndexedEvaluator
    from .snapshot import Snapshot

    span = test.span
    result = TestResult(qualified_name(test), test.package, str(span), span.file, span.line)
    day = test.as_of or as_of or dt.date.today()
    result.as_of = day
    try:
        data = _given_data(suite, test)
    except GivenError as exc:
        result.error = str(exc)
        return result
    snapshot = Snapshot(**data)
    rules = suite.program.rule_by_id
    wanted = list(dict.fromkeys(e.rule for e in test.expects))
    missing = [r for r in wanted if r not in rules]
    if missing:  # the checker reports these; kept for programs built by hand
        result.error = "unknown rule(s): " + ", ".join(missing)
        return result
    program = dataclasses.replace(suite.program, rules=[r for r in suite.program.rules if r.id in wanted])
    try:
        evaluation = IndexedEvaluator().evaluate(program, snapshot, day, include_passes=True)
    except Exception as exc:  # noqa: BLE001 - an engine crash is this test's error, not the run's
        result.error = f"the evaluator failed: {type(exc).__name__}: {exc}"
        return result
    outcomes = {(r.rule, r.subject): r for r in evaluation.results}
    subjects: dict[str, set[str]] = {}
    for e in test.expects:
        rule = rules[e.rule]
        coll = _collection_of(rule)
        if coll not in subjects:
            subjects[coll] = {snapshot.subject_id(rec) for rec in snapshot.collection(coll)}
        er = ExpectationResult(e.rule, e.subject, e.outcome, None, str(e.span))
        if e.subject not in subjects[coll]:
            known = sorted(subjects[coll])
            shown = ", ".join(f'"{s}"' for s in known[:8]) + (", ..." if len(known) > 8 else "")
            er.note = (f"no such subject `{e.subject}` in `{coll}`"
                       + (f" (subjects: {shown})" if known else f" (the test gives no {coll})"))
            result.expectations.append(er)
            continue
        res = outcomes.get((e.rule, e.subject))
        if res is None:
            er.actual = "not_applicable"
        else:
            er.actual = res.outcome
            er.message = res.message
            er.evidence = list(res.evidence)
            er.result_location = res.location
            er.waiver = res.waiver
            er.note = res.note
        result.expectations.append(er)
    return result


def _collection_of(rule: ast.Rule) -> str:
    fc = rule.for_clause
    assert fc is not None and isinstance(fc.collection, ast.Name)
    return fc.collection.name


# ----------------------------------------------------------------- the givens --


def _given_data(suite: Suite, test: ast.Test) -> dict[str, list[dict]]:
    from .findings import Rejected
    from .load import validate_record
    from .schema.models import COLLECTION_MODELS, VIEWS

    data: dict[str, list[dict]] = {c: [] for c in _BASE_COLLECTIONS}
    seen: dict[str, dict[str, str]] = {c: {} for c in _BASE_COLLECTIONS}
    name = qualified_name(test)

    def add(coll: str, raws: list[Any], origin: str, label: str) -> None:
        rejected: list[Rejected] = []
        for i, raw in enumerate(raws, start=1):
            rec = validate_record(COLLECTION_MODELS[coll], raw, origin, i, rejected)
            if rejected:
                r = rejected[0]
                where = f"record {r.record}" + (f" (id {r.id})" if r.id else "")
                fld = f", field `{r.field}`" if r.field else ""
                raise GivenError(f"test `{name}`: {label} {where}{fld}: {r.message}")
            assert rec is not None
            rid = rec["id"]
            if rid in seen[coll]:
                raise GivenError(f"test `{name}`: {label} record {i}: duplicate id `{rid}` "
                                 f"(first given in {seen[coll][rid]})")
            seen[coll][rid] = f"{label} record {i}"
            data[coll].append(rec)

    for g in test.givens:
        if g.collection is not None:
            label = f"`given {g.collection}` ({g.span})"
            if g.collection in VIEWS:
                raise GivenError(f"test `{name}`: {label}: `{g.collection}` is a view of `projects`; "
                                 f"give the projects with their {VIEWS[g.collection]} instead")
            if g.collection not in COLLECTION_MODELS:
                raise GivenError(f"test `{name}`: {label}: not a collection")
            assert g.expr is not None
            value = _literal(g.expr, name)
            if isinstance(value, dict):
                value = [value]
            if not isinstance(value, list):
                raise GivenError(f"test `{name}`: {label}: give a list of records `[{{...}}, ...]`")
            add(g.collection, value, str(g.span), label)
        else:
            assert g.file is not None
            path = suite.real_path(g.span.file).parent / g.file
            label = f'`given "{g.file}"` ({g.span})'
            for coll, records in _read_file(suite, path, name, label).items():
                if coll in VIEWS or coll not in COLLECTION_MODELS:
                    raise GivenError(f"test `{name}`: {label}: unknown collection `{coll}` "
                                     f"(expected {', '.join(_BASE_COLLECTIONS)})")
                add(coll, list(records), str(path), f"{label} {coll}")
    return data


def _read_file(suite: Suite, path: Path, name: str, label: str) -> dict[str, list]:
    if not path.is_file():
        raise GivenError(f"test `{name}`: {label}: no such file {path}")
    spec = suite.session.registry.source_for(path)
    if spec is None:
        exts = sorted({e for s in suite.session.registry.sources.values() for e in s.extensions})
        raise GivenError(f"test `{name}`: {label}: no data source reads `{path.suffix}` files "
                         f"(known: {', '.join(exts)})")
    try:
        collections = spec.load(path)
    except Exception as exc:  # noqa: BLE001 - reported as this test's error
        raise GivenError(f"test `{name}`: {label}: cannot be read as {spec.name}: {exc}") from None
    if not isinstance(collections, dict):
        raise GivenError(f"test `{name}`: {label}: source `{spec.name}` returned no collections")
    return collections


def _literal(e: ast.Expr, test_name: str) -> Any:
    """An inline value as data: literals, lists, objects and negative numbers only."""
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.ListLit):
        return [_literal(i, test_name) for i in e.items]
    if isinstance(e, ast.ObjectLit):
        out: dict[str, Any] = {}
        for k, v in zip(e.keys, e.values):
            if k in out:
                raise GivenError(f"test `{test_name}`: key `{k}` is given twice in one record ({v.span})")
            out[k] = _literal(v, test_name)
        return out
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Literal) \
            and isinstance(e.operand.value, Decimal):
        return -e.operand.value
    raise GivenError(f"test `{test_name}`: inline data must be literal values; `{e.text}` at {e.span} "
                     "is an expression")


# -------------------------------------------------------------------- coverage --


def _span_contains(span: Any, line: int, col: int) -> bool:
    start = (span.line, span.column)
    end = (span.end_line, span.end_column)
    return start <= (line, col) <= end


def _parse_location(loc: str) -> tuple[str, int, int] | None:
    try:
        file, line, col = loc.rsplit(":", 2)
        return file, int(line), int(col)
    except ValueError:
        return None


def require_index(rule: ast.Rule, location: str | None) -> int | None:
    """0-based index of the `require` a result's location points into, else None."""
    if not location:
        return None
    parsed = _parse_location(location)
    if parsed is None:
        return None
    file, line, col = parsed
    for i, req in enumerate(rule.requires):
        if req.span.file == file and _span_contains(req.span, line, col):
            return i
    return None


def compute_coverage(program: Program, results: list[TestResult]) -> Coverage:
    cov = Coverage()
    rules = program.rule_by_id
    for rule in sorted(program.rules, key=lambda r: r.id):
        cov.rules[rule.id] = RuleCoverage(rule.id, str(rule.span), [str(r.span) for r in rule.requires])
    for t in results:
        for e in t.expectations:
            rc = cov.rules.get(e.rule)
            if rc is None or e.actual is None:
                continue
            rc.exercised = True
            rule = rules[e.rule]
            if e.actual == "pass":
                rc.requires_hit.update(range(len(rule.requires)))
            elif e.actual in ("fail", "waived", "error"):
                k = require_index(rule, e.result_location)
                if k is not None:
                    rc.requires_hit.update(range(k + 1))
    return cov
