"""Shared fixtures for the language and evaluator tests.

- `session`: one plugin session for the whole test run.
- `run(policy_text, data, as_of=...)`: audit a policy text on inline data and return
  `{(rule, subject): finding}` (passes included; `not_applicable` is only in the summary).
- `lang`: small helpers built on the public API (`value`, `outcome`, `diags`, ...).
- `--update-golden`: rewrite `tests/golden/errors/*.err` from the current output.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pmo_rules import api
from pmo_rules.cachedir import CACHE_ENV
from pmo_rules.errors import PolicyError

TESTS_DIR = Path(__file__).resolve().parent
SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "SPEC.md"
AS_OF = "2026-11-26"


def pytest_configure(config: pytest.Config) -> None:
    # The built parser's cache (`grammar.py`) in a folder of this run's own, not the
    # user's: the CLI run in subprocesses inherits it.
    if CACHE_ENV not in os.environ:
        os.environ[CACHE_ENV] = config._pmo_cache = tempfile.mkdtemp(prefix="pmo-rules-cache-")  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = getattr(config, "_pmo_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(CACHE_ENV, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/errors/*.err from the current `pmo-rules check` output")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


# ----------------------------------------------------------------------- SPEC --


def spec_text() -> str:
    if not SPEC_PATH.is_file():
        pytest.skip(f"SPEC.md not found at {SPEC_PATH} (the shared folder is not checked out next to the repo)")
    return SPEC_PATH.read_text(encoding="utf-8")


def spec_code_blocks(section: str) -> list[str]:
    """The fenced code blocks of one `### N.M` section of SPEC.md, in order."""
    text = spec_text()
    start = text.find(f"### {section} ")
    assert start >= 0, f"SPEC.md has no section {section}"
    nxt = re.search(r"^##+ ", text[start + 4:], re.M)
    body = text[start: start + 4 + nxt.start()] if nxt else text[start:]
    return re.findall(r"^```[a-z]*\n(.*?)^```", body, re.S | re.M)


# ---------------------------------------------------------------------- helpers --


@dataclass
class Lang:
    """Helpers over the public API; every evaluation goes through `api.audit_text`."""

    session: api.Session

    def report(self, text: str, data: dict[str, list[dict]] | None = None, as_of: str = AS_OF):
        return api.audit_text(text, data or {}, as_of, session=self.session)

    def run(self, text: str, data: dict[str, list[dict]] | None = None, as_of: str = AS_OF) -> dict:
        report = self.report(text, data, as_of)
        return {(f.rule, f.subject): f for f in report.findings}

    def check(self, text: str, name: str = "t.pmo"):
        return api.check_text(text, self.session, name)

    def diags(self, text: str, name: str = "t.pmo") -> list:
        _, d = self.check(text, name)
        return d.sorted()

    def codes(self, text: str, name: str = "t.pmo") -> list[str]:
        return [d.code for d in self.diags(text, name)]

    def rendered(self, text: str, name: str = "t.pmo") -> str:
        _, d = self.check(text, name)
        return d.render()

    def rule(self, body: str, *, package: str = "t", name: str = "r", header: str = "") -> str:
        return f"package {package}\n{header}\nrule {name} {{\n{body}\n}}\n"

    # One project subject; the expression is bound by a `let` and read back from evidence.
    def finding(self, expr: str, project: dict | None = None, *, header: str = "",
                data: dict | None = None, as_of: str = AS_OF):
        text = self.rule(f"for project in projects\nlet v = {expr}\nrequire false", header=header)
        d = dict(data or {})
        d["projects"] = [project or {"id": "P1"}]
        found = self.run(text, d, as_of)
        return found[("t.r", (project or {"id": "P1"})["id"])]

    def value(self, expr: str, project: dict | None = None, *, header: str = "",
              data: dict | None = None, as_of: str = AS_OF) -> Any:
        """The value of EXPR (as evidence prints it: exact Decimal, dates/durations as text)."""
        f = self.finding(expr, project, header=header, data=data, as_of=as_of)
        assert f.outcome == "fail", f"`{expr}` did not evaluate: {f.outcome}: {f.message}"
        ev = {e.expr: e.value for e in f.evidence}
        assert "v" in ev, f"no evidence for the let: {f.evidence}"
        return ev["v"]

    def outcome_finding(self, cond: str, project: dict | None = None, *, header: str = "",
                        data: dict | None = None, lets: str = "", as_of: str = AS_OF):
        text = self.rule(f"for project in projects\n{lets}\nrequire {cond}", header=header)
        d = dict(data or {})
        d["projects"] = [project or {"id": "P1"}]
        found = self.run(text, d, as_of)
        return found[("t.r", (project or {"id": "P1"})["id"])]

    def outcome(self, cond: str, project: dict | None = None, **kw) -> str:
        return self.outcome_finding(cond, project, **kw).outcome


@pytest.fixture(scope="session")
def session() -> api.Session:
    return api.Session.create()


@pytest.fixture(scope="session")
def lang(session: api.Session) -> Lang:
    return Lang(session)


@pytest.fixture(scope="session")
def run(lang: Lang):
    """`run(policy_text, data, as_of="2026-11-26") -> {(rule, subject): finding}`."""
    return lang.run


@pytest.fixture(scope="session")
def spec_blocks():
    """`spec_blocks("2.1") -> [code block text, ...]` from SPEC.md (skips if SPEC.md is absent)."""
    return spec_code_blocks


@pytest.fixture(scope="session")
def audit(lang: Lang):
    """`audit(policy_text, data, as_of=...) -> Report` (passes included)."""
    return lang.report


__all__ = ["AS_OF", "Lang", "PolicyError", "SPEC_PATH", "TESTS_DIR", "spec_code_blocks", "spec_text"]
