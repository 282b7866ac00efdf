"""The audit trail (SPEC 6): recording runs, migrations, atomicity, concurrency, errors,
and the `history`, `diff` and `report` commands."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from pmo_rules import api, storage
from pmo_rules.cli import main
from pmo_rules.errors import PmoError
from pmo_rules.migrations import MIGRATIONS, SchemaTooNewError, applied, migrate
from pmo_rules.storage import AuditTrail, AuditTrailError, hash_files, hash_params, record_run

AS_OF = "2026-11-26"

POLICY = """package gov
param cap = 100.10
rule within-cap {
    title "Within cap"
    severity high
    tags "money", "audit"
    for project in projects
    let total = project.budget.approved
    require total <= cap else "{project.id}: {total} over {cap}"
}
waiver W-1 {
    rule gov.within-cap
    subjects "P2"
    reason "Approved overspend"
    approved_by "CFO"
    expires 2026-12-01
}
"""

RES_POLICY = """package res
rule has-manager {
    for project in projects
    require project.manager is present else "{project.id} has no manager"
}
"""

EXACT = "100.1000000000000000001"
DATA_1 = {"projects": [
    {"id": "P1", "budget": {"approved": EXACT}},  # fail, by an exact hair
    {"id": "P2", "budget": {"approved": 200}},    # waived
    {"id": "P3", "budget": {"approved": 5}},      # pass
    {"id": "P4"},                                 # error: no budget
]}
DATA_2 = {"projects": [
    {"id": "P1", "budget": {"approved": 100}},    # resolved (now passes)
    {"id": "P2", "budget": {"approved": 200}},    # still waived
    {"id": "P3", "budget": {"approved": 500}},    # new failure
    {"id": "P4"},                                 # still an error
]}
START = dt.datetime(2026, 11, 26, 9, 0, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 26, 9, 0, 3, 250000, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def session() -> api.Session:
    return api.Session.create()


@pytest.fixture(scope="module")
def report1(session):
    return api.audit_text(POLICY, DATA_1, AS_OF, session=session)


@pytest.fixture(scope="module")
def report2(session):
    return api.audit_text(POLICY, DATA_2, "2026-11-27", session=session)


def record(db: Path, report, **kw) -> int:
    args = dict(policies_sha256="p" * 64, data_sha256="d" * 64, params_sha256=hash_params(report.params),
                started=START, ended=END)
    args.update(kw)
    return record_run(db, report, **args)


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert "Traceback" not in result.output
    return result


def rows(db: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------- record/read --


def test_record_and_read_back(tmp_path, report1):
    db = tmp_path / "audit.db"
    assert record(db, report1) == 1
    assert record(db, report1) == 2

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    run = conn.execute("SELECT * FROM runs WHERE id = 1").fetchone()
    assert run["as_of"] == AS_OF
    assert run["started"] == "2026-11-26T09:00:00+00:00" and run["ended"] == "2026-11-26T09:00:03.250000+00:00"
    assert run["tool_version"] == report1.tool_version and run["report_version"] == report1.version
    assert (run["policies_sha256"], run["data_sha256"]) == ("p" * 64, "d" * 64)
    assert run["params_sha256"] == hash_params({"gov.cap": Decimal("100.10")})
    assert run["params"] == '{"gov.cap":100.1}'
    assert json.loads(run["totals"]) == {"pass": 1, "fail": 1, "error": 1, "waived": 1, "not_applicable": 0}
    assert run["blocking"] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    found = {r["subject"]: r for r in conn.execute("SELECT * FROM findings WHERE run_id = 1")}
    assert {s: r["outcome"] for s, r in found.items()} == {"P1": "fail", "P2": "waived", "P3": "pass", "P4": "error"}
    p1 = found["P1"]
    assert (p1["rule"], p1["function"], p1["severity"], p1["enforcement"]) == ("gov.within-cap", "gov", "high", "soft")
    assert p1["message"] == f"P1: {EXACT} over 100.1"
    assert p1["location"] == "<policy>:9:13"
    # Exact decimals in the evidence JSON: the digits, not a float's approximation.
    assert p1["evidence"] == (f'[{{"expr":"total","value":{EXACT}}},{{"expr":"cap","value":100.1}},'
                              f'{{"expr":"to pass","value":"passes when `total` <= 100.1; now {EXACT}"}}]')
    assert json.loads(p1["evidence"], parse_float=Decimal)[0]["value"] == Decimal(EXACT)
    assert found["P2"]["waiver_id"] == "W-1" and p1["waiver_id"] is None

    summary = conn.execute("SELECT * FROM rule_summaries WHERE run_id = 1").fetchall()
    assert [dict(s) for s in summary] == [{
        "run_id": 1, "rule": "gov.within-cap", "title": "Within cap", "severity": "high", "enforcement": "soft",
        "tags": '["money","audit"]', "location": "<policy>:3:1", "pass": 1, "fail": 1, "error": 1, "waived": 1,
        "not_applicable": 0, "function": "gov"}]
    waivers = [dict(w) for w in conn.execute("SELECT * FROM waivers WHERE run_id = 1")]
    assert waivers == [{"run_id": 1, "id": "W-1", "rule": "gov.within-cap", "reason": "Approved overspend",
                        "approved_by": "CFO", "expires": "2026-12-01", "status": "active", "expiring_soon": 1,
                        "applied_to": '["P2"]'}]
    assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 8
    conn.close()

    with AuditTrail.open(db) as trail:
        back = trail.report(1)
        assert [r.id for r in trail.runs()] == [1, 2]
        info = trail.run("latest")
        assert info.id == 2 and info.blocking and info.totals["fail"] == 1
    assert back == report1
    ev = {e.expr: e.value for e in next(f for f in back.findings if f.subject == "P1").evidence}
    assert ev["total"] == Decimal(EXACT) and isinstance(ev["total"], Decimal)
    assert back.params == {"gov.cap": Decimal("100.1")}


def test_report_json_survives_the_trail_byte_for_byte(tmp_path, session, report1):
    db = tmp_path / "audit.db"
    record(db, report1)
    with AuditTrail.open(db) as trail:
        back = trail.report("latest")
    for name, fmt in session.registry.formats.items():
        assert fmt.render(back, {}) == fmt.render(report1, {}), name


def test_hash_files(tmp_path):
    a, b = tmp_path / "a.pmo", tmp_path / "b.pmo"
    a.write_text("package a\n")
    b.write_text("package b\n")
    h = hash_files([a, b])
    assert len(h) == 64 and h == hash_files([b, a]) == hash_files([a, b, a])
    assert hash_files([tmp_path]) == h  # a folder stands for the files below it
    b.write_text("package b \n")
    assert hash_files([a, b]) != h
    b.write_text("package b\n")
    assert hash_files([a, b]) == h
    # Moving bytes from one file to the other changes the hash, as does a rename.
    a.write_text("package a\npackage b")
    b.write_text("\n")
    assert hash_files([a, b]) != h
    assert hash_files([]) == hash_files([]) != h


def test_hash_params_is_canonical():
    one = {"gov.cap": Decimal("0.9"), "gov.window": {"b": 1, "a": [Decimal("1.50")]}}
    two = {"gov.window": {"a": [Decimal("1.5")], "b": 1}, "gov.cap": Decimal("0.90")}
    assert hash_params(one) == hash_params(two)
    assert hash_params(one) != hash_params({**one, "gov.cap": Decimal("0.9000000000000000000001")})
    assert hash_params({}) == hash_params({})


# ------------------------------------------------------------------ migrations --


def test_migrations_upgrade_an_old_database(tmp_path, report1):
    db_path = tmp_path / "old.db"
    db = Database(db_path)
    assert migrate(db, MIGRATIONS[:1]) == ["0001_initial"]
    assert applied(db) == ["0001_initial"]
    assert "function" not in db["findings"].columns_dict
    # A run as version-1 pmo-rules wrote it.
    run_id = db["runs"].insert({"as_of": AS_OF, "started": "s", "ended": "e", "report": "{}", "totals": "{}"}).last_pk
    db["findings"].insert({"run_id": run_id, "rule": "resources.over-allocated", "subject": "ana", "outcome": "fail"})
    db["rule_summaries"].insert({"run_id": run_id, "rule": "nodots", "pass": 1, "fail": 0})

    assert migrate(db) == ["0002_function_columns"]
    assert applied(db) == [name for name, _ in MIGRATIONS]
    assert migrate(db) == []
    assert [r["function"] for r in db["findings"].rows] == ["resources"]
    assert [r["function"] for r in db["rule_summaries"].rows] == ["nodots"]
    assert any(ix.columns == ["function", "run_id"] for ix in db["findings"].indexes)
    db.close()
    # The upgraded file takes new runs next to the old one.
    assert record(db_path, report1) == 2
    assert rows(db_path, "SELECT name FROM _migrations ORDER BY rowid") == [(n,) for n, _ in MIGRATIONS]


def test_record_run_upgrades_a_version_1_file(tmp_path, report1):
    db_path = tmp_path / "old.db"
    db = Database(db_path)
    migrate(db, MIGRATIONS[:1])
    db.close()
    assert record(db_path, report1) == 1
    assert rows(db_path, "SELECT DISTINCT function FROM findings") == [("gov",)]


def test_a_failing_migration_changes_nothing(tmp_path):
    db = Database(tmp_path / "x.db")

    def broken(d):
        d["half"].create({"id": int}, pk="id")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        migrate(db, [*MIGRATIONS, ("0099_broken", broken)])
    assert db.table_names() == []
    assert not db.conn.in_transaction
    assert migrate(db) == [n for n, _ in MIGRATIONS]


def test_a_newer_database_is_refused(tmp_path, report1):
    db_path = tmp_path / "new.db"
    record(db_path, report1)
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('0042_future', 'then')")
    with pytest.raises(SchemaTooNewError):
        migrate(Database(db_path))
    with pytest.raises(AuditTrailError, match=r"newer pmo-rules.*0042_future") as exc:
        record(db_path, report1)
    assert str(db_path) in str(exc.value)


# ------------------------------------------------------------ atomicity (kill) --

CHILD_PRELUDE = f"""
import datetime as dt, sys, time
from pmo_rules import api, storage
POLICY = {POLICY!r}
DATA = {DATA_1!r}
NOW = dt.datetime.now(dt.timezone.utc)

def big(report, n):
    base = report.findings[0]
    return report.model_copy(update={{"findings": [
        base.model_copy(update={{"subject": f"S{{i:07d}}"}}) for i in range(n)]}})

def rec(db, report):
    return storage.record_run(db, report, policies_sha256="p", data_sha256="d",
                              params_sha256="x", started=NOW, ended=NOW)
"""


def run_child(script: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def complete_runs_only(db: Path) -> list[int]:
    """Every run's findings, summaries and waivers are all there; no row without its run."""
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db, "PRAGMA foreign_key_check") == []
    runs = rows(db, "SELECT id, report FROM runs ORDER BY id")
    for run_id, text in runs:
        report = json.loads(text)
        assert rows(db, "SELECT count(*) FROM findings WHERE run_id = ?", [run_id]) == [(len(report["findings"]),)]
        assert rows(db, "SELECT count(*) FROM rule_summaries WHERE run_id = ?", [run_id]) == [(len(report["summary"]),)]
        assert rows(db, "SELECT count(*) FROM waivers WHERE run_id = ?", [run_id]) == [(len(report["waivers"]),)]
    for table in ("findings", "rule_summaries", "waivers"):
        assert rows(db, f"SELECT count(*) FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)") == [(0,)]
    return [r[0] for r in runs]


def test_a_run_killed_midway_leaves_no_partial_run(tmp_path):
    db = tmp_path / "audit.db"
    child = run_child("""
        report = api.audit_text(POLICY, DATA, "2026-11-26")
        rec(sys.argv[1], report)
        print("first run recorded", flush=True)
        large = big(report, 20_000)

        # Stop inside the transaction once a few batches of findings are written.
        connect = storage._connect
        def stalling_connect(path, timeout):
            conn = connect(path, timeout)
            seen = [0]
            def trace(sql):
                if sql.upper().startswith(("INSERT INTO [FINDINGS]", 'INSERT INTO "FINDINGS"')):
                    seen[0] += 1
                    if seen[0] == 20:
                        print("midway", flush=True)
                        time.sleep(600)
            conn.set_trace_callback(trace)
            return conn
        storage._connect = stalling_connect
        rec(sys.argv[1], large)
        print("committed", flush=True)
    """, str(db))
    try:
        assert child.stdout.readline().strip() == "first run recorded", child.stderr.read()
        assert child.stdout.readline().strip() == "midway", child.stderr.read()
        # The uncommitted findings are on disk in the write-ahead log when the process dies.
        wal = db.with_name(db.name + "-wal")
        assert wal.stat().st_size > 1_000_000
        assert rows(db, "SELECT count(*) FROM runs") == [(1,)]  # other readers never see it
        child.kill()  # SIGKILL: no cleanup, no rollback
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -9
    assert complete_runs_only(db) == [1]
    assert rows(db, "SELECT count(*) FROM findings") == [(4,)]
    # The trail is usable afterwards.
    report = api.audit_text(POLICY, DATA_1, AS_OF)
    assert record(db, report) == 2
    assert complete_runs_only(db) == [1, 2]


def test_two_processes_writing_one_database_both_succeed(tmp_path):
    db = tmp_path / "shared.db"  # not created yet: both also race to create and migrate it
    script = """
        import os, pathlib
        report = api.audit_text(POLICY, DATA, "2026-11-26")
        large = big(report, 2_000)
        gate = pathlib.Path(sys.argv[2])
        (gate / str(os.getpid())).touch()
        while len(list(gate.iterdir())) < 2:  # start together
            time.sleep(0.002)
        ids = [rec(sys.argv[1], large if i % 2 else report) for i in range(6)]
        print(" ".join(map(str, ids)))
    """
    gate = tmp_path / "gate"
    gate.mkdir()
    children = [run_child(script, str(db), str(gate)) for _ in range(2)]
    results = [c.communicate(timeout=180) for c in children]
    for c, (_out, err) in zip(children, results):
        assert c.returncode == 0, err
    ids = sorted(int(i) for out, _ in results for i in out.split())
    assert ids == list(range(1, 13))
    assert complete_runs_only(db) == ids
    assert rows(db, "SELECT count(*) FROM findings") == [(6 * 4 + 6 * 2000,)]
    assert rows(db, "SELECT name FROM _migrations ORDER BY rowid") == [(n,) for n, _ in MIGRATIONS]


# ---------------------------------------------------------------------- errors --


def test_a_database_locked_past_the_timeout(tmp_path, report1):
    db = tmp_path / "audit.db"
    record(db, report1)
    holder = sqlite3.connect(db)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        with pytest.raises(AuditTrailError, match="locked by another process") as exc:
            record(db, report1, timeout=0.3)
        assert time.monotonic() - t0 >= 0.25  # it waited for the lock first
        assert str(db) in str(exc.value)
        assert isinstance(exc.value, PmoError) and exc.value.exit_code == 2
    finally:
        holder.rollback()
        holder.close()
    assert complete_runs_only(db) == [1]
    assert record(db, report1) == 2


def test_a_read_only_database(tmp_path, report1):
    db = tmp_path / "audit.db"
    record(db, report1)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode == 0:
        undo = ["chattr", "-i", str(db)]
    elif os.geteuid() != 0:
        db.chmod(0o444)
        undo = None
    else:
        pytest.skip("cannot make a file read-only here (root without chattr)")
    try:
        with pytest.raises(AuditTrailError, match="read-only") as exc:
            record(db, report1)
        assert str(db) in str(exc.value)
        # Reading a read-only trail still works.
        result = cli("history", "--db", str(db), "--format", "json")
        assert result.exit_code == 0, result.output
        assert [r["run"] for r in json.loads(result.output)["runs"]] == [1]
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            db.chmod(0o644)


def test_a_corrupt_database(tmp_path, report1):
    db = tmp_path / "audit.db"
    db.write_bytes(b"this is a spreadsheet, not a database\n" * 200)
    with pytest.raises(AuditTrailError, match="not an SQLite database") as exc:
        record(db, report1)
    assert str(db) in str(exc.value)
    for args in (["history"], ["diff", "1", "2"], ["report", "--run", "1"]):
        result = cli(*args, "--db", str(db))
        assert result.exit_code == 2
        assert f"error: audit trail `{db}`: the file is not an SQLite database" in result.output


def test_a_missing_folder_or_file(tmp_path, report1):
    with pytest.raises(AuditTrailError, match="cannot open"):
        record(tmp_path / "no" / "such" / "audit.db", report1)
    result = cli("history", "--db", str(tmp_path / "absent.db"))
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "absent.db").exists()


def test_a_sqlite_file_that_is_not_an_audit_trail(tmp_path):
    other = tmp_path / "other.db"
    Database(other)["things"].insert({"a": 1})
    result = cli("history", "--db", str(other))
    assert result.exit_code == 2 and "not a pmo-rules audit trail" in result.output
    assert Database(other).table_names() == ["things"]  # reading changed nothing


# ------------------------------------------------------------------------- CLI --


@pytest.fixture
def trail(tmp_path, report1, report2) -> Path:
    db = tmp_path / "audit.db"
    record(db, report1)
    record(db, report2, started=START + dt.timedelta(days=1), ended=END + dt.timedelta(days=1))
    return db


def test_history_text_and_json(trail):
    result = cli("history", "--db", str(trail))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["run", "as", "of", "started", "pass", "fail", "error", "waived", "compliance"]
    assert lines[1].split() == ["1", "2026-11-26", "2026-11-26", "09:00:00Z", "1", "1", "1", "1", "50.0%"]
    assert lines[2].split() == ["2", "2026-11-27", "2026-11-27", "09:00:00Z", "1", "1", "1", "1", "50.0%"]

    data = json.loads(cli("history", "--db", str(trail), "--format", "json").output, parse_float=Decimal)
    assert data["by"] == "run"
    assert data["runs"][0] == {"run": 1, "as_of": AS_OF, "started": "2026-11-26T09:00:00+00:00", "pass": 1,
                               "fail": 1, "error": 1, "waived": 1, "not_applicable": 0, "compliance": 50}


def test_history_per_rule_and_per_function(tmp_path, session):
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "gov.pmo").write_text(POLICY)
    (tmp_path / "pol" / "res.pmo").write_text(RES_POLICY)
    (tmp_path / "data").mkdir()
    db = tmp_path / "audit.db"
    program, _ = api.load_program([tmp_path / "pol"], session)
    for projects in (DATA_1["projects"], [{**p, "manager": "ana"} for p in DATA_2["projects"][:3]]):
        (tmp_path / "data" / "projects.jsonl").write_text("\n".join(json.dumps(p) for p in projects) + "\n")
        loaded = api.load_data([tmp_path / "data"], session)
        report = api.audit(program, loaded, dt.date(2026, 11, 26))
        record(db, report, data_sha256=hash_files([tmp_path / "data"]))
    assert rows(db, "SELECT count(DISTINCT data_sha256) FROM runs") == [(2,)]

    out = cli("history", "--db", str(db), "--by", "function", "--format", "json")
    assert out.exit_code == 0, out.output
    got = [(r["run"], r["function"], r["pass"], r["fail"], r["compliance"]) for r in json.loads(out.output)["runs"]]
    assert got == [(1, "gov", 1, 1, 50), (1, "res", 0, 4, 0), (2, "gov", 1, 1, 50), (2, "res", 3, 0, 100)]
    text = cli("history", "--db", str(db), "--by", "function").output.splitlines()
    assert text[0].split()[4] == "function"
    assert text[2].split()[4:] == ["res", "0", "4", "0", "0", "0.0%"]

    out = cli("history", "--db", str(db), "--rule", "res.has-manager", "--format", "json")
    got = [(r["run"], r["rule"], r["fail"], r["compliance"]) for r in json.loads(out.output)["runs"]]
    assert got == [(1, "res.has-manager", 4, 0), (2, "res.has-manager", 0, 100)]
    text = cli("history", "--db", str(db), "--rule", "res.has-manager").output.splitlines()
    assert text[2].split()[4:] == ["res.has-manager", "3", "0", "0", "0", "100.0%"]

    bad = cli("history", "--db", str(db), "--rule", "res.nope")
    assert bad.exit_code == 2 and "evaluated rule `res.nope`" in bad.output
    both = cli("history", "--db", str(db), "--rule", "res.has-manager", "--by", "function")
    assert both.exit_code == 2


def test_history_of_an_empty_trail(tmp_path):
    db = tmp_path / "empty.db"
    with AuditTrail.open(db, create=True):
        pass
    result = cli("history", "--db", str(db))
    assert result.exit_code == 0 and "no runs recorded" in result.output
    assert json.loads(cli("history", "--db", str(db), "--format", "json").output)["runs"] == []


def test_compliance_percentage():
    assert storage.compliance(0, 0) is None
    assert storage.compliance(2, 1) == Decimal("66.7")
    assert storage.compliance(1, 2) == Decimal("33.3")
    assert storage.compliance(5, 0) == Decimal("100.0")


def test_diff_new_resolved_still_failing(trail):
    result = cli("diff", "--db", str(trail), "previous", "latest", "--format", "json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert (d["a"]["id"], d["b"]["id"]) == (1, 2)
    assert [(f["rule"], f["subject"], f["outcome"]) for f in d["new"]] == [("gov.within-cap", "P3", "fail")]
    assert [(f["subject"], f["outcome"], f["now"]) for f in d["resolved"]] == [("P1", "fail", "pass")]
    assert [(f["subject"], f["outcome"], f["was"]) for f in d["still_failing"]] == [("P4", "error", "error")]
    assert d["new"][0]["message"] == "P3: 500 over 100.1"

    text = cli("diff", "--db", str(trail), "1", "2").output
    assert text.splitlines()[0] == ("run 1 (as of 2026-11-26) -> run 2 (as of 2026-11-27): "
                                    "1 new, 1 resolved, 1 still failing")
    assert "New failures (1):\n  fail  gov.within-cap  P3\n        P3: 500 over 100.1" in text
    assert "Resolved (1):\n  fail  gov.within-cap  P1" in text
    assert "Still failing (1):\n  error gov.within-cap  P4" in text

    back = json.loads(cli("diff", "--db", str(trail), "latest", "previous", "--format", "json").output)
    assert [f["subject"] for f in back["new"]] == ["P1"] and [f["subject"] for f in back["resolved"]] == ["P3"]
    same = json.loads(cli("diff", "--db", str(trail), "2", "latest", "--format", "json").output)
    assert same["new"] == same["resolved"] == [] and len(same["still_failing"]) == 2


def test_diff_notes_a_failure_that_is_now_waived(tmp_path, session, report1):
    db = tmp_path / "audit.db"
    record(db, report1)
    waived = POLICY.replace('subjects "P2"', 'subjects "P2", "P1"')
    record(db, api.audit_text(waived, DATA_1, AS_OF, session=session))
    d = json.loads(cli("diff", "--db", str(db), "previous", "latest", "--format", "json").output)
    assert [(f["subject"], f["now"]) for f in d["resolved"]] == [("P1", "waived")]
    assert "(now waived)" in cli("diff", "--db", str(db), "previous", "latest").output
    record(db, api.audit_text(POLICY, {"projects": []}, AS_OF, session=session))  # every subject gone
    d = json.loads(cli("diff", "--db", str(db), "1", "3", "--format", "json").output)
    assert [(f["subject"], f["now"]) for f in d["resolved"]] == [("P1", None), ("P4", None)]


def test_diff_unknown_runs(trail, tmp_path, report1):
    for args, message in ((["1", "9"], "run 9 is not recorded"), (["x", "1"], "write a run id")):
        result = cli("diff", "--db", str(trail), *args)
        assert result.exit_code == 2 and message in result.output
    one = tmp_path / "one.db"
    record(one, report1)
    result = cli("diff", "--db", str(one), "previous", "latest")
    assert result.exit_code == 2 and "only one run" in result.output


def test_diff_text_escapes_control_characters(tmp_path, session):
    db = tmp_path / "audit.db"
    record(db, api.audit_text(POLICY, {"projects": []}, AS_OF, session=session))
    record(db, api.audit_text(POLICY, {"projects": [{"id": "P\x1b[2J9", "budget": {"approved": 999}}]}, AS_OF,
                              session=session))
    text = cli("diff", "--db", str(db), "previous", "latest").output
    assert "\x1b" not in text and "P\\x1b[2J9" in text


def test_report_rerenders_any_run_in_any_format(trail, tmp_path, session, report1, report2):
    formats = session.registry.formats
    assert {"text", "json"} <= set(formats)
    for fmt in formats:
        result = cli("report", "--db", str(trail), "--run", "1", "--format", fmt)
        assert result.exit_code == 0, (fmt, result.output)
        assert result.stdout_bytes.decode("utf-8") == formats[fmt].render(report1, {}), fmt
    latest = cli("report", "--db", str(trail), "--format", "json")
    assert latest.output == formats["json"].render(report2, {})
    stored = json.loads(latest.output, parse_float=Decimal)
    assert stored["as_of"] == "2026-11-27"

    out = tmp_path / "run1.json"
    result = cli("report", "--db", str(trail), "--run", "1", "--format", "json", "--output", str(out))
    assert result.exit_code == 0
    assert f"wrote {out}" in result.output
    text = out.read_text()
    assert f'"value": {EXACT}' in text  # exact decimals, not 100.1 or 1.001e2
    assert json.loads(text, parse_float=Decimal)["findings"][0]["evidence"][0]["value"] == Decimal(EXACT)


def test_report_errors(trail):
    bad = cli("report", "--db", str(trail), "--run", "1", "--format", "pdf")
    assert bad.exit_code == 2 and "unknown format `pdf`" in bad.output and "json" in bad.output
    missing = cli("report", "--db", str(trail), "--run", "7")
    assert missing.exit_code == 2 and "run 7 is not recorded" in missing.output
