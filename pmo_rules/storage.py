"""The audit trail (SPEC 6): every run recorded atomically in SQLite; `record_run` returns the run id.

A run is written in one `BEGIN IMMEDIATE` transaction (the run row, its findings, rule
summaries and waivers), so a process killed midway leaves no partial run. The database is
in WAL mode with a busy timeout, so audits writing to one file at once wait for each other
instead of failing, and readers never block writers. The whole `Report` is stored as exact
decimal JSON, so any run can be re-rendered in any format without its policy or data files.

Every SQLite failure (locked past the timeout, read-only, not a database) surfaces as an
`AuditTrailError` naming the file. `AuditTrail` is the reading side used by `history`,
`diff` and `report`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from .errors import PmoError, UsageError
from .findings import OUTCOME_ORDER, Report
from .jsonout import dumps
from .migrations import MIGRATIONS_TABLE, SchemaTooNewError, migrate

BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another writer's transaction before giving up."""

FAILING = ("fail", "error")
_BATCH = 500

__all__ = [
    "BUSY_TIMEOUT",
    "AuditTrail",
    "AuditTrailError",
    "RunInfo",
    "compliance",
    "function_of",
    "hash_files",
    "hash_params",
    "record_run",
]


class AuditTrailError(PmoError):
    """The audit-trail database could not be written or read; the message names the file."""

    exit_code = 2

    def __init__(self, path: str | os.PathLike[str], message: str):
        self.path = str(path)
        super().__init__(f"audit trail `{self.path}`: {message}")


# ------------------------------------------------------------------------ hashes --


def hash_files(paths: Iterable[str | os.PathLike[str]]) -> str:
    """sha256 over the sorted paths and their contents (folders contribute every file below them).

    Each file adds its path, its length and its bytes, length-prefixed, so moving bytes
    between files or renaming one changes the hash. Paths are hashed as given (POSIX form).
    """
    files: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            files.update(f for f in p.rglob("*") if f.is_file())
        else:
            files.add(p)
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.as_posix()):
        name = f.as_posix().encode("utf-8")
        try:
            data = f.read_bytes()
        except OSError as exc:
            raise UsageError(f"{f}: cannot read for hashing: {exc.strerror or exc}") from None
        h.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def hash_params(params: dict[str, Any]) -> str:
    """sha256 of canonical JSON: keys sorted at every level, numbers with their exact digits."""
    return hashlib.sha256(dumps(_canonical(params), indent=None).encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


# ------------------------------------------------------------------- connection --

# SQLite primary result codes (https://sqlite.org/rescode.html) and what they mean here.
_MEANING = {
    3: "permission denied",
    5: "the database is locked by another process",
    6: "the database is locked by another process",
    8: "the database is read-only (check the permissions of the file and of its folder)",
    10: "disk I/O error",
    11: "the database file is corrupt",
    13: "the disk is full",
    14: "cannot open the database file (does its folder exist and is it writable?)",
    26: "the file is not an SQLite database",
}


def _translate(path: Path, exc: sqlite3.Error, timeout: float) -> AuditTrailError:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if primary is None:
        # NOTE: errors raised before a statement runs carry no code; match SQLite's fixed texts.
        low = text.lower()
        primary = (5 if "locked" in low else 8 if "readonly" in low or "read-only" in low
                   else 26 if "not a database" in low else 14 if "unable to open" in low else None)
    what = _MEANING.get(primary, "SQLite error") if primary is not None else "SQLite error"
    if primary in (5, 6):
        what += f" (gave up after waiting {timeout:g} s)"
    return AuditTrailError(path, f"{what}: {text}")


@contextmanager
def _sqlite_errors(path: Path, timeout: float) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise _translate(path, exc, timeout) from exc
    except SchemaTooNewError as exc:
        raise AuditTrailError(path, str(exc)) from exc


def _connect(path: Path, timeout: float) -> sqlite3.Connection:
    # `timeout` is SQLite's busy timeout: a writer waits this long for another's lock.
    conn = sqlite3.connect(str(path), timeout=timeout)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


# ------------------------------------------------------------------------ models --


@dataclass(frozen=True)
class RunInfo:
    id: int
    as_of: str
    started: str
    ended: str
    tool_version: str
    report_version: str
    policies_sha256: str
    data_sha256: str
    params_sha256: str
    blocking: bool
    totals: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def function_of(rule: str) -> str:
    """The PMO function of a rule: its package (`governance` for `governance.sponsor-assigned`)."""
    return rule.split(".", 1)[0]


def compliance(passed: int, failed: int) -> Decimal | None:
    """pass / (pass + fail) as a percentage with one decimal; None when nothing was decided."""
    if passed + failed == 0:
        return None
    return (Decimal(100 * passed) / Decimal(passed + failed)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


# ----------------------------------------------------------------------- writing --


def record_run(
    db_path: str | os.PathLike[str],
    report: Report,
    *,
    policies_sha256: str,
    data_sha256: str,
    params_sha256: str,
    started: dt.datetime,
    ended: dt.datetime,
    timeout: float = BUSY_TIMEOUT,
) -> int:
    """Record one audit run in one transaction, creating or upgrading the database; return its id.

    :raises AuditTrailError: the database is locked past `timeout`, read-only, or not SQLite.
    """
    with AuditTrail.open(db_path, create=True, timeout=timeout) as trail:
        return trail.record(report, policies_sha256=policies_sha256, data_sha256=data_sha256,
                            params_sha256=params_sha256, started=started, ended=ended)


def _json(value: Any) -> str:
    return dumps(value, indent=None)


def _rows(report: Report, started: dt.datetime, ended: dt.datetime, hashes: dict[str, str]):
    run = {
        "as_of": report.as_of,
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "tool_version": report.tool_version,
        "report_version": report.version,
        **hashes,
        "blocking": int(report.blocking),
        "params": _json(report.params),
        "totals": _json(report.totals),
        "report": _json(report.model_dump(mode="python")),
    }
    findings = [{
        "rule": f.rule,
        "function": function_of(f.rule),
        "subject": f.subject,
        "outcome": f.outcome,
        "severity": f.severity,
        "enforcement": f.enforcement,
        "message": f.message,
        "evidence": _json([{"expr": e.expr, "value": e.value} for e in f.evidence]),
        "waiver_id": (f.waiver or {}).get("id"),
        "location": f.location,
    } for f in report.findings]
    summaries = [{
        "rule": rule,
        "function": function_of(rule),
        "title": s.title,
        "severity": s.severity,
        "enforcement": s.enforcement,
        "tags": _json(s.tags),
        "location": s.location,
        **{o: int(s.counts.get(o, 0)) for o in OUTCOME_ORDER},
    } for rule, s in report.summary.items()]
    waivers = [{
        "id": w.get("id"),
        "rule": w.get("rule"),
        "reason": w.get("reason"),
        "approved_by": w.get("approved_by"),
        "expires": None if w.get("expires") is None else str(w.get("expires")),
        "status": w.get("status"),
        "expiring_soon": int(bool(w.get("expiring_soon"))),
        "applied_to": _json(list(w.get("applied_to") or [])),
    } for w in report.waivers]
    return run, findings, summaries, waivers


# ----------------------------------------------------------------------- reading --


class AuditTrail:
    """An open audit-trail database: `record` a run, or read runs, history and diffs."""

    def __init__(self, db: Database, path: Path, timeout: float):
        self.db = db
        self.path = path
        self.timeout = timeout

    @classmethod
    def open(cls, db_path: str | os.PathLike[str], *, create: bool = False,
             timeout: float = BUSY_TIMEOUT) -> AuditTrail:
        """Open (and upgrade) an audit trail; without `create` a missing file is an error.

        :raises AuditTrailError: the file is missing, locked, read-only when an upgrade is due,
            or not an SQLite database.
        """
        path = Path(db_path)
        if not create and not path.is_file():
            raise AuditTrailError(path, "no such file (record runs with `pmo-rules audit --db FILE`)")
        conn: sqlite3.Connection | None = None
        with _sqlite_errors(path, timeout):
            try:
                conn = _connect(path, timeout)
                db = Database(conn, execute_plugins=False)
                if create:
                    db.enable_wal()
                db.execute("PRAGMA foreign_keys = ON")
                if not create and not db[MIGRATIONS_TABLE].exists():
                    raise AuditTrailError(path, "not a pmo-rules audit trail (no runs were ever recorded in it)")
                migrate(db)
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
        return cls(db, path, timeout)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> AuditTrail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        with _sqlite_errors(self.path, self.timeout):
            yield

    # -- writing

    def record(self, report: Report, *, policies_sha256: str, data_sha256: str, params_sha256: str,
               started: dt.datetime, ended: dt.datetime) -> int:
        """Write one run, its findings, rule summaries and waivers in one transaction."""
        hashes = {"policies_sha256": policies_sha256, "data_sha256": data_sha256, "params_sha256": params_sha256}
        # Serialise before taking the write lock, so concurrent writers wait as little as possible.
        run, findings, summaries, waivers = _rows(report, started, ended, hashes)
        conn = self.db.conn
        with self._errors():
            # NOTE: IMMEDIATE takes the write lock up front (waiting up to the busy timeout);
            # a deferred BEGIN that upgrades later can fail at once with SQLITE_BUSY in WAL mode.
            conn.execute("BEGIN IMMEDIATE")
            try:
                run_id = int(self.db["runs"].insert(run).last_pk)  # type: ignore[arg-type]
                for table, rows in (("findings", findings), ("rule_summaries", summaries), ("waivers", waivers)):
                    if rows:
                        self.db[table].insert_all(({"run_id": run_id, **r} for r in rows), batch_size=_BATCH)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return run_id

    # -- reading

    def runs(self) -> list[RunInfo]:
        with self._errors():
            rows = self.db.execute(
                "SELECT id, as_of, started, ended, tool_version, report_version, policies_sha256, "
                "data_sha256, params_sha256, blocking, totals FROM runs ORDER BY id").fetchall()
        return [_run_info(r) for r in rows]

    def run(self, ref: str | int) -> RunInfo:
        run_id = self.resolve(ref)
        return next(r for r in self.runs() if r.id == run_id)

    def resolve(self, ref: str | int) -> int:
        """A run id from an id, `latest` or `previous` (the run before the latest)."""
        with self._errors():
            ids = [r[0] for r in self.db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 2")]
        text = str(ref).strip().lower()
        if text in ("latest", "previous"):
            need = 1 if text == "latest" else 2
            if len(ids) < need:
                have = "no runs" if not ids else "only one run"
                raise UsageError(f"run `{text}`: {self.path} has {have} recorded")
            return ids[need - 1]
        try:
            run_id = int(text)
        except ValueError:
            raise UsageError(f"run `{ref}`: write a run id, `latest` or `previous`") from None
        with self._errors():
            found = self.db.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone()
        if not found:
            span = f"runs go up to {ids[0]}" if ids else "it has no runs"
            raise UsageError(f"run {run_id} is not recorded in {self.path} ({span})")
        return run_id

    def report(self, ref: str | int) -> Report:
        """The stored report of a run, rebuilt with exact decimals."""
        run_id = self.resolve(ref)
        with self._errors():
            (text,) = self.db.execute("SELECT report FROM runs WHERE id = ?", [run_id]).fetchone()
        return Report.model_validate(json.loads(text, parse_float=Decimal))

    def history(self, *, rule: str | None = None, by: str = "run") -> list[dict[str, Any]]:
        """Compliance per run; per run for one rule (`rule`); or per run and function (`by="function"`).

        Each row: run, as_of, started, [rule | function], pass, fail, error, waived,
        not_applicable, compliance (percent, or None when nothing passed or failed).
        """
        if by not in ("run", "function"):
            raise UsageError(f"--by `{by}`: choose `function`")
        if rule and by == "function":
            raise UsageError("--rule and --by function cannot be combined")
        counts = ", ".join(f"[{o}]" for o in OUTCOME_ORDER)
        sums = ", ".join(f"SUM(s.[{o}])" for o in OUTCOME_ORDER)
        with self._errors():
            if rule:
                sql = (f"SELECT r.id, r.as_of, r.started, s.rule, {counts} FROM rule_summaries s "
                       "JOIN runs r ON r.id = s.run_id WHERE s.rule = ? ORDER BY r.id")
                rows = self.db.execute(sql, [rule]).fetchall()
                if not rows:
                    raise UsageError(f"no run recorded in {self.path} evaluated rule `{rule}`")
                key = "rule"
            elif by == "function":
                sql = (f"SELECT r.id, r.as_of, r.started, s.[function], {sums} FROM rule_summaries s "
                       "JOIN runs r ON r.id = s.run_id GROUP BY r.id, s.[function] ORDER BY r.id, s.[function]")
                rows = self.db.execute(sql).fetchall()
                key = "function"
            else:
                rows = [(r.id, r.as_of, r.started, None, *(r.totals.get(o, 0) for o in OUTCOME_ORDER))
                        for r in self.runs()]
                key = None
        out = []
        for run_id, as_of, started, name, *numbers in rows:
            c = dict(zip(OUTCOME_ORDER, (int(n or 0) for n in numbers)))
            row: dict[str, Any] = {"run": run_id, "as_of": as_of, "started": started}
            if key:
                row[key] = name
            row.update(c)
            row["compliance"] = compliance(c["pass"], c["fail"])
            out.append(row)
        return out

    def findings_by_key(self, run_id: int) -> dict[tuple[str, str], dict[str, Any]]:
        """Every finding of a run keyed by (rule, subject)."""
        with self._errors():
            cur = self.db.execute(
                "SELECT rule, subject, outcome, severity, enforcement, message FROM findings "
                "WHERE run_id = ? ORDER BY rule, subject", [run_id])
            names = [d[0] for d in cur.description]
            return {(r[0], r[1]): dict(zip(names, r)) for r in cur.fetchall()}

    def diff(self, a: str | int, b: str | int) -> dict[str, Any]:
        """Failures (fail or error) keyed by (rule, subject): new in B, resolved since A, still failing.

        Resolved items carry `now`: B's outcome for that pair when B recorded one (e.g.
        `waived`), else None (it passed or the subject is gone). Still-failing items carry
        `was`, A's outcome.
        """
        run_a, run_b = self.run(a), self.run(b)
        fa, fb = self.findings_by_key(run_a.id), self.findings_by_key(run_b.id)
        bad_a = {k for k, f in fa.items() if f["outcome"] in FAILING}
        bad_b = {k for k, f in fb.items() if f["outcome"] in FAILING}
        new = [dict(fb[k]) for k in sorted(bad_b - bad_a)]
        resolved = [{**fa[k], "now": fb[k]["outcome"] if k in fb else None} for k in sorted(bad_a - bad_b)]
        still = [{**fb[k], "was": fa[k]["outcome"]} for k in sorted(bad_a & bad_b)]
        return {"a": run_a.to_dict(), "b": run_b.to_dict(), "new": new, "resolved": resolved,
                "still_failing": still}


def _run_info(r: tuple) -> RunInfo:
    return RunInfo(id=r[0], as_of=r[1], started=r[2], ended=r[3], tool_version=r[4], report_version=r[5],
                   policies_sha256=r[6], data_sha256=r[7], params_sha256=r[8], blocking=bool(r[9]),
                   totals={k: int(v) for k, v in json.loads(r[10]).items()})
