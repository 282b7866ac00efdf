"""The audit-trail schema as ordered, named migrations; `migrate(db)` returns the names it applied.

Every database records the migrations applied to it in `_migrations`, so an old audit trail
is upgraded in place the first time a newer pmo-rules opens it for writing. Migrations are
only ever appended: a released migration is never edited or reordered (llm's `MIGRATIONS`
list is the model). Pending migrations run together in one `BEGIN IMMEDIATE` transaction,
so two processes upgrading one database at once cannot both apply the same step and a
failing step leaves the schema as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from sqlite_utils import Database

MIGRATIONS_TABLE = "_migrations"
Migration = tuple[str, Callable[[Database], None]]


def m001_initial(db: Database) -> None:
    db["runs"].create({
        "id": int,
        "as_of": str,
        "started": str,
        "ended": str,
        "tool_version": str,
        "report_version": str,
        "policies_sha256": str,
        "data_sha256": str,
        "params_sha256": str,
        "blocking": int,
        "params": str,  # JSON
        "totals": str,  # JSON
        "report": str,  # JSON of the whole `Report`, exact decimals: any run can be re-rendered
    }, pk="id", not_null={"as_of", "started", "ended", "report"})
    db["findings"].create({
        "id": int,
        "run_id": int,
        "rule": str,
        "subject": str,
        "outcome": str,
        "severity": str,
        "enforcement": str,
        "message": str,
        "evidence": str,  # JSON list of {expr, value}
        "waiver_id": str,
        "location": str,
    }, pk="id", foreign_keys=[("run_id", "runs", "id")], not_null={"run_id", "rule", "subject", "outcome"})
    db["rule_summaries"].create({
        "run_id": int,
        "rule": str,
        "title": str,
        "severity": str,
        "enforcement": str,
        "tags": str,  # JSON list
        "location": str,
        "pass": int,
        "fail": int,
        "error": int,
        "waived": int,
        "not_applicable": int,
    }, pk=("run_id", "rule"), foreign_keys=[("run_id", "runs", "id")])
    db["waivers"].create({
        "run_id": int,
        "id": str,
        "rule": str,
        "reason": str,
        "approved_by": str,
        "expires": str,
        "status": str,
        "expiring_soon": int,
        "applied_to": str,  # JSON list of subject ids
    }, pk=("run_id", "id"), foreign_keys=[("run_id", "runs", "id")])
    db["findings"].create_index(["run_id", "rule", "subject"])


def m002_function_columns(db: Database) -> None:
    """The PMO function (the rule id's package) as an indexed column, for `history --by function`."""
    # NOTE: backfilled with SQL rather than Python so an upgrade of a large trail stays one
    # statement per table inside the migration transaction.
    package = "CASE WHEN instr(rule, '.') > 0 THEN substr(rule, 1, instr(rule, '.') - 1) ELSE rule END"
    for table in ("findings", "rule_summaries"):
        db[table].add_column("function", str)
        db.execute(f"UPDATE [{table}] SET [function] = {package}")
        db[table].create_index(["function", "run_id"])
    db["findings"].create_index(["rule", "subject"])


MIGRATIONS: list[Migration] = [
    ("0001_initial", m001_initial),
    ("0002_function_columns", m002_function_columns),
]


def applied(db: Database) -> list[str]:
    """Names of the migrations recorded in this database, in the order they were applied."""
    if not db[MIGRATIONS_TABLE].exists():
        return []
    return [r[0] for r in db.execute(f"SELECT name FROM [{MIGRATIONS_TABLE}] ORDER BY rowid").fetchall()]


def pending(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    done = set(applied(db))
    return [name for name, _ in migrations if name not in done]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the missing migrations in order, all in one transaction; return their names.

    :param db: an open database outside any transaction.
    :param migrations: the list to apply (tests pass a prefix of `MIGRATIONS`).
    :raises SchemaTooNewError: the database has migrations this version does not know.
    """
    known = [name for name, _ in migrations]
    if len(set(known)) != len(known):
        raise ValueError("duplicate migration names")
    # NOTE: the cheap read-only check first, so an up-to-date trail takes no write lock.
    if not pending(db, migrations):
        _check_not_newer(db, known)
        return []
    done_now: list[str] = []
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        if not db[MIGRATIONS_TABLE].exists():
            db[MIGRATIONS_TABLE].create({"name": str, "applied_at": str}, pk="name")
        already = set(applied(db))
        for name, fn in migrations:
            if name in already:
                continue
            fn(db)
            db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": dt.datetime.now(dt.UTC).isoformat()})
            done_now.append(name)
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    _check_not_newer(db, known)
    return done_now


class SchemaTooNewError(Exception):
    """The database was written by a newer pmo-rules (it has migrations unknown here)."""

    def __init__(self, unknown: list[str]):
        self.unknown = unknown
        super().__init__("it was written by a newer pmo-rules (unknown migrations: " + ", ".join(unknown) + ")")


def _check_not_newer(db: Database, known: list[str]) -> None:
    unknown = [name for name in applied(db) if name not in set(known)]
    if unknown:
        raise SchemaTooNewError(unknown)
