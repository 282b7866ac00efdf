"""`pmo-rules audit` as a run: audit trail, workers, progress and output files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pmo_rules.cli import main
from pmo_rules.cli.audit import default_workers, progress_wanted


def audit(tmp_path, *args):
    return CliRunner().invoke(main, ["audit", "--as-of", "2026-11-26", "--quiet", *args])


def test_db_records_each_run_and_html_gets_the_trend(tmp_path):
    db = tmp_path / "audit.db"
    for _ in range(2):
        r = audit(tmp_path, "--db", str(db), "--format", "json", "--output", str(tmp_path / "r.json"))
        assert r.exit_code == 1, r.output
    h = CliRunner().invoke(main, ["history", "--db", str(db), "--format", "json"])
    assert h.exit_code == 0, h.output
    assert len(json.loads(h.output)["runs"]) == 2
    r = audit(tmp_path, "--db", str(db), "--format", "html", "--output", str(tmp_path / "r.html"))
    assert r.exit_code == 1
    assert (tmp_path / "r.html").stat().st_size > 1000


def test_a_corrupt_db_still_writes_the_report_and_fails_the_run(tmp_path):
    db = tmp_path / "bad.db"
    db.write_text("not a database")
    out = tmp_path / "r.json"
    r = audit(tmp_path, "--db", str(db), "--format", "json", "--output", str(out))
    assert r.exit_code == 2
    assert "not an SQLite database" in r.output or "not a database" in r.output
    assert json.loads(out.read_text(encoding="utf-8"))["version"]


def test_output_into_a_missing_folder_is_a_usage_error(tmp_path):
    r = audit(tmp_path, "--format", "json", "--output", str(tmp_path / "nope" / "r.json"))
    assert r.exit_code == 2
    assert "does not exist" in r.output


def test_several_formats_write_one_file_each(tmp_path):
    r = audit(tmp_path, "--format", "json", "--format", "sarif", "--format", "csv", "--output", str(tmp_path / "r"))
    assert r.exit_code == 1, r.output
    assert {p.suffix for p in tmp_path.iterdir()} >= {".json", ".sarif", ".csv"}


def test_workers_give_identical_json(tmp_path):
    outs = []
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}.json"
        r = audit(tmp_path, "--workers", workers, "--format", "json", "--output", str(out))
        assert r.exit_code == 1, r.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_bad_workers_value():
    assert CliRunner().invoke(main, ["audit", "--workers", "0"]).exit_code == 2


def test_progress_only_for_a_person_at_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress_wanted(quiet=False) is True
    assert progress_wanted(quiet=True) is False
    monkeypatch.setenv("CI", "true")
    assert progress_wanted(quiet=False) is False
    monkeypatch.delenv("CI")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert progress_wanted(quiet=False) is False


def test_small_portfolios_do_not_fork():
    assert default_workers(50) == 1
    assert default_workers(100_000) == max(1, os.cpu_count() or 1)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_bar_draws_on_a_terminal_and_not_when_piped(tmp_path):
    import pty

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    cmd = [sys.executable, "-m", "pmo_rules", "audit", "--as-of", "2026-11-26", "--format", "json",
           "--output", str(tmp_path / "r.json")]
    piped = subprocess.run(cmd, capture_output=True, env=env, cwd=tmp_path)
    assert b"evaluating" not in piped.stderr
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(tmp_path)
        os.execvpe(cmd[0], cmd, env)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.waitpid(pid, 0)
    seen = b"".join(chunks)
    assert b"evaluating" in seen or b"loading data" in seen or b"checking policies" in seen
