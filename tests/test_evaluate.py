"""The reference evaluator (SPEC 2.2, 2.3, 2.4, 2.6 "Evaluation", "Templates").

Each expression is evaluated through the public API (`api.audit_text`): a rule binds it
with `let v = EXPR` and `require false`, so the value is read back from the evidence
(numbers exact, dates and durations as the report prints them).
"""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

P = {"id": "P1"}
LOC = re.compile(r"<policy>:6:\d+")  # `require` is on line 6 of the helper's rule text


def with_custom(**custom) -> dict:
    return {"id": "P1", "custom": custom}


def err(lang, cond, project=None, **kw):
    f = lang.outcome_finding(cond, project or P, **kw)
    assert f.outcome == "error", f"`{cond}`: expected error, got {f.outcome}: {f.message}"
    return f


def evidence(f) -> dict:
    return {e.expr: e.value for e in f.evidence}


# ------------------------------------------------------------------ literals --


@pytest.mark.parametrize("expr, value", [
    ("250_000", Decimal(250000)),
    ("250k", Decimal(250000)),
    ("1.5M", Decimal(1500000)),
    ("2B", Decimal(2000000000)),
    ("20%", Decimal("0.2")),
    ("-2.5", Decimal("-2.5")),
    ('"a\\"b"', 'a"b'),
    ('"\\{x\\}"', "{x}"),
    ('"\\d"', "\\d"),
    ("true", True),
    ("false", False),
    ("null", None),
    ("2026-11-20", "2026-11-20"),
    ("14d", "14d"),
    ("2w", "14d"),
    ("3mo", "90d"),
    ("1y", "365d"),
    ('["a", "b"]', ["a", "b"]),
])
def test_literal_values(lang, expr, value):
    assert lang.value(expr) == value


def test_magnitudes_and_percentages_compare_exactly(lang):
    assert lang.outcome("250k == 250_000 and 1.5M == 1_500_000 and 2B == 2_000_000_000") == "pass"
    assert lang.outcome("20% == 0.2 and 20% * 250k == 50k") == "pass"


def test_durations_in_days(lang):
    assert lang.outcome("3mo == 90d and 1y == 365d and 2w == 14d") == "pass"


def test_object_literal_fields(lang):
    assert lang.outcome('{id: "P-1", n: 2}.id == "P-1" and {id: "P-1", n: 2}.n == 2') == "pass"


def test_today_is_the_as_of_date(lang):
    assert lang.value("today", as_of="2020-02-29") == "2020-02-29"
    assert lang.value("today") == "2026-11-26"


# ---------------------------------------------------------------- precedence --


@pytest.mark.parametrize("expr, value", [
    ("2 + 3 * 4", Decimal(14)),
    ("(2 + 3) * 4", Decimal(20)),
    ("10 - 3 - 2", Decimal(5)),
    ("100 / 10 / 2", Decimal(5)),
    ("-2 * 3", Decimal(-6)),
    ("2 * -3", Decimal(-6)),
    ("- -4", Decimal(4)),
    ("true or false and false", True),
    ("not false and false", False),
    ("not (false and false)", True),
    ("false implies false implies false", True),
    ("1 + 2 == 3", True),
    ("not 1 == 2", True),
])
def test_operator_precedence_values(lang, expr, value):
    assert lang.value(expr) == value


def test_coalesce_binds_tighter_than_arithmetic(lang):
    project = with_custom(b=5)
    assert lang.value("project.custom.a ?? 0 + project.custom.b ?? 0", project) == Decimal(5)
    assert lang.value("2 * project.custom.a ?? 3", project) == Decimal(6)


def test_coalesce_is_right_associative(lang):
    assert lang.value("project.custom.a ?? project.custom.b ?? 7", with_custom()) == Decimal(7)
    assert lang.value("project.custom.a ?? project.custom.b ?? 7", with_custom(b=2)) == Decimal(2)


def test_coalesce_keeps_non_null_left_side(lang):
    assert lang.value('project.custom.a ?? "x"', with_custom(a="")) == ""
    assert lang.value("project.custom.a ?? 1", with_custom(a=0)) == Decimal(0)


def test_coalesced_cpi_is_compared(lang):
    # SPEC 2.6: `cpi(project) ?? 1 >= 0.9` compares the defaulted value.
    project = {"id": "P1", "budget": {"actual_cost": 0, "earned_value": 5}}
    assert lang.outcome("cpi(project) ?? 1 >= 0.9", project) == "pass"
    project = {"id": "P1", "budget": {"actual_cost": 100, "earned_value": 50}}
    assert lang.outcome("cpi(project) ?? 1 >= 0.9", project) == "fail"


# ------------------------------------------------------------------------ null --


def test_missing_key_and_path_through_null_read_null(lang):
    assert lang.value("project.budget.approved") is None
    assert lang.value("project.custom.a.b.c", with_custom()) is None
    assert lang.value('project.custom["no such key"]', with_custom()) is None


@pytest.mark.parametrize("project, cond, outcome", [
    ({"id": "P1"}, "project.sponsor is present", "fail"),
    ({"id": "P1", "sponsor": None}, "project.sponsor is present", "fail"),
    ({"id": "P1", "sponsor": ""}, "project.sponsor is present", "pass"),
    ({"id": "P1", "tags": []}, "project.tags is present", "pass"),
    ({"id": "P1", "custom": {"x": []}}, "project.custom.x is present", "pass"),
    ({"id": "P1", "custom": {"x": 0}}, "project.custom.x is present", "pass"),
    ({"id": "P1", "custom": {"x": False}}, "project.custom.x is present", "pass"),
    ({"id": "P1"}, "project.sponsor is missing", "pass"),
    ({"id": "P1", "sponsor": ""}, "project.sponsor is missing", "fail"),
    ({"id": "P1"}, "project.budget.approved is missing", "pass"),
])
def test_is_present_and_is_missing(lang, project, cond, outcome):
    assert lang.outcome(cond, project) == outcome


@pytest.mark.parametrize("cond, outcome", [
    ("project.sponsor == null", "pass"),
    ('project.sponsor == "Ana"', "fail"),
    ('project.sponsor != "Ana"', "pass"),
    ("project.sponsor != null", "fail"),
    ("null == null", "pass"),
])
def test_equality_accepts_null(lang, cond, outcome):
    assert lang.outcome(cond) == outcome


@pytest.mark.parametrize("cond, outcome", [
    ("project.custom.u and false", "fail"),
    ("false and project.custom.u", "fail"),
    ("project.custom.u or true", "pass"),
    ("true or project.custom.u", "pass"),
    ("project.custom.u and true", "error"),
    ("project.custom.u or false", "error"),
    ("project.custom.u and project.custom.u", "error"),
    ("not project.custom.u", "error"),
    ("false implies project.custom.u", "pass"),
    ("project.custom.u implies true", "pass"),
    ("project.custom.u implies false", "error"),
    ("true implies project.custom.u", "error"),
])
def test_three_valued_logic(lang, cond, outcome):
    assert lang.outcome(cond, with_custom()) == outcome


def test_three_valued_values(lang):
    project = with_custom()
    assert lang.value("project.custom.u and false", project) is False
    assert lang.value("project.custom.u or true", project) is True
    assert lang.value("project.custom.u and true", project) is None
    assert lang.value("project.custom.u or false", project) is None
    assert lang.value("not project.custom.u", project) is None


@pytest.mark.parametrize("cond, path", [
    ("project.budget.approved > 100", "project.budget.approved"),
    ("100 <= project.budget.approved", "project.budget.approved"),
    ("project.budget.approved + 1 > 0", "project.budget.approved"),
    ("project.budget.approved - 1 > 0", "project.budget.approved"),
    ("project.budget.approved * 2 > 0", "project.budget.approved"),
    ("project.budget.approved / 2 > 0", "project.budget.approved"),
    ("-project.budget.approved < 0", "project.budget.approved"),
    ("today - project.start_date > 1d", "project.start_date"),
    ("project.planned_end + 5d > today", "project.planned_end"),
    ('project.status in ["active"]', "project.status"),
    ('project.status not in ["active"]', "project.status"),
    ('project.sponsor contains "A"', "project.sponsor"),
    ('"A" in project.sponsor', "project.sponsor"),
    ('project.sponsor matches "A"', "project.sponsor"),
    ('len(project.sponsor) > 1', "project.sponsor"),
    ('lower(project.sponsor) == "a"', "project.sponsor"),
])
def test_other_operators_on_null_give_error_naming_the_path(lang, cond, path):
    f = err(lang, cond)
    assert path in f.message
    assert LOC.search(f.message), f.message


def test_null_error_points_at_the_null_operand(lang):
    f = err(lang, "1 < project.budget.approved")
    assert "<policy>:6:13" in f.message


def test_error_evidence_records_the_null_path(lang):
    f = err(lang, "project.budget.approved > 100")
    ev = evidence(f)
    assert "project.budget.approved" in ev and ev["project.budget.approved"] is None


def test_require_that_is_null_is_an_error(lang):
    f = err(lang, "project.custom.flag", with_custom())
    assert "project.custom.flag" in f.message


def test_rule_where_that_is_null_is_an_error(lang):
    text = lang.rule("for project in projects where project.custom.flag\nrequire true")
    found = lang.run(text, {"projects": [with_custom()]})
    assert found[("t.r", "P1")].outcome == "error"


def test_rule_where_with_null_comparison_is_an_error(lang):
    text = lang.rule("for project in projects where project.budget.approved > 0\nrequire true")
    report = lang.report(text, {"projects": [P]})
    assert report.summary["t.r"].counts["error"] == 1
    assert report.summary["t.r"].counts["pass"] == 0


def test_comprehension_where_that_is_null_is_an_error(lang):
    project = {"id": "P1", "risks": [{"id": "R1", "status": "open", "impact": 5}]}
    assert lang.outcome("all(r.owner is present for r in project.risks where r.probability > 0.5)", project) == "error"


def test_missing_data_never_passes_silently(lang):
    for cond in ("project.budget.approved <= 1M", "project.budget.approved != 0 and project.budget.approved < 5",
                 "not (project.budget.approved > 1M)"):
        assert lang.outcome(cond) == "error", cond


def test_type_mismatch_in_data_is_an_error(lang):
    assert lang.outcome("project.custom.x == 5", with_custom(x="5")) == "error"
    assert lang.outcome("project.custom.x > 5", with_custom(x="7")) == "error"


def test_a_data_error_in_one_subject_does_not_stop_the_run(lang):
    text = lang.rule("for project in projects\nrequire project.budget.approved > 10")
    found = lang.run(text, {"projects": [{"id": "A"}, {"id": "B", "budget": {"approved": 20}},
                                          {"id": "C", "budget": {"approved": 5}}]})
    assert [found[("t.r", s)].outcome for s in "ABC"] == ["error", "pass", "fail"]


# ------------------------------------------------------------------ decimals --


def test_decimal_addition_is_exact(lang):
    assert lang.outcome("0.1 + 0.2 == 0.3") == "pass"


def test_data_decimals_are_exact(lang):
    assert lang.outcome("project.custom.a + project.custom.b == 0.3", with_custom(a=0.1, b=0.2)) == "pass"


def test_cpi_of_exactly_point_nine_passes(lang):
    project = {"id": "P1", "budget": {"earned_value": 90, "actual_cost": 100}}
    assert lang.outcome("cpi(project) >= 0.9", project) == "pass"
    assert lang.value("cpi(project)", project) == Decimal("0.9")


def test_cpi_from_float_data_is_exact(lang):
    project = {"id": "P1", "budget": {"earned_value": 0.9, "actual_cost": 1.0}}
    assert lang.outcome("cpi(project) >= 0.9", project) == "pass"


def test_sum_of_cents_equal_to_cap_is_not_over(lang):
    risks = [{"id": f"R{i}", "impact": 0.1} for i in range(10)]
    project = {"id": "P1", "risks": risks, "budget": {"approved": 1.0}}
    assert lang.outcome("sum(r.impact for r in project.risks) <= project.budget.approved", project) == "pass"
    assert lang.outcome("sum(r.impact for r in project.risks) == 1", project) == "pass"


def test_division_keeps_28_significant_digits(lang):
    v = lang.value("1 / 3")
    assert isinstance(v, Decimal)
    assert len(v.as_tuple().digits) >= 28
    assert v == Decimal(1) / Decimal(3)


def test_division_by_zero_is_an_error(lang):
    f = err(lang, "project.custom.a / project.custom.b > 1", with_custom(a=1, b=0))
    assert "project.custom.b" in f.message
    assert "zero" in f.message.lower()


def test_division_by_zero_literal_is_an_error_not_a_crash(lang):
    f = lang.outcome_finding("1 / (project.custom.b - project.custom.b) > 1", with_custom(b=3))
    assert f.outcome == "error"


@pytest.mark.parametrize("expr, value", [
    ("round(2.5)", Decimal(3)),
    ("round(-2.5)", Decimal(-3)),
    ("round(3.5)", Decimal(4)),
    ("round(2.4)", Decimal(2)),
    ("round(2.345, 2)", Decimal("2.35")),
    ("round(-2.345, 2)", Decimal("-2.35")),
    ("round(0.125, 2)", Decimal("0.13")),
    ("round(1.005, 2)", Decimal("1.01")),
    ("round(2, 2)", Decimal(2)),
])
def test_round_half_away_from_zero(lang, expr, value):
    assert lang.value(expr) == value


@pytest.mark.parametrize("value, spec, text", [
    ("2.345", ".2f", "2.35"),
    ("-2.345", ".2f", "-2.35"),
    ("0.125", ".2f", "0.13"),
    ("2.5", ".0f", "3"),
    ("-2.5", ".0f", "-3"),
    ("1", ".2f", "1.00"),
    ("1234567.891", ".1f", "1234567.9"),
])
def test_format_spec_rounds_half_away_from_zero(lang, value, spec, text):
    body = f'for project in projects\nrequire false else "{{project.custom.x:{spec}}}"'
    found = lang.run(lang.rule(body), {"projects": [with_custom(x=Decimal(value))]})
    assert found[("t.r", "P1")].message == text


def test_money_never_shows_float_artefacts(lang):
    body = 'for project in projects\nrequire false else "{project.custom.a + project.custom.b}"'
    found = lang.run(lang.rule(body), {"projects": [with_custom(a=0.1, b=0.2)]})
    assert found[("t.r", "P1")].message == "0.3"


# ------------------------------------------------------------ dates/durations --


@pytest.mark.parametrize("expr, value", [
    ("2026-11-26 - 2026-11-01", "25d"),
    ("2026-11-01 - 2026-11-26", "-25d"),
    ("2026-11-01 + 25d", "2026-11-26"),
    ("2026-11-26 - 1w", "2026-11-19"),
    ("2026-01-31 + 1mo", "2026-03-02"),
    ("2024-01-01 + 1y", "2024-12-31"),
    ("2w * 2", "28d"),
    ("3 * 1w", "21d"),
    ("2w + 3d", "17d"),
    ("2w - 3d", "11d"),
    ("today - 2026-11-05", "21d"),
])
def test_date_arithmetic(lang, expr, value):
    assert lang.value(expr) == value


@pytest.mark.parametrize("cond, outcome", [
    ("2w > 13d", "pass"),
    ("2w == 14d", "pass"),
    ("1mo < 31d", "pass"),
    ("2026-11-26 > 2026-11-25", "pass"),
    ("today - 2026-11-12 <= 14d", "pass"),
    ("today - 2026-11-11 <= 14d", "fail"),
])
def test_duration_and_date_comparisons(lang, cond, outcome):
    assert lang.outcome(cond) == outcome


def test_dates_from_data(lang):
    project = {"id": "P1", "start_date": "2026-01-01", "planned_end": "2026-06-30"}
    assert lang.value("project.planned_end - project.start_date", project) == "180d"
    assert lang.outcome("project.start_date + 180d == project.planned_end", project) == "pass"


def test_messages_print_dates_and_durations(lang):
    body = 'for project in projects\nrequire false else "as of {today}: {today - 2026-11-05} since {project.start_date}"'
    found = lang.run(lang.rule(body), {"projects": [{"id": "P1", "start_date": "2026-01-02"}]})
    assert found[("t.r", "P1")].message == "as of 2026-11-26: 21d since 2026-01-02"


# ------------------------------------------------------------- comprehensions --

RISKS = [
    {"id": "R1", "probability": "0.5", "impact": 100, "status": "open", "owner": "Ann"},
    {"id": "R2", "probability": "0.2", "impact": 50, "status": "open", "owner": None},
    {"id": "R3", "probability": "0.9", "impact": 10, "status": "closed", "owner": None},
]
RP = {"id": "P1", "risks": RISKS, "tags": ["x", "y"]}


@pytest.mark.parametrize("expr, value", [
    ("all(r.owner is present for r in project.risks)", False),
    ('all(r.owner is present for r in project.risks where r.status == "open" and r.impact > 60)', True),
    ("any(r.owner is present for r in project.risks)", True),
    ('any(r.owner is present for r in project.risks where r.status == "closed")', False),
    ("none(r.impact > 100 for r in project.risks)", True),
    ("none(r.impact >= 100 for r in project.risks)", False),
    ("count(r.owner is missing for r in project.risks)", Decimal(2)),
    ('count(r.owner is missing for r in project.risks where r.status == "open")', Decimal(1)),
    ("sum(r.impact for r in project.risks)", Decimal(160)),
    ('sum(r.probability * r.impact for r in project.risks where r.status == "open")', Decimal(60)),
    ("min(r.impact for r in project.risks)", Decimal(10)),
    ("max(r.probability for r in project.risks)", Decimal("0.9")),
    ('avg(r.impact for r in project.risks where r.status == "open")', Decimal(75)),
    ("count(project.risks)", Decimal(3)),
    ("count(project.tags)", Decimal(2)),
])
def test_aggregates(lang, expr, value):
    assert lang.value(expr, RP) == value


@pytest.mark.parametrize("expr, value", [
    ("sum(r.impact for r in project.risks)", Decimal(0)),
    ("count(r.owner is present for r in project.risks)", Decimal(0)),
    ("all(r.owner is present for r in project.risks)", True),
    ("any(r.owner is present for r in project.risks)", False),
    ("none(r.owner is present for r in project.risks)", True),
    ("min(r.impact for r in project.risks)", None),
    ("max(r.impact for r in project.risks)", None),
    ("avg(r.impact for r in project.risks)", None),
])
def test_aggregates_of_nothing(lang, expr, value):
    assert lang.value(expr, {"id": "P1"}) == value


def test_aggregates_of_nothing_after_where(lang):
    assert lang.value('sum(r.impact for r in project.risks where r.status == "gone")', RP) == Decimal(0)
    assert lang.value('max(r.impact for r in project.risks where r.status == "gone")', RP) is None


def test_sum_of_no_durations_is_zero_days(lang):
    assert lang.value("sum(m.due - m.baseline for m in project.milestones)", {"id": "P1"}) == "0d"
    assert lang.outcome("sum(m.due - m.baseline for m in project.milestones) == 0d", {"id": "P1"}) == "pass"


def test_sum_of_durations(lang):
    project = {"id": "P1", "milestones": [{"name": "a", "baseline": "2026-01-01", "due": "2026-01-11"},
                                          {"name": "b", "baseline": "2026-02-01", "due": "2026-02-06"}]}
    assert lang.value("sum(m.due - m.baseline for m in project.milestones)", project) == "15d"
    assert lang.value("max(m.due - m.baseline for m in project.milestones)", project) == "10d"
    assert lang.value("min(m.due for m in project.milestones)", project) == "2026-01-11"


@pytest.mark.parametrize("agg", ["sum", "min", "max", "avg"])
def test_null_element_makes_numeric_aggregates_an_error(lang, agg):
    project = {"id": "P1", "risks": [{"id": "R1", "impact": 5}, {"id": "R2", "impact": None}]}
    f = err(lang, f"{agg}(r.impact for r in project.risks) >= 0", project)
    assert "r.impact" in f.message or f"{agg}(" in f.message


def test_null_element_excluded_by_where_is_fine(lang):
    project = {"id": "P1", "risks": [{"id": "R1", "impact": 5}, {"id": "R2", "impact": None}]}
    assert lang.value("sum(r.impact for r in project.risks where r.impact is present)", project) == Decimal(5)


@pytest.mark.parametrize("agg", ["sum", "min", "max", "avg"])
def test_null_element_in_a_plain_list_is_an_error(lang, agg):
    assert lang.outcome(f"{agg}(project.custom.xs) >= 0", with_custom(xs=[1, None, 2])) == "error"


@pytest.mark.parametrize("expr, value", [
    ("sum([1, 2, 3])", Decimal(6)),
    ("count([1, 2, 3])", Decimal(3)),
    ("min([4, 2, 9])", Decimal(2)),
    ("max([4, 2, 9])", Decimal(9)),
    ("avg([1, 2])", Decimal("1.5")),
    ("all([true, true])", True),
    ("any([false, true])", True),
    ("none([false, false])", True),
    ("count([])", Decimal(0)),
    ("sum([])", Decimal(0)),
])
def test_plain_list_aggregates(lang, expr, value):
    assert lang.value(expr) == value


def test_plain_list_aggregates_over_data(lang):
    project = with_custom(xs=[3, 1.5, 2])
    assert lang.value("sum(project.custom.xs)", project) == Decimal("6.5")
    assert lang.value("count(project.custom.xs)", project) == Decimal(3)


@pytest.mark.parametrize("expr, value", [
    ("min(3, 5)", Decimal(3)),
    ("max(3, 5)", Decimal(5)),
    ("min(4, 2, 9)", Decimal(2)),
    ("max(2026-01-01, 2026-02-01)", "2026-02-01"),
    ("min(3d, 1w)", "3d"),
    ('max("a", "b")', "b"),
])
def test_min_max_as_functions(lang, expr, value):
    assert lang.value(expr) == value


def test_count_with_null_element_condition_is_an_error(lang):
    project = {"id": "P1", "risks": [{"id": "R1", "impact": None}]}
    assert lang.outcome("count(r.impact > 5 for r in project.risks) == 0", project) == "error"


def test_all_with_null_element_is_an_error(lang):
    project = {"id": "P1", "risks": [{"id": "R1", "impact": None}]}
    assert lang.outcome("all(r.impact > 5 for r in project.risks)", project) == "error"


def test_comprehension_over_a_collection_joins(lang):
    text = lang.rule('for person in people\nlet load = sum(a.allocation for a in assignments where a.person == person.id)\n'
                     'require load <= person.capacity')
    data = {"people": [{"id": "U1", "capacity": 1}, {"id": "U2", "capacity": "0.5"}],
            "projects": [{"id": "P1", "assignments": [{"person": "U1", "allocation": "0.5"},
                                                      {"person": "U2", "allocation": "0.6"}]}]}
    found = lang.run(text, data)
    assert found[("t.r", "U1")].outcome == "pass"
    assert found[("t.r", "U2")].outcome == "fail"


def test_comprehension_variable_does_not_leak(lang):
    text = lang.rule("for r in projects\nlet n = count(r.owner is present for r in r.risks)\nrequire r.id == \"P1\"")
    # `r` is both the subject and the comprehension variable: the checker may reject it; if it
    # accepts, the subject must still be the subject after the comprehension.
    program, diags = lang.check(text)
    if program is not None:
        found = lang.run(text, {"projects": [{"id": "P1", "risks": [{"id": "X", "owner": "o"}]}]})
        assert found[("t.r", "P1")].outcome == "pass"


# ------------------------------------------------------------------- strings --


@pytest.mark.parametrize("text, n", [("Łódź", 4), ("😀", 1), ("", 0), ("é", 1), ("日本語", 3), ("a\\tb", 3)])
def test_len_counts_code_points(lang, text, n):
    assert lang.value(f'len("{text}")') == Decimal(n)


def test_len_of_data_text_and_lists(lang):
    project = {"id": "P1", "name": "Łódź 😀", "tags": ["a", "b", "c"]}
    assert lang.value("len(project.name)", project) == Decimal(6)
    assert lang.value("len(project.tags)", project) == Decimal(3)


def test_lower_and_upper(lang):
    assert lang.value('lower("ÀBC Łódź")') == "àbc łódź"
    assert lang.value('upper("abc")') == "ABC"


@pytest.mark.parametrize("name, pattern, outcome", [
    ("xxPRJ-123xx", "PRJ-\\d", "pass"),
    ("PRJ-000123", "^PRJ-\\d{6}$", "pass"),
    ("PRJ-0001234", "^PRJ-\\d{6}$", "fail"),
    ("abc\ndef", "^def", "fail"),
    ("abc\ndef", "abc$", "fail"),
    ("abc\ndef", "^abc", "pass"),
    ("abc\ndef", "def$", "pass"),
    ("abc\n", "abc$", "fail"),
    ("PRJ-١٢٣", "\\d", "fail"),
    ("PRJ-١٢٣", "PRJ-\\d+", "fail"),
    ("٣", "^\\d$", "fail"),
    ("abc", "B", "fail"),
])
def test_matches_is_an_unanchored_re2_search(lang, name, pattern, outcome):
    assert lang.outcome(f'project.name matches "{pattern}"', {"id": "P1", "name": name}) == outcome


def test_matches_with_a_text_param(lang):
    f = lang.outcome_finding("project.id matches id_pattern", {"id": "PRJ-000123"},
                             header='param id_pattern = "^PRJ-\\d{6}$"')
    assert f.outcome == "pass"


def test_matches_cannot_hang(lang):
    name = "a" * 5000 + "b"
    start = time.perf_counter()
    assert lang.outcome('project.name matches "^(a+)+$"', {"id": "P1", "name": name}) == "fail"
    assert time.perf_counter() - start < 2


def test_matches_on_non_text_data_is_an_error(lang):
    assert lang.outcome('project.custom.x matches "1"', with_custom(x=1)) == "error"


@pytest.mark.parametrize("cond, outcome", [
    ('"abcdef" contains "cd"', "pass"),
    ('"abcdef" contains "dc"', "fail"),
    ('"cd" in "abcdef"', "pass"),
    ('"" in "abc"', "pass"),
    ('project.tags contains "x"', "pass"),
    ('project.tags contains "z"', "fail"),
    ('"x" in project.tags', "pass"),
    ('"z" not in project.tags', "pass"),
    ('"x" not in project.tags', "fail"),
    ('2 in [1, 2, 3]', "pass"),
    ('"xy" in project.tags', "fail"),
])
def test_contains_and_in(lang, cond, outcome):
    assert lang.outcome(cond, {"id": "P1", "tags": ["x", "y"]}) == outcome


@pytest.mark.parametrize("x, y", [('"abcdef"', '"cd"'), ('"abc"', '"z"'), ('project.tags', '"x"'),
                                  ('project.tags', '"q"'), ("[1, 2]", "2"), ('project.name', '"Ló"')])
def test_y_in_x_equals_x_contains_y(lang, x, y):
    project = {"id": "P1", "tags": ["x", "y"], "name": "Łódź"}
    assert lang.value(f"{y} in {x}", project) == lang.value(f"{x} contains {y}", project)


@pytest.mark.parametrize("cond", ['"x" in project.custom.none', 'project.custom.none contains "x"',
                                  'project.custom.none in ["a"]', 'project.custom.none in "abc"',
                                  '"abc" contains project.custom.none', 'project.custom.none not in ["a"]'])
def test_in_and_contains_on_null_give_error(lang, cond):
    f = err(lang, cond, with_custom())
    assert "project.custom.none" in f.message


# --------------------------------------------------------------------- index --


def test_index_reads_any_key(lang):
    project = {"id": "P1", "custom": {"cost-center": "CC-7", "a b": 1}}
    assert lang.value('project.custom["cost-center"]', project) == "CC-7"
    assert lang.value('project.custom["a b"]', project) == Decimal(1)


def test_index_equals_dotted_access(lang):
    project = {"id": "P1", "name": "Ledger", "budget": {"approved": 5}}
    assert lang.value('project["name"]', project) == "Ledger"
    assert lang.outcome('project["budget"]["approved"] == project.budget.approved', project) == "pass"


def test_unknown_record_keys_are_kept_and_readable(lang):
    project = {"id": "P1", "region": "EU"}
    assert lang.value('project["region"]', project) == "EU"


# ------------------------------------------------------------------ outcomes --


def test_not_applicable_when_where_is_false(lang):
    text = lang.rule('for project in projects where project.status == "active"\nrequire false')
    report = lang.report(text, {"projects": [{"id": "P1", "status": "proposed"}, {"id": "P2", "status": "active"}]})
    assert report.summary["t.r"].counts == {"pass": 0, "fail": 1, "error": 0, "waived": 0, "not_applicable": 1}
    assert [(f.subject, f.outcome) for f in report.findings] == [("P2", "fail")]


def test_exactly_one_outcome_per_subject(lang):
    text = lang.rule('for project in projects where project.status != "cancelled"\n'
                     "require project.budget.approved > 10")
    projects = [{"id": "A", "status": "cancelled"}, {"id": "B"}, {"id": "C", "budget": {"approved": 20}},
                {"id": "D", "budget": {"approved": 1}}]
    report = lang.report(text, {"projects": projects})
    counts = report.summary["t.r"].counts
    assert sum(counts.values()) == 4
    assert counts == {"pass": 1, "fail": 1, "error": 1, "waived": 0, "not_applicable": 1}


def test_first_failing_require_decides(lang):
    body = ('for project in projects\nrequire true else "first"\nrequire false else "second"\n'
            'require false else "third"\nrequire project.budget.approved > 0 else "fourth"')
    found = lang.run(lang.rule(body), {"projects": [P]})
    f = found[("t.r", "P1")]
    assert f.outcome == "fail" and f.message == "second"


def test_error_in_a_later_require_does_not_matter_after_a_fail(lang):
    body = 'for project in projects\nrequire false else "stop"\nrequire project.budget.approved > 0'
    f = lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")]
    assert f.outcome == "fail" and f.message == "stop"


def test_error_in_an_earlier_require_decides(lang):
    body = 'for project in projects\nrequire project.budget.approved > 0\nrequire false else "later"'
    f = lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")]
    assert f.outcome == "error"


def test_failing_location_points_at_the_require(lang):
    body = 'for project in projects\nrequire true\nrequire false'
    f = lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")]
    assert f.location and f.location.startswith("<policy>:6:")


def test_else_message_wins_over_message(lang):
    body = 'for project in projects\nrequire false else "from else"\nmessage "from message"'
    assert lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")].message == "from else"


def test_message_used_when_failing_require_has_no_else(lang):
    body = 'for project in projects\nrequire true else "no"\nrequire false\nmessage "from message"'
    assert lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")].message == "from message"


def test_failure_without_any_template_still_has_a_message(lang):
    f = lang.run(lang.rule("for project in projects\nrequire false"), {"projects": [P]})[("t.r", "P1")]
    assert f.message


def test_template_interpolation_and_literal_braces(lang):
    body = ('for project in projects\nrequire false\n'
            'message "{project.id}: {{literal}} \\{x\\} {project.budget.approved:.2f} {project.sponsor} {1 + 2}"')
    project = {"id": "P1", "budget": {"approved": "2.345"}}
    assert lang.run(lang.rule(body), {"projects": [project]})[("t.r", "P1")].message == \
        "P1: {literal} {x} 2.35 null 3"


def test_template_prints_booleans_lists_and_decimals(lang):
    body = 'for project in projects\nrequire false\nmessage "{project.custom.b} {project.custom.n} {20%}"'
    project = with_custom(b=True, n=Decimal("1.50"))
    msg = lang.run(lang.rule(body), {"projects": [project]})[("t.r", "P1")].message
    assert msg.split(" ")[0] == "true"
    assert msg.split(" ")[1] in ("1.5", "1.50")
    assert msg.split(" ")[2] in ("0.2", "0.20")


def test_template_braces_in_strings_inside_fields(lang):
    body = 'for project in projects\nrequire false\nmessage "{lower(\\"A}B\\")}"'
    program, diags = lang.check(lang.rule(body))
    if program is not None:
        assert lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")].message == "a}b"


def test_template_that_fails_to_render_keeps_the_outcome(lang):
    body = ('for project in projects\nrequire project.custom.a > 1\n'
            'message "ratio {project.custom.a / project.custom.b}"')
    f = lang.run(lang.rule(body), {"projects": [with_custom(a=1, b=0)]})[("t.r", "P1")]
    assert f.outcome == "fail"
    blob = " ".join(f"{e.expr} {e.value}" for e in f.evidence).lower()
    assert "template" in blob
    assert "zero" in blob or "project.custom.b" in blob


def test_template_format_on_runtime_text_keeps_the_outcome(lang):
    body = 'for project in projects\nrequire false\nmessage "x={project.custom.t:.2f}"'
    f = lang.run(lang.rule(body), {"projects": [with_custom(t="abc")]})[("t.r", "P1")]
    assert f.outcome == "fail"
    assert any("template" in f"{e.expr} {e.value}".lower() for e in f.evidence)


def test_passes_have_no_message_requirement_but_fail_has_evidence(lang):
    body = "for project in projects\nrequire project.budget.actual_cost <= project.budget.approved"
    found = lang.run(lang.rule(body), {"projects": [
        {"id": "A", "budget": {"approved": 10, "actual_cost": 5}},
        {"id": "B", "budget": {"approved": 10, "actual_cost": 15}}]})
    assert found[("t.r", "A")].outcome == "pass"
    ev = evidence(found[("t.r", "B")])
    assert ev["project.budget.actual_cost"] == Decimal(15)
    assert ev["project.budget.approved"] == Decimal(10)


def test_evidence_lists_every_let(lang):
    body = ("for project in projects\nlet approved = project.budget.approved\nlet doubled = approved * 2\n"
            "let unused = project.name\nrequire doubled < 10")
    f = lang.run(lang.rule(body), {"projects": [{"id": "P1", "name": "N", "budget": {"approved": 7}}]})[("t.r", "P1")]
    ev = evidence(f)
    assert ev["approved"] == Decimal(7)
    assert ev["doubled"] == Decimal(14)
    assert ev["unused"] == "N"


def test_evidence_of_metric_and_param(lang):
    body = "for project in projects\nrequire cpi(project) >= cpi_floor"
    project = {"id": "P1", "budget": {"earned_value": 380000, "actual_cost": 452000}}
    f = lang.run(lang.rule(body, header="param cpi_floor = 0.9"), {"projects": [project]})[("t.r", "P1")]
    ev = evidence(f)
    assert ev["cpi_floor"] == Decimal("0.9")
    assert ev["project.budget.actual_cost"] == Decimal(452000)
    assert "cpi(project)" in ev


def test_evidence_records_only_evaluated_operands(lang):
    body = "for project in projects\nrequire project.custom.a > 5 and project.custom.b > 5"
    f = lang.run(lang.rule(body), {"projects": [with_custom(a=1, b=9)]})[("t.r", "P1")]
    ev = evidence(f)
    assert "project.custom.a" in ev
    assert "project.custom.b" not in ev


def test_short_circuit_skips_errors(lang):
    project = with_custom(z=0)
    assert lang.outcome("false and 1 / project.custom.z > 0", project) == "fail"
    assert lang.outcome("true or 1 / project.custom.z > 0", project) == "pass"
    assert lang.outcome("false implies 1 / project.custom.z > 0", project) == "pass"


def test_error_names_rule_subject_and_location(lang):
    text = lang.rule("for project in projects\nrequire project.budget.approved > 0", name="budget-set")
    report = lang.report(text, {"projects": [{"id": "PRJ-9"}]})
    (f,) = report.findings
    assert (f.rule, f.subject, f.outcome) == ("t.budget-set", "PRJ-9", "error")
    assert "project.budget.approved" in f.message
    assert re.search(r"<policy>:5:\d+", f.message)


def test_defaults_severity_medium_enforcement_soft(lang):
    f = lang.run(lang.rule("for project in projects\nrequire false"), {"projects": [P]})[("t.r", "P1")]
    assert (f.severity, f.enforcement) == ("medium", "soft")


def test_remediation_is_reported_for_failures(lang):
    body = 'for project in projects\nrequire false\nremediation "Fix {it}"'
    f = lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")]
    assert f.remediation == "Fix {it}"


def test_subjects_of_flattened_views(lang):
    text = lang.rule('for r in risks where r.status == "open"\nrequire r.owner is present else "{r.id} of {r.project.id}"')
    found = lang.run(text, {"projects": [{"id": "P1", "risks": RISKS}]})
    fails = [f for f in found.values() if f.outcome == "fail"]
    assert len(fails) == 1
    assert fails[0].message == "R2 of P1"
    assert "R2" in fails[0].subject


def test_same_inputs_same_report(lang):
    text = lang.rule("for project in projects\nlet age = today - project.start_date\nrequire age < 30d")
    data = {"projects": [{"id": "P1", "start_date": "2026-01-01"}, {"id": "P2", "start_date": "2026-11-20"}]}
    a = lang.report(text, data).model_dump()
    b = lang.report(text, data).model_dump()
    assert a["findings"] == b["findings"] and a["summary"] == b["summary"]


# ------------------------------------------------------------------- waivers --

SOFT = ("package t\nrule r {\n    enforcement soft\n    for project in projects\n"
        "    require project.sponsor is present\n}\n")


def waiver(subjects='subjects "P1"', expires="2027-01-31", name="W-1", rule="t.r") -> str:
    return (f"waiver {name} {{\n    rule {rule}\n    {subjects}\n    reason \"hand-over\"\n"
            f"    approved_by \"CFO\"\n    expires {expires}\n}}\n")


PROJECTS = {"projects": [{"id": "P1", "program": "PG-1"}, {"id": "P2", "program": "PG-2"},
                         {"id": "P3", "sponsor": "Ana", "program": "PG-1"}]}


def test_waiver_by_subjects(lang):
    report = lang.report(SOFT + waiver(), PROJECTS)
    found = {f.subject: f for f in report.findings}
    assert found["P1"].outcome == "waived"
    assert found["P1"].waiver["id"] == "W-1"
    assert found["P1"].waiver["reason"] == "hand-over"
    assert found["P1"].waiver["approved_by"] == "CFO"
    assert str(found["P1"].waiver["expires"]) == "2027-01-31"
    assert found["P2"].outcome == "fail"
    assert found["P3"].outcome == "pass"
    assert report.summary["t.r"].counts["waived"] == 1
    assert report.summary["t.r"].counts["fail"] == 1


def test_waiver_by_subjects_where(lang):
    report = lang.report(SOFT + waiver('subjects where project.program == "PG-1"'), PROJECTS)
    found = {f.subject: f for f in report.findings}
    assert found["P1"].outcome == "waived"
    assert found["P2"].outcome == "fail"
    assert found["P3"].outcome == "pass"


def test_waivers_are_listed_in_the_report(lang):
    report = lang.report(SOFT + waiver(), PROJECTS)
    (w,) = report.waivers
    assert w["id"] == "W-1"
    assert w["status"] == "active"
    assert w["reason"] == "hand-over" and w["approved_by"] == "CFO"
    assert str(w["expires"]) == "2027-01-31"


def test_waiver_applies_on_its_expiry_date(lang):
    found = lang.run(SOFT + waiver(expires="2026-11-26"), PROJECTS, as_of="2026-11-26")
    assert found[("t.r", "P1")].outcome == "waived"


def test_expired_waiver_no_longer_applies_and_the_report_says_so(lang):
    report = lang.report(SOFT + waiver(expires="2026-11-25"), PROJECTS, as_of="2026-11-26")
    found = {f.subject: f for f in report.findings}
    assert found["P1"].outcome == "fail"
    assert found["P1"].note and "W-1" in found["P1"].note and "expire" in found["P1"].note
    assert report.waivers[0]["status"] == "expired"


def test_waiver_matching_no_failure_is_stale(lang):
    report = lang.report(SOFT + waiver('subjects "P3"'), PROJECTS)
    assert report.waivers[0]["status"] == "stale"
    assert {f.subject: f.outcome for f in report.findings}["P3"] == "pass"


def test_waiver_of_unknown_subject_is_stale(lang):
    report = lang.report(SOFT + waiver('subjects "NOPE"'), PROJECTS)
    assert report.waivers[0]["status"] == "stale"


def test_waiver_does_not_hide_an_error(lang):
    text = ("package t\nrule r {\n    for project in projects\n    require project.budget.approved > 0\n}\n"
            + waiver())
    found = lang.run(text, {"projects": [{"id": "P1"}]})
    assert found[("t.r", "P1")].outcome == "error"


def test_waived_failures_are_not_blocking(lang):
    from pmo_rules import api

    report = lang.report(SOFT + waiver('subjects "P1", "P2"'), PROJECTS)
    assert not report.blocking
    assert api.exit_code(report) == 0


def test_advisory_failures_are_not_blocking(lang):
    from pmo_rules import api

    text = SOFT.replace("enforcement soft", "enforcement advisory")
    report = lang.report(text, PROJECTS)
    assert any(f.outcome == "fail" for f in report.findings)
    assert api.exit_code(report) == 0


@pytest.mark.parametrize("enforcement", ["soft", "hard"])
def test_soft_and_hard_failures_are_blocking(lang, enforcement):
    from pmo_rules import api

    report = lang.report(SOFT.replace("enforcement soft", f"enforcement {enforcement}"), PROJECTS)
    assert api.exit_code(report) == 1


def test_errors_exit_three(lang):
    from pmo_rules import api

    text = "package t\nrule r {\n    for project in projects\n    require project.budget.approved > 0\n}\n"
    assert api.exit_code(lang.report(text, {"projects": [P]})) == 3


# -------------------------------------------------------------- more cases --


def test_reserved_word_after_dot_reads_the_key(lang):
    assert lang.outcome("project.custom.for == 1 and project.custom.in == 2",
                        with_custom(**{"for": 1, "in": 2})) == "pass"


def test_let_that_errors_gives_error(lang):
    f = lang.outcome_finding("true", with_custom(z=0), lets="let ratio = 1 / project.custom.z")
    assert f.outcome == "error"
    assert "project.custom.z" in f.message


def test_rule_where_that_errors_gives_error(lang):
    text = lang.rule("for project in projects where 1 / project.custom.z > 0\nrequire true")
    f = lang.run(text, {"projects": [with_custom(z=0)]})[("t.r", "P1")]
    assert f.outcome == "error"
    assert "project.custom.z" in f.message


def test_error_evidence_never_misreports_a_value_as_null(lang):
    # The operand of a division by zero is 0, not null: evidence must not say otherwise.
    for text in (lang.rule("for project in projects where 1 / project.custom.z > 0\nrequire true"),
                 lang.rule("for project in projects\nrequire 1 / project.custom.z > 0"),
                 lang.rule("for project in projects\nlet q = 1 / project.custom.z\nrequire q > 0")):
        f = lang.run(text, {"projects": [with_custom(z=0)]})[("t.r", "P1")]
        assert f.outcome == "error"
        ev = evidence(f)
        if "project.custom.z" in ev:
            assert ev["project.custom.z"] == Decimal(0), (text, f.evidence)


def test_lets_are_evaluated_in_order_and_see_earlier_lets(lang):
    body = "for project in projects\nlet a = 2\nlet b = a * 3\nlet c = b + a\nrequire c == 8"
    assert lang.run(lang.rule(body), {"projects": [P]})[("t.r", "P1")].outcome == "pass"


def test_title_is_literal_text(lang):
    text = lang.rule('title "Budget {approved} }{"\nfor project in projects\nrequire true')
    assert lang.report(text, {"projects": [P]}).summary["t.r"].title == "Budget {approved} }{"


def test_waiver_reason_is_literal_text(lang):
    text = SOFT + waiver().replace('reason "hand-over"', 'reason "see {ticket} }"')
    report = lang.report(text, PROJECTS)
    assert report.waivers[0]["reason"] == "see {ticket} }"


@pytest.mark.parametrize("header, override, cond", [
    ("param cap = 100", "150.5", "cap == 150.5"),
    ("param cap = 100", "250k", "cap == 250000"),
    ("param cap = 100", "20%", "cap == 0.2"),
    ("param cap = 100", "-5", "cap == -5"),
    ("param age = 14d", "21d", "age == 3w"),
    ("param age = 14d", "1mo", "age == 30d"),
    ("param day = 2026-01-01", "2027-03-04", "day == 2027-03-04"),
    ('param label = "x"', "hello world", 'label == "hello world"'),
    ("param on = true", "false", "not on"),
])
def test_param_overrides_are_parsed_as_the_default_type(session, header, override, cond):
    from pmo_rules import api
    from pmo_rules.check import check_modules
    from pmo_rules.parse import parse_text

    text = f"package t\n{header}\nrule r {{\n    for project in projects\n    require {cond}\n}}\n"
    module, diags = parse_text(text, "t.pmo")
    assert not diags
    name = header.split()[1]
    program, cdiags, usage = check_modules([module], session.registry.functions, overrides={f"t.{name}": override})
    assert not cdiags and not usage, (cdiags, usage)
    from pmo_rules.load import LoadResult
    from pmo_rules.snapshot import Snapshot

    snap = Snapshot(projects=[{"id": "P1"}])
    report = api.audit(program, LoadResult(snap), __import__("datetime").date(2026, 11, 26), include_passes=True)
    assert report.findings[0].outcome == "pass"


@pytest.mark.parametrize("header, override, type_name", [
    ("param cap = 100", "abc", "number"),
    ("param cap = 100", "5d", "number"),
    ("param age = 14d", "14", "duration"),
    ("param day = 2026-01-01", "2026-13-01", "date"),
    ("param on = true", "yes", "bool"),
])
def test_param_overrides_of_the_wrong_type_are_usage_errors(session, header, override, type_name):
    from pmo_rules.check import check_modules
    from pmo_rules.parse import parse_text

    text = f"package t\n{header}\nrule r {{\n    for project in projects\n    require true\n}}\n"
    module, _ = parse_text(text, "t.pmo")
    name = header.split()[1]
    _, _, usage = check_modules([module], session.registry.functions, overrides={f"t.{name}": override})
    assert usage and type_name in usage[0] and f"t.{name}" in usage[0]
