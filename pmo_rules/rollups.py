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


def compute(projects: list[dict], passes: Counter, fails: Counter) -> dict[str, list[dict[str, Any]]]:
    """`passes`/`fails`: checks per subject id. Returns {"program": [...], "portfolio": [...]}."""
    per_project_pass: Counter = Counter()
    per_project_fail: Counter = Counter()
    for sid, n in passes.items():
        per_project_pass[project_of(sid)] += n
    for sid, n in fails.items():
        per_project_fail[project_of(sid)] += n
    out: dict[str, list[dict[str, Any]]] = {}
    for dimension in ("program", "portfolio"):
        groups: dict[str, dict[str, Any]] = {}
        for p in projects:
            pid = p.get("id")
            key = p.get(dimension) if isinstance(p.get(dimension), str) else UNASSIGNED
            g = groups.setdefault(key, {"projects": 0, "pass": 0, "fail": 0, "budget": Decimal(0),
                                        "weighted": Decimal(0), "weight": Decimal(0), "failing_projects": 0})
            ok, bad = per_project_pass.get(pid, 0), per_project_fail.get(pid, 0)
            g["projects"] += 1
            g["pass"] += ok
            g["fail"] += bad
            if bad:
                g["failing_projects"] += 1
            budget = (p.get("budget") or {}).get("approved")
            if isinstance(budget, Decimal) and budget > 0:
                g["budget"] += budget
                if ok + bad:
                    g["weighted"] += budget * Decimal(ok) / Decimal(ok + bad)
                    g["weight"] += budget
        rows = []
        for key in sorted(groups):
            g = groups[key]
            rows.append({
                dimension: key,
                "projects": g["projects"],
                "failing_projects": g["failing_projects"],
                "pass": g["pass"],
                "fail": g["fail"],
                "compliance": _ratio(Decimal(g["pass"]), Decimal(g["pass"] + g["fail"])),
                "approved_budget": g["budget"],
                "budget_weighted_compliance": _ratio(g["weighted"], g["weight"]),
            })
        out[dimension] = rows
    return out


def subjects(projects: list[dict], ids: set[str]) -> dict[str, dict[str, Any]]:
    """Name, program and portfolio of the projects behind the given finding subjects."""
    wanted = {project_of(s) for s in ids}
    out = {}
    for p in projects:
        pid = p.get("id")
        if pid in wanted:
            out[pid] = {"name": p.get("name"), "program": p.get("program"), "portfolio": p.get("portfolio")}
    return dict(sorted(out.items()))
