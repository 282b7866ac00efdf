"""Hardening: determinism. The same policies, data, params and as-of give byte-identical
JSON, SARIF, JUnit, CSV, Markdown, text and HTML, across runs, across worker counts and
across `PYTHONHASHSEED` values (so no set or dict order leaks into a report).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pmo_rules import api
from pmo_rules.evaluate.engine import IndexedEvaluator

AS_OF = "2026-11-26"
FORMATS = ("json", "sarif", "junit", "csv", "markdown", "text", "html")
PARAMS = ["performance.cpi_floor=0.85", "governance.stale_after=21d"]


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory) -> Path:
    """A generated portfolio big enough that two workers both get subjects of every rule."""
    out = tmp_path_factory.mktemp("portfolio")
    proc = subprocess.run([sys.executable, "-m", "pmo_rules", "generate", "--projects", "240", "--seed", "7",
                           "--output", str(out / "data")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # Hostile and edge-case records in the mix, and one rejected record.
    with open(out / "data" / "projects.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"id": "ZZ-<x>", "name": "=SUM(1) \\u202e \\u001b[31m", "status": "active"}\n')
        fh.write('{"id": "ZZ-bad", "status": "Active"}\n')
    return out / "data"


def _render_all(report, session) -> dict[str, str]:
    return {f: session.registry.formats[f].render(report, {}) for f in FORMATS}


def test_two_runs_and_one_or_two_workers_render_identical_bytes(portfolio):
    outs = []
    for workers in (1, 2, 1):
        session = api.Session.create()
        program, _ = api.load_program([api.default_policies()], session,
                                      overrides=dict(p.split("=", 1) for p in PARAMS))
        loaded = api.load_data([portfolio], session)
        report = api.audit(program, loaded, dt.date.fromisoformat(AS_OF), include_passes=True,
                           evaluator=IndexedEvaluator(workers))
        outs.append(_render_all(report, session))
    assert outs[0]["json"].count('"outcome": "pass"') > 100  # passes listed: a real comparison
    for f in FORMATS:
        assert outs[0][f] == outs[1][f], f"{f} differs between --workers 1 and --workers 2"
        assert outs[0][f] == outs[2][f], f"{f} differs between two runs"


def _cli(portfolio: Path, out_dir: Path, *, seed: str, workers: int) -> dict[str, bytes]:
    out_dir.mkdir()
    args = [sys.executable, "-m", "pmo_rules", "audit", "--data", str(portfolio), "--as-of", AS_OF,
            "--output", str(out_dir / "report.out"), "--workers", str(workers), "--quiet", "--include-passes"]
    for p in PARAMS:
        args += ["--param", p]
    for f in FORMATS:
        args += ["--format", f]
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(args, capture_output=True, timeout=300, env=env, cwd=out_dir.parent)
    assert proc.returncode in (0, 1, 3), proc.stderr.decode(errors="replace")
    files = {p.suffix: p.read_bytes() for p in out_dir.iterdir()}
    assert len(files) == len(FORMATS), sorted(files)
    return files


def test_the_cli_writes_identical_bytes_whatever_the_hash_seed_and_workers(portfolio, tmp_path):
    runs = {
        ("0", 1): _cli(portfolio, tmp_path / "a", seed="0", workers=1),
        ("12345", 2): _cli(portfolio, tmp_path / "b", seed="12345", workers=2),
        ("4242", 3): _cli(portfolio, tmp_path / "c", seed="4242", workers=3),
    }
    first_key, first = next(iter(runs.items()))
    for key, files in runs.items():
        for suffix, data in first.items():
            assert files[suffix] == data, f"{suffix}: {first_key} and {key} differ"
    # Not vacuous: the reports hold the findings, the rejection and the params.
    assert b'"ZZ-bad"' in first[".json"] and b'"performance.cpi_floor": 0.85' in first[".json"]


def test_a_different_as_of_does_change_the_report(portfolio):
    """The comparison above would also pass if reports ignored their inputs; they do not."""
    session = api.Session.create()
    program, _ = api.load_program([api.default_policies()], session)
    loaded = api.load_data([portfolio], session)
    a = api.audit(program, loaded, dt.date(2026, 11, 26))
    b = api.audit(program, loaded, dt.date(2027, 6, 1))
    assert session.registry.formats["json"].render(a, {}) != session.registry.formats["json"].render(b, {})
