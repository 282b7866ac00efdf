"""Compliance roll-ups per program and portfolio, for the reports a PMO lead reads.

Compliance is pass / (pass + fail) over the checks of a group's projects (waived, error
and not-applicable checks are left out and shown elsewhere); findings on flattened-view
items (`PRJ-1/R-2`) count for their project. The budget-weighted figure weights each
project's own compliance by its approved budget, so a failing 20M programme weighs more
than a failing 50k one. Figures are exact decimals rounded to 4 places (half up).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from .values import round_half_up

UNASSIGNED = "(none)"


def _ratio(num: Decimal, den: Decimal) -> Decimal | None:
    return round_half_up(num / den, 4) if den else None


def project_of(subject: str) -> str:
    return subject.split("/", 1)[0]


def _per_project(counts: Counter) -> dict:
    """Checks per project: a flattened item's (`PRJ-1/R-2`) count for its project."""
    out: dict = {}
    get = out.get
    for sid, n in counts.items():
        if "/" in sid:
            sid = sid.split("/", 1)[0]  # project_of(sid)
        out[sid] = get(sid, 0) + n
    return out


def compute(projects: list[dict], passes: Counter, fails: Counter) -> dict[str, list[dict[str, Any]]]:
    """`passes`/`fails`: checks per subject id. Returns {"program": [...], "portfolio": [...]}."""
    return compute_with_subjects(projects, passes, fails, set())[0]


def compute_with_subjects(projects: list[dict], passes: Counter, fails: Counter,
                          ids: set[str]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """`compute(projects, passes, fails)` and `subjects(projects, ids)`, in one pass over the
    projects (at 100k projects, every pass counts)."""
    pass_of = _per_project(passes).get
    fail_of = _per_project(fails).get
    wanted = {sid.split("/", 1)[0] if "/" in sid else sid for sid in ids}
    named: dict[str, dict[str, Any]] = {}
    # Per group: [projects, pass, fail, failing_projects, budget, weighted, weight], summed in
    # project order (Decimal sums round to the context's precision, so the order matters).
    by_program: dict[str, list] = {}
    by_portfolio: dict[str, list] = {}
    zero = Decimal(0)
    for p in projects:
        pid = p.get("id")
        ok, bad = pass_of(pid, 0), fail_of(pid, 0)
        budget = (p.get("budget") or {}).get("approved")
        funded = isinstance(budget, Decimal) and budget > 0
        share = budget * Decimal(ok) / Decimal(ok + bad) if funded and ok + bad else None
        program, portfolio = p.get("program"), p.get("portfolio")
        if pid in wanted:
            named[pid] = {"name": p.get("name"), "program": program, "portfolio": portfolio}
        for groups, key in ((by_program, program if isinstance(program, str) else UNASSIGNED),
                            (by_portfolio, portfolio if isinstance(portfolio, str) else UNASSIGNED)):
            g = groups.get(key)
            if g is None:
                g = groups[key] = [0, 0, 0, 0, zero, zero, zero]
            g[0] += 1
            g[1] += ok
            g[2] += bad
            if bad:
                g[3] += 1
            if funded:
                g[4] += budget
                if share is not None:
                    g[5] += share
                    g[6] += budget
    out: dict[str, list[dict[str, Any]]] = {}
    for dimension, groups in (("program", by_program), ("portfolio", by_portfolio)):
        rows = []
        for key in sorted(groups):
            n, ok, bad, failing, budget, weighted, weight = groups[key]
            rows.append({
                dimension: key,
                "projects": n,
                "failing_projects": failing,
                "pass": ok,
                "fail": bad,
                "compliance": _ratio(Decimal(ok), Decimal(ok + bad)),
                "approved_budget": budget,
                "budget_weighted_compliance": _ratio(weighted, weight),
            })
        out[dimension] = rows
    return out, dict(sorted(named.items()))


def of_snapshot(snapshot: Any, passes: Counter, fails: Counter,
                ids: set[str]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """`compute_with_subjects` over a snapshot's projects: what an evaluation's `helper`
    (a worker child holding the snapshot) is asked for."""
    return compute_with_subjects(snapshot.projects, passes, fails, ids)


def subjects(projects: list[dict], ids: set[str]) -> dict[str, dict[str, Any]]:
    """Name, program and portfolio of the projects behind the given finding subjects."""
    wanted = {sid.split("/", 1)[0] if "/" in sid else sid for sid in ids}
    out = {}
    for p in projects:
        pid = p.get("id")
        if pid in wanted:
            out[pid] = {"name": p.get("name"), "program": p.get("program"), "portfolio": p.get("portfolio")}
    return dict(sorted(out.items()))
