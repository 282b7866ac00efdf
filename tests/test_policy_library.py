"""The bundled policy library (`policies/`): size, its own tests, and the bundled sample.

- at least 40 rules across the five files (governance, portfolio, resources, risk,
  performance), each with a `*_test.pmo` file;
- `pmo-rules test policies` passes with 100% rule and require coverage, and every rule
  has at least one `pass` and one `fail` expectation;
- every rule fails on at least one subject of the bundled sample, and no rule gives an
  `error` on it (as of 2026-11-26, the date the sample is built around).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.resources import sample_data
from pmo_rules.testrunner import TestRun, run_tests

POLICIES = api.default_policies()
FILES = ("governance", "portfolio", "resources", "risk", "performance")
AS_OF = dt.date(2026, 11, 26)


@pytest.fixture(scope="module")
def session() -> api.Session:
    return api.Session.create()


@pytest.fixture(scope="module")
def program(session: api.Session):
    program, _ = api.load_program([POLICIES], session)
    return program


@pytest.fixture(scope="module")
def test_run(session: api.Session) -> TestRun:
    return run_tests([POLICIES], session, as_of=AS_OF)


@pytest.fixture(scope="module")
def sample_report(session: api.Session, program) -> dict:
    result = CliRunner().invoke(main, ["audit", "--policies", str(POLICIES), "--data", str(sample_data()),
                                       "--as-of", AS_OF.isoformat(), "--format", "json", "--quiet"])
    assert result.exit_code in (0, 1), result.output  # 3 would mean evaluation errors
    return json.loads(result.stdout)


def test_library_has_at_least_40_rules_across_five_files(program) -> None:
    per_file = Counter(r.package for r in program.rules)
    assert set(per_file) == set(FILES)
    assert all(per_file[f] >= 5 for f in FILES), per_file
    assert len(program.rules) >= 40, per_file
    for f in FILES:
        assert (POLICIES / f"{f}.pmo").is_file()
        assert (POLICIES / f"{f}_test.pmo").is_file()


def test_every_rule_is_documented(program) -> None:
    for rule in program.rules:
        assert rule.meta_value("title"), rule.id
        assert rule.meta_value("severity"), rule.id
        assert rule.meta_value("ref"), rule.id
        assert rule.remediation, rule.id


def test_library_passes_its_own_tests(test_run: TestRun) -> None:
    problems = [t.failure_text() for t in test_run.tests if not t.passed]
    assert not problems, "\n\n".join(problems)
    assert len(test_run.tests) >= 40


def test_library_tests_cover_every_rule_and_require(test_run: TestRun) -> None:
    cov = test_run.coverage
    assert cov.rules_total >= 40
    assert cov.rules_covered == cov.rules_total, [r.rule for r in cov.uncovered_rules]
    assert cov.requires_covered == cov.requires_total, cov.uncovered_requires


def test_every_rule_has_pass_and_fail_expectations(test_run: TestRun, program) -> None:
    seen: dict[str, set[str]] = {r.id: set() for r in program.rules}
    for t in test_run.tests:
        for e in t.expectations:
            seen[e.rule].add(e.actual or "")
    missing = {rule: sorted({"pass", "fail"} - outs) for rule, outs in seen.items() if not {"pass", "fail"} <= outs}
    assert not missing, missing


def test_library_tests_are_in_test_packages(session: api.Session) -> None:
    program, _ = api.load_program([POLICIES], session, include_tests=True)
    for test in program.tests:
        assert test.package.endswith("_test"), test.package
        assert Path(test.span.file).name == f"{test.package}.pmo"


def test_cli_test_on_the_library(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["test", str(POLICIES), "--as-of", AS_OF.isoformat(),
                                       "--coverage-min", "100"])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "ERROR" not in result.output
    assert "require coverage" in result.output and "(100.0%)" in result.output


def test_every_rule_fails_on_the_sample_without_errors(sample_report: dict, program) -> None:
    summary = sample_report["summary"]
    assert set(summary) == {r.id for r in program.rules}
    never_fails = [rule for rule, s in summary.items() if s["counts"]["fail"] + s["counts"]["waived"] == 0]
    assert not never_fails, never_fails
    errors = [(f["rule"], f["subject"], f["message"]) for f in sample_report["findings"] if f["outcome"] == "error"]
    assert not errors, errors


def test_every_rule_passes_somewhere_on_the_sample(sample_report: dict) -> None:
    never_passes = [rule for rule, s in sample_report["summary"].items() if s["counts"]["pass"] == 0]
    assert not never_passes, never_passes
