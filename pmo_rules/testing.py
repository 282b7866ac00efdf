"""pytest plugin: collect the `test` blocks of `*_test.pmo` files as pytest items.

Registered through the `pytest11` entry point, so `pytest policies/` runs the policy
tests next to any Python tests. Each `*_test.pmo` file is a collector; each `test` block
in it is one item. A test file is loaded together with the policy files in its folder
(policies and their tests live side by side), once per folder per session.

Options: `--pmo-as-of DATE` sets `today` for tests without their own `as_of`.
Fixture: `pmo_session`, a `pmo_rules.api.Session` shared by the whole pytest session.

The module imports only pytest at import time: pmo_rules itself is imported when the first
`.pmo` file is collected, so runs without policy files pay nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

_SUITES = pytest.StashKey[dict]()
_SESSION = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pmo-rules")
    group.addoption("--pmo-as-of", dest="pmo_as_of", metavar="DATE", default=None,
                    help="pmo-rules: the date `today` means in policy tests without `as_of` (default: today).")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.name.endswith("_test.pmo"):
        return PmoFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def pmo_session(request: pytest.FixtureRequest) -> Any:
    """A pmo_rules `Session` (plugin manager and registry), created once per pytest run."""
    return _session(request.config)


def _session(config: pytest.Config) -> Any:
    if _SESSION not in config.stash:
        from pmo_rules.api import Session

        config.stash[_SESSION] = Session.create()
    return config.stash[_SESSION]


def _as_of(config: pytest.Config) -> dt.date:
    value = config.getoption("pmo_as_of", None)
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise pytest.UsageError(f"--pmo-as-of `{value}` is not a date in YYYY-MM-DD form") from None


def _suite(config: pytest.Config, folder: Path) -> Any:
    """The checked program of one folder (its policies and tests), loaded once."""
    suites = config.stash.setdefault(_SUITES, {})
    key = folder.resolve()
    if key not in suites:
        from pmo_rules.errors import PmoError
        from pmo_rules.testrunner import load_suite

        try:
            suites[key] = load_suite([folder], _session(config))
        except PmoError as exc:
            suites[key] = exc
    got = suites[key]
    if isinstance(got, Exception):
        raise PmoCollectError(got)
    return got


class PmoCollectError(Exception):
    """The policy folder does not check; shown as the diagnostics `pmo-rules check` prints."""

    def __init__(self, error: Exception):
        self.error = error
        super().__init__(str(error))


class PmoTestFailure(Exception):
    def __init__(self, result: Any):
        self.result = result
        super().__init__(result.failure_text())


class PmoFile(pytest.File):
    def collect(self):
        suite = _suite(self.config, self.path.parent)
        mine = self.path.resolve()
        for test in suite.tests:
            if suite.real_path(test.span.file).resolve() == mine:
                yield PmoItem.from_parent(self, name=test.name, suite=suite, test=test)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # type: ignore[override]
        if isinstance(excinfo.value, PmoCollectError):
            return f"policies in {self.path.parent} do not check:\n{excinfo.value}"
        return super().repr_failure(excinfo, style)


class PmoItem(pytest.Item):
    def __init__(self, *, suite: Any, test: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.suite = suite
        self.test = test
        self.result: Any = None

    def runtest(self) -> None:
        from pmo_rules.testrunner import run_test

        self.result = run_test(self.suite, self.test, as_of=_as_of(self.config))
        if not self.result.passed:
            raise PmoTestFailure(self.result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):  # type: ignore[override]
        if isinstance(excinfo.value, PmoTestFailure):
            return excinfo.value.result.failure_text()
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.test.span.line - 1, f"pmo test {self.test.package}.{self.test.name}"
