"""Policy tests (SPEC 2.5, 2.6 "Waivers and tests"): the runner, `pmo-rules test`, the pytest plugin."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.errors import PolicyError
from pmo_rules.testrunner import TestRun, run_tests

pytest_plugins = ["pytester"]

AS_OF = dt.date(2026, 11, 26)

POLICY = """\
package gov

param stale_after = 14d

rule sponsor-assigned {
    severity high
    for project in projects where project.status == "active"
    require project.sponsor is present
        else "{project.id} has no sponsor"
    require any(p.id == project.sponsor for p in people)
        else "{project.id}: sponsor {project.sponsor} is unknown"
}

rule status-fresh {
    for project in projects where project.status == "active"
    require project.last_status_update is present
    require today - project.last_status_update <= stale_after
}

rule budget-set {
    for project in projects where project.status == "active"
    let approved = project.budget.approved
    require approved > 0
    require project.budget.currency is present
    require project.budget.actual_cost / approved <= 2
}

rule open-risks-owned {
    for risk in risks where risk.status == "open"
    require risk.owner is present
}

rule never-tested {
    for program in programs
    require program.budget_cap is present
}

waiver W-1 {
    rule gov.status-fresh
    subjects "PRJ-W"
    reason "Reporting paused"
    approved_by "CFO"
    expires 2099-12-31
}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def run(tmp_path: Path, tests: str, *, policy: str = POLICY, as_of: dt.date | None = AS_OF) -> TestRun:
    write(tmp_path, "gov.pmo", policy)
    write(tmp_path, "gov_test.pmo", "package gov_test\n\n" + textwrap.dedent(tests))
    return run_tests([tmp_path], api.Session.create(), as_of=as_of)


def only(r: TestRun):
    assert len(r.tests) == 1, [t.name for t in r.tests]
    return r.tests[0]


@pytest.fixture(scope="module")
def session() -> api.Session:
    return api.Session.create()


# ----------------------------------------------------------------------- givens --


def test_inline_given_pass_and_fail(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test sponsor {
            given people = [{id: "PER-1"}]
            given projects = [{id: "P1", status: "active", sponsor: null},
                              {id: "P2", status: "active", sponsor: "PER-1"},
                              {id: "P3", status: "active", sponsor: "PER-9"}]
            expect gov.sponsor-assigned fail for "P1"
            expect gov.sponsor-assigned pass for "P2"
            expect gov.sponsor-assigned fail for "P3"
        }
    """))
    assert t.status == "pass", t.failure_text()
    assert t.name == "gov_test.sponsor"
    assert [e.actual for e in t.expectations] == ["fail", "pass", "fail"]
    assert t.expectations[2].message == "P3: sponsor PER-9 is unknown"


def test_missing_fields_read_as_null(tmp_path: Path) -> None:
    # `sponsor` is left out: null, so the first require fails; `budget` left out: `approved > 0` errors.
    t = only(run(tmp_path, """
        test missing {
            given projects = [{id: "P1", status: "active"}]
            expect gov.sponsor-assigned fail for "P1"
            expect gov.budget-set error for "P1"
        }
    """))
    assert t.passed, t.failure_text()
    err = t.expectations[1]
    assert err.message.startswith("`approved` is null, so `>` cannot be decided")
    assert ("approved", None) in err.evidence
    assert err.result_location.endswith("gov.pmo:23:13")


def test_collections_not_given_are_empty_and_views_come_from_projects(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test views {
            given projects = [{id: "P1", status: "active", sponsor: "PER-1",
                               risks: [{id: "R-1", status: "open"}, {id: "R-2", status: "open", owner: "PER-1"},
                                       {id: "R-3", status: "closed"}]}]
            expect gov.sponsor-assigned fail for "P1"
            expect gov.open-risks-owned fail for "P1/R-1"
            expect gov.open-risks-owned pass for "P1/R-2"
            expect gov.open-risks-owned not_applicable for "P1/R-3"
        }
    """))
    # no `people` given: PER-1 is unknown, so the second require fails
    assert t.passed, t.failure_text()
    assert "unknown" in (t.expectations[0].message or "")


def test_inline_values_are_converted_by_the_schema(tmp_path: Path) -> None:
    # dates written as text are dates after validation; numbers are exact decimals
    t = only(run(tmp_path, """
        test converted {
            given projects = [{id: "P1", status: "active", last_status_update: "2026-11-20",
                               budget: {approved: 0.1, actual_cost: 0.2, currency: "EUR"}}]
            as_of 2026-11-26
            expect gov.status-fresh pass for "P1"
            expect gov.budget-set pass for "P1"
        }
    """))
    assert t.passed, t.failure_text()


def test_invalid_inline_record_is_a_test_error(tmp_path: Path) -> None:
    r = run(tmp_path, """
        test bad-record {
            given projects = [{id: "P1", status: "active"}, {id: "P2", status: "running"}]
            expect gov.sponsor-assigned fail for "P1"
        }
        test fine {
            given projects = [{id: "P1", status: "active"}]
            expect gov.sponsor-assigned fail for "P1"
        }
    """)
    bad, fine = r.tests
    assert bad.status == "error"
    assert "gov_test.bad-record" in bad.error
    assert "record 2" in bad.error and "(id P2)" in bad.error
    assert "field `status`" in bad.error
    assert fine.status == "pass"  # one broken test does not stop the others
    assert not r.passed


def test_non_literal_inline_value_is_a_test_error(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test expr {
            given projects = [{id: "P1", status: "active", last_status_update: today}]
            expect gov.status-fresh pass for "P1"
        }
    """))
    assert t.status == "error"
    assert "literal" in t.error and "today" in t.error


def test_given_a_view_is_a_test_error(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test view {
            given risks = [{id: "R-1", status: "open"}]
            expect gov.open-risks-owned fail for "P1/R-1"
        }
    """))
    assert t.status == "error"
    assert "view of `projects`" in t.error


def test_duplicate_ids_are_a_test_error(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test dup {
            given projects = [{id: "P1", status: "active"}, {id: "P1", status: "active"}]
            expect gov.sponsor-assigned fail for "P1"
        }
    """))
    assert t.status == "error" and "duplicate id `P1`" in t.error


def test_given_file_relative_to_the_test_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "portfolio.json").write_text(json.dumps({
        "projects": [{"id": "P1", "status": "active", "sponsor": "PER-1"},
                     {"id": "P2", "status": "active"}],
        "people": [{"id": "PER-1", "name": "Ana"}],
    }), encoding="utf-8")
    (data / "projects.jsonl").write_text(json.dumps({"id": "P3", "status": "active", "sponsor": "PER-1"}) + "\n",
                                         encoding="utf-8")
    t = only(run(tmp_path, """
        test from-file {
            given "data/portfolio.json"
            given "data/projects.jsonl"
            expect gov.sponsor-assigned pass for "P1"
            expect gov.sponsor-assigned fail for "P2"
            expect gov.sponsor-assigned pass for "P3"
        }
    """))
    assert t.passed, t.failure_text()


def test_given_file_and_inline_combine(tmp_path: Path) -> None:
    (tmp_path / "people.json").write_text(json.dumps({"people": [{"id": "PER-1"}]}), encoding="utf-8")
    t = only(run(tmp_path, """
        test mixed {
            given "people.json"
            given projects = [{id: "P1", status: "active", sponsor: "PER-1"}]
            expect gov.sponsor-assigned pass for "P1"
        }
    """))
    assert t.passed, t.failure_text()


def test_given_file_problems_are_test_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"projects": [{"id": "P1", "priority": 9}]}), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    r = run(tmp_path, """
        test missing-file {
            given "nowhere.json"
            expect gov.sponsor-assigned fail for "P1"
        }
        test invalid-record {
            given "bad.json"
            expect gov.sponsor-assigned fail for "P1"
        }
        test unknown-format {
            given "notes.txt"
            expect gov.sponsor-assigned fail for "P1"
        }
    """)
    missing, invalid, unknown = r.tests
    assert missing.status == "error" and "no such file" in missing.error
    assert invalid.status == "error" and "field `priority`" in invalid.error and "record 1" in invalid.error
    assert unknown.status == "error" and "no data source reads `.txt`" in unknown.error


# ---------------------------------------------------------------------- as_of --


def test_as_of_in_the_test_wins(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test dated {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-01-01}]
            as_of 2026-01-10
            expect gov.status-fresh pass for "P1"
        }
    """, as_of=dt.date(2030, 1, 1)))
    assert t.passed, t.failure_text()
    assert t.as_of == dt.date(2026, 1, 10)


def test_as_of_defaults_to_the_run(tmp_path: Path) -> None:
    tests = """
        test undated {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-01-01}]
            expect gov.status-fresh pass for "P1"
        }
    """
    assert only(run(tmp_path, tests, as_of=dt.date(2026, 1, 5))).passed
    late = only(run(tmp_path, tests, as_of=dt.date(2026, 3, 1)))
    assert late.status == "fail" and late.as_of == dt.date(2026, 3, 1)


def test_as_of_defaults_to_today(tmp_path: Path) -> None:
    today = dt.date.today()
    t = only(run(tmp_path, f"""
        test today {{
            given projects = [{{id: "P1", status: "active", last_status_update: {today.isoformat()}}}]
            expect gov.status-fresh pass for "P1"
        }}
    """, as_of=None))
    assert t.passed and t.as_of == today


# ------------------------------------------------------------------ outcomes --


def test_expect_every_outcome(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test outcomes {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-11-20},
                              {id: "P2", status: "active", last_status_update: 2026-01-01},
                              {id: "PRJ-W", status: "active", last_status_update: 2026-01-01},
                              {id: "P4", status: "active"},
                              {id: "P5", status: "proposed"}]
            as_of 2026-11-26
            expect gov.status-fresh pass for "P1"
            expect gov.status-fresh fail for "P2"
            expect gov.status-fresh waived for "PRJ-W"
            expect gov.budget-set error for "P4"
            expect gov.status-fresh not_applicable for "P5"
        }
    """))
    assert t.passed, t.failure_text()
    waived = t.expectations[2]
    assert waived.waiver == "W-1"


def test_waivers_in_test_files_apply(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        waiver W-2 {
            rule gov.sponsor-assigned
            subjects where project.name == "Legacy"
            reason "Sponsor hand-over"
            approved_by "CFO"
            expires 2099-01-31
        }
        test waived-here {
            given projects = [{id: "P1", name: "Legacy", status: "active"}]
            expect gov.sponsor-assigned waived for "P1"
        }
    """))
    assert t.passed, t.failure_text()


def test_failing_expectation_is_reported_with_message_and_evidence(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test wrong {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-10-01}]
            as_of 2026-11-26
            expect gov.status-fresh pass for "P1"
            expect gov.sponsor-assigned fail for "P1"
        }
    """))
    assert t.status == "fail"
    [bad] = t.failures
    assert (bad.rule, bad.subject, bad.expected, bad.actual) == ("gov.status-fresh", "P1", "pass", "fail")
    assert bad.message and "does not hold" in bad.message
    assert ("stale_after", "14d") in bad.evidence
    assert ("project.last_status_update", "2026-10-01") in bad.evidence
    assert bad.location.endswith("gov_test.pmo:7:5")
    assert bad.result_location.endswith("gov.pmo:17:13")  # the second require of status-fresh
    text = t.failure_text()
    assert "expected: pass" in text and "actual:   fail" in text
    assert "evidence:" in text and "stale_after = 14d" in text
    assert 'expect gov.status-fresh pass for "P1"' in text


def test_unknown_subject_fails_the_test(tmp_path: Path) -> None:
    t = only(run(tmp_path, """
        test typo {
            given projects = [{id: "P1", status: "active"}]
            expect gov.sponsor-assigned fail for "P9"
            expect gov.open-risks-owned fail for "P1/R-1"
        }
    """))
    assert t.status == "fail"
    first, second = t.expectations
    assert first.actual is None and "no such subject `P9` in `projects`" in first.note
    assert '"P1"' in first.note  # the subjects that do exist are listed
    assert second.actual is None and "no such subject `P1/R-1` in `risks`" in second.note
    assert "no such subject" in t.failure_text()


def test_unknown_rule_is_a_check_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as exc:
        run(tmp_path, """
            test typo {
                given projects = [{id: "P1", status: "active"}]
                expect gov.sponsor-asigned fail for "P1"
            }
        """)
    assert "sponsor-asigned" in str(exc.value)


def test_a_test_may_name_rules_of_any_loaded_file(tmp_path: Path) -> None:
    write(tmp_path, "other.pmo", """\
        package other
        rule cap-set {
            for program in programs
            require program.budget_cap is present
        }
    """)
    r = run(tmp_path, """
        test cross {
            given programs = [{id: "PGM-1"}]
            given projects = [{id: "P1", status: "active"}]
            expect other.cap-set fail for "PGM-1"
            expect gov.sponsor-assigned fail for "P1"
        }
    """)
    assert only(r).passed


# -------------------------------------------------------------------- coverage --


def test_coverage_numbers(tmp_path: Path) -> None:
    r = run(tmp_path, """
        test cov {
            given projects = [{id: "P1", status: "active", sponsor: "PER-9"},
                              {id: "P2", status: "active", budget: {approved: 5}},
                              {id: "P3", status: "active", last_status_update: 2026-11-20}]
            as_of 2026-11-26
            expect gov.sponsor-assigned fail for "P1"
            expect gov.budget-set fail for "P2"
            expect gov.status-fresh pass for "P3"
        }
        test erroring {
            given projects = [{id: "P1", status: "active", budget: {approved: 5, currency: "EUR"}}]
            expect gov.budget-set error for "P1"
        }
    """)
    assert r.passed, [t.failure_text() for t in r.tests]
    cov = r.coverage
    # 5 rules; sponsor-assigned, budget-set, status-fresh exercised
    assert (cov.rules_covered, cov.rules_total) == (3, 5)
    assert cov.rule_percent == pytest.approx(60.0)
    by = cov.rules
    # sponsor-assigned: P1 fails at require 2 -> requires 1 and 2
    assert by["gov.sponsor-assigned"].requires_hit == {0, 1}
    # status-fresh: a pass exercises every require
    assert by["gov.status-fresh"].requires_hit == {0, 1}
    # budget-set: P2 fails at require 2 (no currency), the other test errors at require 3
    assert by["gov.budget-set"].requires_hit == {0, 1, 2}
    assert not by["gov.open-risks-owned"].exercised and not by["gov.never-tested"].exercised
    assert (cov.requires_covered, cov.requires_total) == (7, 9)
    assert {r.rule for r in cov.uncovered_rules} == {"gov.open-risks-owned", "gov.never-tested"}
    assert [(rule, n) for rule, n, _ in cov.uncovered_requires] == [("gov.never-tested", 1),
                                                                    ("gov.open-risks-owned", 1)]


def test_coverage_fail_at_first_require_and_error_in_let(tmp_path: Path) -> None:
    policy = POLICY.replace("let approved = project.budget.approved",
                            "let approved = project.budget.approved / project.budget.actual_cost")
    r = run(tmp_path, """
        test partial {
            given projects = [{id: "P1", status: "active"}, {id: "P2", status: "active", budget: {approved: 1}}]
            expect gov.sponsor-assigned fail for "P1"
            expect gov.budget-set error for "P2"
        }
    """, policy=policy)
    assert r.passed, r.tests[0].failure_text()
    by = r.coverage.rules
    assert by["gov.sponsor-assigned"].requires_hit == {0}
    # an error in a `let` reaches no require, but the rule was exercised
    assert by["gov.budget-set"].exercised and by["gov.budget-set"].requires_hit == set()


def test_unknown_subject_does_not_count_as_coverage(tmp_path: Path) -> None:
    r = run(tmp_path, """
        test typo {
            given projects = [{id: "P1", status: "active"}]
            expect gov.sponsor-assigned fail for "P9"
        }
    """)
    assert r.coverage.rules_covered == 0


# ------------------------------------------------------------------------- CLI --


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}")
    return result


FULL_TESTS = """
    test all {
        given people = [{id: "PER-1"}]
        given programs = [{id: "PGM-1", budget_cap: 1}]
        given projects = [{id: "P1", status: "active", sponsor: "PER-1", last_status_update: 2026-11-20,
                           budget: {approved: 1, actual_cost: 1, currency: "EUR"},
                           risks: [{id: "R-1", status: "open", owner: "PER-1"}]}]
        as_of 2026-11-26
        expect gov.sponsor-assigned pass for "P1"
        expect gov.status-fresh pass for "P1"
        expect gov.budget-set pass for "P1"
        expect gov.open-risks-owned pass for "P1/R-1"
        expect gov.never-tested pass for "PGM-1"
    }
"""


def test_cli_all_pass_full_coverage(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", "package gov_test\n" + textwrap.dedent(FULL_TESTS))
    r = cli("test", str(tmp_path), "--coverage-min", "100")
    assert r.exit_code == 0, r.output
    assert "PASS  gov_test.all" in r.output
    assert "rule coverage: 5/5 rules (100.0%)" in r.output
    assert "require coverage: 9/9 requires (100.0%)" in r.output


def test_cli_failing_test_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", """\
        package gov_test
        test wrong {
            given projects = [{id: "P1", status: "active", sponsor: null}]
            expect gov.sponsor-assigned pass for "P1"
            expect gov.sponsor-assigned pass for "P7"
        }
    """)
    r = cli("test", str(tmp_path))
    assert r.exit_code == 1
    assert "FAIL  gov_test.wrong" in r.output
    assert "expected: pass" in r.output and "actual:   fail" in r.output
    assert "P1 has no sponsor" in r.output
    assert "no such subject `P7`" in r.output
    assert "tests: 0 passed, 1 failed, 0 errors" in r.output
    assert "rules no test exercises:" in r.output and "gov.never-tested" in r.output


def test_cli_test_error_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", """\
        package gov_test
        test broken {
            given projects = [{id: "P1", priority: 9}]
            expect gov.sponsor-assigned pass for "P1"
        }
    """)
    r = cli("test", str(tmp_path))
    assert r.exit_code == 1
    assert "ERROR gov_test.broken" in r.output and "field `priority`" in r.output


def test_cli_coverage_min(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", """\
        package gov_test
        test one {
            given projects = [{id: "P1", status: "active", sponsor: null}]
            expect gov.sponsor-assigned fail for "P1"
        }
    """)
    assert cli("test", str(tmp_path)).exit_code == 0
    assert cli("test", str(tmp_path), "--coverage-min", "20").exit_code == 0
    r = cli("test", str(tmp_path), "--coverage-min", "50")
    assert r.exit_code == 1
    assert "rule coverage: 1/5 rules (20.0%)" in r.output
    assert "below --coverage-min 50%" in r.output
    assert cli("test", str(tmp_path), "--coverage-min", "150").exit_code == 2


def test_cli_verbose_lists_expectations_and_missed_requires(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", """\
        package gov_test
        test one {
            given projects = [{id: "P1", status: "active", sponsor: null}]
            expect gov.sponsor-assigned fail for "P1"
        }
    """)
    quiet = cli("test", str(tmp_path))
    assert "-v lists them" in quiet.output
    r = cli("test", str(tmp_path), "-v")
    assert r.exit_code == 0
    assert 'expect gov.sponsor-assigned fail for "P1": ok' in r.output
    assert "gov.sponsor-assigned require #2" in r.output


def test_cli_invalid_policy_exits_2(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", "package gov\nrule r {\n    for project in projects\n    require project.sponsr is present\n}\n")
    r = cli("test", str(tmp_path))
    assert r.exit_code == 2
    assert "sponsr" in r.output


def test_cli_as_of(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    write(tmp_path, "gov_test.pmo", """\
        package gov_test
        test undated {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-01-01}]
            expect gov.status-fresh pass for "P1"
        }
    """)
    assert cli("test", str(tmp_path), "--as-of", "2026-01-02").exit_code == 0
    assert cli("test", str(tmp_path), "--as-of", "2026-06-01").exit_code == 1
    assert cli("test", str(tmp_path), "--as-of", "June").exit_code == 2


def test_cli_no_tests_exits_1(tmp_path: Path) -> None:
    write(tmp_path, "gov.pmo", POLICY)
    r = cli("test", str(tmp_path))
    assert r.exit_code == 1
    assert "no tests found" in r.output


def test_cli_default_is_the_bundled_library() -> None:
    r = cli("test", "--as-of", "2026-11-26")
    assert r.exit_code == 0, r.output
    assert "FAIL" not in r.output and "ERROR" not in r.output
    assert "(100.0%)" in r.output


# ------------------------------------------------------------------ pytest plugin --


def _plugin_args() -> list[str]:
    """Load the plugin explicitly unless its `pytest11` entry point is installed."""
    installed = any(ep.value == "pmo_rules.testing" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "pmo_rules.testing"]


def _make_suite(pytester: pytest.Pytester, tests: str) -> None:
    pytester.makefile(".pmo", gov=POLICY)
    (pytester.path / "gov_test.pmo").write_text("package gov_test\n" + textwrap.dedent(tests), encoding="utf-8")


def test_pytest_plugin_collects_and_runs(pytester: pytest.Pytester) -> None:
    _make_suite(pytester, """
        test good {
            given projects = [{id: "P1", status: "active", sponsor: null}]
            expect gov.sponsor-assigned fail for "P1"
        }
        test bad {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-10-01}]
            as_of 2026-11-26
            expect gov.status-fresh pass for "P1"
        }
        test broken {
            given projects = [{id: "P1", status: "nope"}]
            expect gov.status-fresh pass for "P1"
        }
    """)
    result = pytester.runpytest(*_plugin_args(), "-v", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*gov_test.pmo::good PASSED*", "*gov_test.pmo::bad FAILED*"])
    assert "expected: pass" in out and "actual:   fail" in out
    assert "project.last_status_update = 2026-10-01" in out
    assert "field `status`" in out
    assert "Traceback" not in out and "testrunner.py" not in out


def test_pytest_plugin_as_of_option(pytester: pytest.Pytester) -> None:
    _make_suite(pytester, """
        test undated {
            given projects = [{id: "P1", status: "active", last_status_update: 2026-01-01}]
            expect gov.status-fresh pass for "P1"
        }
    """)
    pytester.runpytest(*_plugin_args(), "--pmo-as-of", "2026-01-03").assert_outcomes(passed=1)
    pytester.runpytest(*_plugin_args(), "--pmo-as-of", "2026-03-01").assert_outcomes(failed=1)


def test_pytest_plugin_invalid_policy_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pmo", gov="package gov\nrule r {\n    for project in projects\n    require project.sponsr is present\n}\n")
    (pytester.path / "gov_test.pmo").write_text("package gov_test\n", encoding="utf-8")
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(errors=1)
    assert "sponsr" in result.stdout.str()


def test_pytest_plugin_ignores_other_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".pmo", gov=POLICY)  # a policy file, not a test file
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = pytester.runpytest(*_plugin_args())
    result.assert_outcomes(passed=1)


def test_pytest_plugin_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixture="""
        def test_session(pmo_session):
            assert "cpi" in pmo_session.registry.functions
    """)
    pytester.runpytest(*_plugin_args()).assert_outcomes(passed=1)


def test_plugin_module_is_cheap_to_import() -> None:
    import subprocess
    import sys

    code = ("import sys, pmo_rules.testing; "
            "heavy = [m for m in ('lark', 'pydantic', 'pmo_rules.api', 'pmo_rules.evaluate') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
