"""The benchmark's hand-written baseline (`bench/handwritten.py`) counts what the engine counts.

`bench/run.py` times the engine against that loop; the comparison only means something if
both decide the same 14 rules the same way. For each rule the loop's count must equal the
engine's `fail` + `error` count, on a generated portfolio and on the same portfolio with
nulls, zeros and negative numbers blanked in at random (the loop counts a null a rule
needs as a failure, as the engine's `error` does).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import random
from pathlib import Path

import pytest

from pmo_rules import api
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.generate import generate_portfolio
from pmo_rules.load import load_collections

AS_OF = dt.date(2026, 11, 26)
_PATH = Path(__file__).resolve().parents[1] / "bench" / "handwritten.py"
_spec = importlib.util.spec_from_file_location("bench_handwritten", _PATH)
handwritten = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(handwritten)


@pytest.fixture(scope="module")
def program():
    session = api.Session.create()
    program, _ = api.load_program([api.default_policies()], session)
    return program


def _blank(data: dict, seed: int) -> dict:
    """A copy of the raw portfolio with fields the 14 rules read set to null, 0 or < 0."""
    rng = random.Random(seed)
    data = copy.deepcopy(data)

    def maybe(record: dict, keys: tuple[str, ...], p: float = 0.08) -> None:
        for key in keys:
            if key in record and rng.random() < p:
                record[key] = rng.choice((None, None, 0, -1)) if isinstance(record[key], (int, float)) else None

    for project in data["projects"]:
        maybe(project, ("status", "phase", "health", "manager", "sponsor", "program", "planned_end",
                        "forecast_end", "last_status_update", "budget", "tolerances"), 0.05)
        for part in ("budget", "tolerances"):
            if isinstance(project.get(part), dict):
                maybe(project[part], tuple(project[part]))
        for m in project.get("milestones", []):
            maybe(m, ("baseline", "due", "completed"))
        for r in project.get("risks", []):
            maybe(r, ("probability", "impact", "status"))
        for a in project.get("assignments", []):
            maybe(a, ("person", "allocation"), 0.02)
    for person in data["people"]:
        if rng.random() < 0.1:
            person.pop("active", None) if rng.random() < 0.5 else person.update(active=False)
    for prog in data["programs"]:
        maybe(prog, ("budget_cap",), 0.1)
    return data


@pytest.mark.parametrize("blanked", [False, True], ids=["generated", "with-nulls"])
def test_counts_match_the_engine(program, blanked: bool) -> None:
    data = generate_portfolio(300, seed=3)
    if blanked:
        data = _blank(data, seed=11)
    snapshot = load_collections(data).snapshot
    engine = IndexedEvaluator(1).evaluate(program, snapshot, AS_OF).counts
    expected = {r: engine[r]["fail"] + engine[r]["error"] for r in handwritten.RULES}
    assert handwritten.run(snapshot, AS_OF) == expected
    assert len(handwritten.RULES) == len(set(handwritten.RULES)) == 14
    assert {r.id for r in program.rules} >= set(handwritten.RULES)
    if blanked:  # the blanking really produced undecidable subjects
        assert sum(engine[r]["error"] for r in handwritten.RULES) > 0
