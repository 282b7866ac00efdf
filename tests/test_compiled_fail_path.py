"""The compiled evaluator's fail path takes shortcuts the reference does not: silent
closures (no evidence checks where recording is off), fields read inline, constants not
re-read, date and division arithmetic without `ops.arith`, and a `distance.Hint` that
works out once per requirement what `distance` works out per subject.

Each shortcut must give the reference's findings byte for byte, errors included, so the
policy below aims at their edges (nulls, wrong types, fractions of a day, zero divisors,
a `where` that is neither true nor false) and hypothesis fills the data with them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmo_rules import api, ast
from pmo_rules.distance import Hint, distance
from pmo_rules.evaluate.engine import IndexedEvaluator
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.load import load_collections
from pmo_rules.parse import parse_expression
from pmo_rules.values import DECIMAL_CONTEXT, Duration

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()

EDGES = """
package edges

param cap = 100
param floor = 0.5
param grace = 3d
param tier = "gold"

rule all-where {
    for project in projects where project.status == "active"
    require all(x.ok for x in project.custom.items where x.on)
        else "{project.id}: not all of {len(project.custom.items)} ok"
}

rule any-none {
    for project in projects where project.status == "active"
    require any(x.ok for x in project.custom.items) or none(x.ok for x in project.custom.items where x.on is present)
}

rule count-where {
    for project in projects where any(x.on for x in project.custom.items)
    require count(x.ok for x in project.custom.items where x.on) <= 1
        else "{project.id} counts {count(x.ok for x in project.custom.items where x.on)}"
}

rule sum-where {
    for project in projects
    require sum(x.n for x in project.custom.items where x.n is present and x.n >= floor) <= cap
}

rule constants {
    for project in projects where project.custom.tier != tier and project.custom.n >= floor
    require project.custom.tier == "gold" or project.custom.n < 5 or project.custom.when <= today
        else "{project.id} tier {project.custom.tier} n {project.custom.n:.2f} when {project.custom.when}"
}

rule not-silver {
    for project in projects where project.custom.when <= today or project.custom.tier == 3
    require project.custom.tier != "silver"
}

rule slip {
    for project in projects where project.planned_end is present
    require project.forecast_end - project.planned_end <= grace
        else "{project.id} slips {project.forecast_end - project.planned_end}"
}

rule shift {
    for project in projects where project.planned_end is present
    require project.planned_end + grace * project.custom.k <= today
}

rule spend-ratio {
    for project in projects
    require (project.budget.actual_cost ?? 0) / project.budget.approved <= 1
        else "{project.id} spent {(project.budget.actual_cost ?? 0) / project.budget.approved * 100:.0f}%"
}

rule custom-ratio {
    for project in projects
    require project.custom.n / project.custom.m >= floor
}

rule hints {
    for project in projects where project.status != "closed"
    let spent = project.budget.actual_cost ?? 0
    require cap >= project.budget.approved else "{project.id} over {cap}"
    require project.budget.approved - 10 <= cap * 1000
    require cpi(project) >= floor
    require today - project.planned_end <= grace
    message "{project.id}: {project.custom.tier.x} {project.custom.n:.1f} {spent:.1f}"
}

rule item-fields {
    for project in projects
    let c = project.custom
    let t = project.custom.tier
    require count(x.on for x in project.custom.items where x.tag != "silver" and x.n >= floor) <= 1
        else "{c.tier} {c.n} {t.x} {c.when} {c.k:.1f}"
}

rule item-constants {
    for project in projects where any(x.tag == "gold" or x.n < 2 for x in project.custom.items)
    let c = project.custom
    require none(x.tag == tier for x in project.custom.items where x.n is missing)
        else "{project.id}: {c.tier}, {c.m}"
}

rule milestone-dates {
    for project in projects where any(m.baseline <= today for m in project.milestones where m.baseline is present)
    let late = count(m.due > today for m in project.milestones)
    let hit = count(m.completed is present and m.completed <= m.baseline + grace for m in project.milestones
                    where m.baseline is present and m.baseline <= today)
    require hit / late >= floor else "{project.id} met {hit} of {late} ({hit / late * 100:.0f}%)"
}

rule more-hints {
    for project in projects where project.status != "closed"
    let spent = project.budget.actual_cost ?? 0
    require project.custom.n * 2 <= cap
    require 0 - spent <= 0 - cap
    require spent / 2 + 1 > project.custom.n
    require days(project.forecast_end - project.planned_end) <= 5
}
"""

odd = st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, 2, "x", "0", [1], {"a": 1}]))
numbers = st.one_of(st.none(), st.sampled_from([0, Decimal("0.00"), 1, 0.5, 2.25, 7, 150, -3, Decimal("1E+3"), "x"]))
tags = st.one_of(st.sampled_from(["gold", "silver", ""]), odd)
dates = st.one_of(st.none(), st.sampled_from(["2026-11-01", "2026-11-30", "2027-01-15", "2025-06-30"]))


@st.composite
def portfolios(draw):
    projects = []
    for i in range(draw(st.integers(1, 6))):
        items = [{"on": draw(odd), "ok": draw(odd), "n": draw(numbers), "tag": draw(tags)}
                 for _ in range(draw(st.integers(0, 3)))]
        milestones = [{"baseline": draw(dates), "due": draw(dates), "completed": draw(dates)}
                      for _ in range(draw(st.integers(0, 3)))]
        custom = {
            "items": draw(st.one_of(st.just(items), st.none(), st.just("not a list"))),
            "tier": draw(st.one_of(st.sampled_from(["gold", "silver", "bronze", ""]), odd)),
            "n": draw(numbers), "m": draw(numbers), "k": draw(numbers),
            "when": draw(st.one_of(dates, odd)),
        }
        budget = {"approved": draw(numbers), "actual_cost": draw(numbers), "earned_value": draw(numbers)}
        project = {
            "id": f"PRJ-{i}",
            "status": draw(st.sampled_from(["active", "closed", "on_hold"])),
            "planned_end": draw(dates),
            "forecast_end": draw(dates),
            "budget": {k: v for k, v in budget.items() if v != "x"},  # the schema wants numbers there
            "custom": custom,
            "milestones": milestones,
        }
        projects.append(project)
    return {"projects": projects, "people": [], "programs": []}


PROGRAM, _ = api.check_text(EDGES, SESSION, "<edges>")


def _agree(data: dict) -> dict:
    assert PROGRAM is not None
    loaded = load_collections(data, extension=SESSION.extension)
    ref = api.audit(PROGRAM, loaded, AS_OF, include_passes=True, evaluator=ReferenceEvaluator())
    fast = api.audit(PROGRAM, loaded, AS_OF, include_passes=True, evaluator=IndexedEvaluator())
    # repr, not ==: Decimal("1.0") == Decimal("1"), but the report prints them apart
    assert repr(ref.model_dump()) == repr(fast.model_dump())
    return ref.model_dump()


def test_the_edge_policy_checks():
    assert PROGRAM is not None, api.check_text(EDGES, SESSION, "<edges>")[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_fail_path_edges_agree_with_the_reference(data):
    _agree(data)


def test_the_edge_policy_reaches_its_edges():
    """The policy above is only worth its keep if findings do go through the shortcuts'
    error and hint branches; one fixed portfolio shows they do."""
    projects = [
        {"id": "A", "status": "active", "planned_end": "2026-11-01", "forecast_end": "2027-01-15",
         "budget": {"approved": 0, "actual_cost": 5, "earned_value": 1},
         "custom": {"items": [{"on": 1, "ok": True}, {"on": None, "ok": 2, "n": 7}], "tier": 3, "n": "x",
                    "m": 0, "k": 0.5, "when": "2026-11-01"}},
        {"id": "B", "status": "active", "planned_end": "2026-11-01", "forecast_end": "2026-11-30",
         "budget": {"approved": 150, "actual_cost": 300, "earned_value": 30},
         "custom": {"items": [{"on": True, "ok": False, "n": 150}], "tier": "bronze", "n": 7, "m": "0.00",
                    "k": 1, "when": 5}},
        {"id": "C", "status": "active", "custom": {"items": [{"on": None, "ok": True}, {"on": True, "ok": None}]}},
    ]
    report = _agree({"projects": projects, "people": [], "programs": []})
    text = repr(report["findings"])
    for expected in ("division by zero", "fraction of a day", "is null (unknown)", "needs true or false",
                     "passes when", "template error", "cannot compare"):
        assert expected in text, expected


# ------------------------------------------------------------------- Hint --

COMPARISONS = [
    "x <= 10", "10 >= x", "cap >= x", "x - 10 <= cap", "cap - x >= 1", "x * 2 <= cap", "x / 4 > 1",
    "2 * x < 8", "x + y >= cap", "-x <= 3", "today - d <= 14d", "d + 3d <= today", "d <= today",
    "cpi(r) >= 0.9", "spi(r) < 1", "x ?? 0 > 0", "len(x) >= 1", "days(d - e) <= 5", "x / y >= 0.8",
    "y - cpi(r) <= 0.1", "(x + 1) * 2 <= cap", "r.budget.earned_value >= x", "x - cap <= y", "cap <= 1",
]


def _expr(text: str) -> ast.Compare:
    e, diags = parse_expression(text)
    assert e is not None and isinstance(e, ast.Compare), diags
    return e


class _Env:
    def __init__(self, vars_: dict, params: dict):
        self.vars, self.params, self.today = vars_, params, AS_OF


values = st.one_of(
    st.decimals(min_value=-10**7, max_value=10**7, places=5, allow_nan=False),
    st.sampled_from([Decimal(0), Decimal("0.00001"), Decimal("1E+3"), Decimal("-2.5")]),
    st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.builds(lambda n: Duration(Decimal(n)), st.integers(-400, 400)),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(COMPARISONS), values, values, values, values,
       st.sampled_from(["x", "y", "d", "r", "cap"]), st.booleans())
def test_hint_says_what_distance_says(text, lv, rv, x, y, shadow, ratio):
    """`Hint` decides the side to change, and whether to invert, from names alone; on any
    values it must say exactly what `distance` says (a param shadowed by a variable too)."""
    import decimal

    e = _expr(text)
    params = {"cap": Decimal(100)}
    vars_ = {"x": x, "y": y, "d": AS_OF - dt.timedelta(days=20), "e": AS_OF,
             "r": {"budget": {"earned_value": x, "actual_cost": Decimal(5), "planned_value": y}}}
    if shadow == "cap":
        vars_["cap"] = Decimal(50)
    elif not ratio:
        del vars_[shadow]
    env = _Env(vars_, params)
    hint = Hint(e.op, e.left, e.right, params, vars_)
    with decimal.localcontext(DECIMAL_CONTEXT):
        try:
            expected: object = distance(e.op, e.left, lv, e.right, rv, env)
        except Exception as exc:  # noqa: BLE001 - then the hint must fail alike
            expected = type(exc)
        try:
            got: object = hint(lv, rv, env)
        except Exception as exc:  # noqa: BLE001
            got = type(exc)
    assert got == expected


@pytest.mark.parametrize(("text", "plain"), [
    ("x <= 10", True), ("10 >= x", True), ("x / y >= 0.8", True), ("y - cpi(r) <= 0.1", True),
    ("today - (d ?? e) <= 14d", True), ("days(d - e) <= 5", True),
    ("x - 10 <= cap", False), ("today - d <= 14d", False), ("cpi(r) >= 0.9", False), ("cap - x >= 1", False),
])
def test_hint_prints_without_distance_only_where_nothing_could_be_inverted(text, plain):
    e = _expr(text)
    assert Hint(e.op, e.left, e.right, {"cap": Decimal(100)}, {"x", "y", "d", "e", "r"}).plain is plain


# ------------------------------------------------------ shared printing helpers --
# Both evaluators print through these, so a differential test cannot see them change:
# they are pinned here instead, at the cases their fast paths split on.


@pytest.mark.parametrize(("value", "text"), [
    ("0", "0"), ("-0.00", "0"), ("1.500", "1.5"), ("1E+3", "1000"), ("-1.5E+2", "-150"), ("1E-7", "0.0000001"),
    ("123456789.1200", "123456789.12"), ("-0.5", "-0.5"), ("Infinity", "Infinity"), ("-NaN", "-NaN"),
])
def test_format_number(value, text):
    from pmo_rules.values import format_number

    assert format_number(Decimal(value)) == text
    assert format_number(7) == "7"


@pytest.mark.parametrize(("value", "places", "rounded"), [
    ("2.5", 0, "3"), ("-2.5", 0, "-3"), ("1.005", 2, "1.01"), ("0.125", 2, "0.13"), ("7", 2, "7.00"),
    ("123456789012345678901234567.895", 2, "123456789012345678901234567.90"),
])
def test_round_half_up(value, places, rounded):
    from pmo_rules.values import round_half_up

    assert str(round_half_up(Decimal(value), places)) == rounded


@pytest.mark.parametrize(("value", "op", "bound", "text"), [
    ("1234", "<=", "1", "1,234"), ("-1234567.5", "<=", "1", "-1,234,567.5"), ("999", "<=", "1", "999"),
    ("1E+3", ">=", "2000", "1,000"), ("12345.6789", "<=", "1", "12,345.6789"),
    ("0.12345", "<=", "0.1", "0.1235"), ("0.10004", "<=", "0.1", "0.10004"), ("0.09996", ">", "0.1", "0.09996"),
])
def test_distance_prints_current_values(value, op, bound, text):
    from pmo_rules.distance import _now

    assert _now(Decimal(value), op, Decimal(bound)) == text


def test_to_json_keeps_plain_values():
    from pmo_rules.values import to_json

    for value in (None, True, False, "x", Decimal("1.50"), 3):
        assert to_json(value) is value
    assert to_json(dt.date(2026, 1, 2)) == "2026-01-02"
    assert to_json(Duration(Decimal(3))) == "3d"
    assert to_json({"id": "P1"}) == "P1"
