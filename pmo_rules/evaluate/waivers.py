"""Apply waivers to an evaluation's failures (SPEC 2.4), the same way for every evaluator.

A waiver turns a `fail` into `waived` when it names the rule, selects the subject and has
not expired (it applies up to and including its `expires` date). An expired waiver that
would have matched is noted on the finding. Every waiver gets a status for the report:
`active` (used), `expired`, or `stale` (matched no failure).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from .. import ast
from ..program import Program
from . import Evaluation

EXPIRING_SOON_DAYS = 30


def apply_waivers(
    program: Program,
    snapshot: Any,
    as_of: dt.date,
    evaluation: Evaluation,
    where_matches: Callable[[ast.Waiver, ast.Rule, dict], bool | str],
) -> None:
    rules = program.rule_by_id
    by_rule: dict[str, list[ast.Waiver]] = {}
    for w in program.waivers:
        if w.rule in rules:
            by_rule.setdefault(w.rule, []).append(w)
    used: dict[str, list[str]] = {w.name: [] for w in program.waivers}
    expired_hits: dict[str, list[str]] = {w.name: [] for w in program.waivers}
    subjects_by_id: dict[str, dict[str, dict]] = {}
    for res in evaluation.results:
        if res.outcome != "fail" or res.rule not in by_rule:
            continue
        rule = rules[res.rule]
        for w in by_rule[res.rule]:
            if not _selects(w, rule, res.subject, snapshot, subjects_by_id, where_matches):
                continue
            if w.expires is not None and as_of > w.expires:
                expired_hits[w.name].append(res.subject)
                res.note = f"waiver {w.name} expired on {w.expires.isoformat()} and no longer applies"
                continue
            res.outcome = "waived"
            res.waiver = w.name
            res.note = None
            used[w.name].append(res.subject)
            counts = evaluation.counts[res.rule]
            counts["fail"] -= 1
            counts["waived"] += 1
            break
    for w in sorted(program.waivers, key=lambda w: w.name):
        if used[w.name]:
            status = "active"
        elif w.expires is not None and as_of > w.expires:
            status = "expired"
        else:
            status = "stale"
        expiring = (w.expires is not None and as_of <= w.expires
                    and (w.expires - as_of).days <= EXPIRING_SOON_DAYS)
        evaluation.waivers.append({
            "id": w.name,
            "rule": w.rule,
            "subjects": list(w.subjects) if w.subjects is not None else None,
            "where": w.where.text if w.where is not None else None,
            "reason": w.reason,
            "approved_by": w.approved_by,
            "expires": w.expires.isoformat() if w.expires else None,
            "status": status,
            "expiring_soon": bool(expiring),
            "applied_to": sorted(used[w.name]),
            "expired_for": sorted(expired_hits[w.name]),
            "location": str(w.span),
        })


def _selects(w: ast.Waiver, rule: ast.Rule, subject_id: str, snapshot: Any,
             cache: dict[str, dict[str, dict]], where_matches: Callable) -> bool:
    if w.subjects is not None:
        return subject_id in w.subjects
    if w.where is None or rule.for_clause is None or not isinstance(rule.for_clause.collection, ast.Name):
        return False
    coll = rule.for_clause.collection.name
    if coll not in cache:
        cache[coll] = {snapshot.subject_id(r): r for r in snapshot.collection(coll)}
    record = cache[coll].get(subject_id)
    if record is None:
        return False
    return where_matches(w, rule, record) is True
