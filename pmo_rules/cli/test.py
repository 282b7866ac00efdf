"""`pmo-rules test`: run the `test` blocks of policy files and report coverage.

Exit codes: 0 every test passed and rule coverage is at least `--coverage-min`; 1 a test
failed or errored, or coverage is below the minimum; 2 invalid policies or usage.
"""

from __future__ import annotations

import sys

import click

from .. import api
from ..errors import PolicyError, UsageError
from .common import parse_as_of, paths


def _pct(x: float) -> str:
    return f"{x:.1f}%"


@click.command("test")
@click.argument("policy_paths", nargs=-1, type=click.Path())
@click.option("--as-of", "as_of", metavar="DATE",
              help="`today` for tests without their own `as_of` (YYYY-MM-DD). Default: today.")
@click.option("--coverage-min", "coverage_min", type=float, default=0.0, metavar="PCT",
              help="Fail (exit 1) when fewer than PCT percent of the rules are exercised.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show every expectation, and the `require`s no test reaches.")
def command(policy_paths: tuple[str, ...], as_of: str | None, coverage_min: float, verbose: bool) -> None:
    """Run the tests in policy files and `*_test.pmo` files (default: the bundled library)."""
    from ..testrunner import run_tests

    if not 0 <= coverage_min <= 100:
        raise UsageError(f"--coverage-min {coverage_min:g}: give a percentage from 0 to 100")
    session = api.Session.create()
    for p in session.problems:
        click.echo(f"warning: {p}", err=True)
    targets = paths(policy_paths) or [api.default_policies()]
    day = parse_as_of(as_of)
    try:
        run = run_tests(targets, session, as_of=day)
    except PolicyError as exc:
        lone = [p for p in targets if p.is_file() and p.name.endswith("_test.pmo")]
        if lone and any(d.code == "unknown-rule" for d in exc.diagnostics.errors):
            folders = " ".join(sorted({str(p.parent) for p in lone}))
            click.echo(f"note: tests can only name rules loaded with them; give the policy files too, "
                       f"or the folder: `pmo-rules test {folders}`", err=True)
        raise
    out: list[str] = []
    for t in run.tests:
        label = {"pass": "PASS", "fail": "FAIL", "error": "ERROR"}[t.status]
        out.append(f"{label:<5} {t.name}  ({t.location})")
        if t.status == "error":
            out.append(f"      {t.error}")
        elif t.status == "fail":
            out.extend("    " + line for line in t.failure_text().splitlines()[1:])
        elif verbose:
            out.extend(f"      {e.describe()}" for e in t.expectations)
    cov = run.coverage
    n = len(run.tests)
    if not n:
        out.append("no tests found in " + ", ".join(str(p) for p in targets))
    out.append("")
    out.append(f"tests: {run.count('pass')} passed, {run.count('fail')} failed, {run.count('error')} errors "
               f"({n} total, as of {run.as_of.isoformat()} unless a test sets `as_of`)")
    out.append(f"rule coverage: {cov.rules_covered}/{cov.rules_total} rules ({_pct(cov.rule_percent)})")
    out.append(f"require coverage: {cov.requires_covered}/{cov.requires_total} requires "
               f"({_pct(cov.require_percent)})")
    uncovered = cov.uncovered_rules
    if uncovered:
        out.append("rules no test exercises:")
        out.extend(f"    {r.rule}  ({r.location})" for r in uncovered)
    missed = [m for m in cov.uncovered_requires if cov.rules[m[0]].exercised]
    if missed:
        if verbose:
            out.append("requires no test reaches:")
            out.extend(f"    {rule} require #{k}  ({loc})" for rule, k, loc in missed)
        else:
            out.append(f"({len(missed)} require(s) of exercised rules are not reached; -v lists them)")
    ok = run.passed and n > 0
    if cov.rule_percent < coverage_min:
        out.append(f"rule coverage {_pct(cov.rule_percent)} is below --coverage-min {coverage_min:g}%")
        ok = False
    click.echo("\n".join(out))
    sys.exit(0 if ok else 1)
