"""Property tests (hypothesis): the engine agrees with Python's own exact arithmetic,
dates and strings, and canonical expression text round-trips through the parser."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pmo_rules import ast
from pmo_rules.evaluate.errors import EvalError
from pmo_rules.evaluate.ops import aggregate_values
from pmo_rules.parse import parse_expression
from pmo_rules.values import DECIMAL_CONTEXT, Duration, type_name

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PARSE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CTX = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)


# ------------------------------------------------------------- strategies --

decimals = st.decimals(min_value=Decimal("-1000000"), max_value=Decimal("1000000"), places=4,
                       allow_nan=False, allow_infinity=False)


def dec_literal(d: Decimal) -> str:
    text = format(d, "f")
    return f"(-{text[1:]})" if text.startswith("-") else text


@st.composite
def arith(draw, depth: int = 0):
    """(expression text, python value or None when python raises)."""
    if depth >= 3 or draw(st.booleans()) and depth > 0:
        d = draw(decimals)
        return dec_literal(d), d
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    lt, lv = draw(arith(depth + 1))
    rt, rv = draw(arith(depth + 1))
    if lv is None or rv is None:
        return f"({lt} {op} {rt})", None
    with decimal.localcontext(CTX) as ctx:
        ctx.traps[decimal.DivisionByZero] = True
        ctx.traps[decimal.InvalidOperation] = True
        try:
            value = {"+": lambda: lv + rv, "-": lambda: lv - rv, "*": lambda: lv * rv, "/": lambda: lv / rv}[op]()
        except (decimal.DivisionByZero, decimal.InvalidOperation):
            value = None
    return f"({lt} {op} {rt})", value


@given(arith())
@FAST
def test_decimal_arithmetic_matches_python_decimal(lang, case):
    text, expected = case
    f = lang.finding(text)
    if expected is None:
        assert f.outcome == "error", (text, f.message)
        return
    assert f.outcome == "fail", (text, f.message)
    value = {e.expr: e.value for e in f.evidence}["v"]
    assert value == expected, (text, value, expected)


@given(decimals, decimals, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
@FAST
def test_comparisons_match_python(lang, a, b, op):
    expected = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
    outcome = lang.outcome(f"{dec_literal(a)} {op} {dec_literal(b)}")
    assert outcome == ("pass" if expected else "fail")


@given(st.integers(-10**9, 10**9), st.integers(-10**9, 10**9), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
@FAST
def test_integer_comparisons_from_data_match_python(lang, a, b, op):
    expected = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
    project = {"id": "P1", "custom": {"a": a, "b": b}}
    assert lang.outcome(f"project.custom.a {op} project.custom.b", project) == ("pass" if expected else "fail")


@given(st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=6,
                   allow_nan=False, allow_infinity=False),
       st.integers(0, 4))
@FAST
def test_round_matches_quantize_half_up(lang, x, n):
    expected = x.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
    f = lang.finding(f"round({dec_literal(x)}, {n})")
    assert f.outcome == "fail", f.message
    assert {e.expr: e.value for e in f.evidence}["v"] == expected


@given(st.decimals(min_value=Decimal("-100000"), max_value=Decimal("100000"), places=6,
                   allow_nan=False, allow_infinity=False),
       st.integers(0, 4))
@FAST
def test_format_spec_matches_quantize_half_up(lang, x, n):
    expected = x.quantize(Decimal(1).scaleb(-n), rounding=ROUND_HALF_UP)
    body = f'for project in projects\nrequire false else "{{project.custom.x:.{n}f}}"'
    found = lang.run(lang.rule(body), {"projects": [{"id": "P1", "custom": {"x": x}}]})
    msg = found[("t.r", "P1")].message
    assert Decimal(msg) == expected
    assert (len(msg.split(".")[1]) if "." in msg else 0) == n


dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


@given(dates, st.integers(0, 3000), st.sampled_from([("d", 1), ("w", 7), ("mo", 30), ("y", 365)]),
       st.sampled_from(["+", "-"]))
@FAST
def test_date_plus_duration_matches_datetime(lang, day, n, unit, op):
    suffix, days = unit
    n = n // days if days > 1 else n
    delta = dt.timedelta(days=n * days)
    expected = day + delta if op == "+" else day - delta
    assert lang.value(f"{day.isoformat()} {op} {n}{suffix}") == expected.isoformat()


@given(dates, dates)
@FAST
def test_date_difference_matches_datetime(lang, a, b):
    assert lang.value(f"{a.isoformat()} - {b.isoformat()}") == f"{(a - b).days}d"


@given(dates, dates)
@FAST
def test_date_order_matches_datetime(lang, a, b):
    assert lang.outcome(f"{a.isoformat()} < {b.isoformat()}") == ("pass" if a < b else "fail")


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


@given(TEXT)
@FAST
def test_len_of_a_literal_matches_python(lang, s):
    assert lang.value(f"len({quote(s)})") == Decimal(len(s))


@given(TEXT)
@FAST
def test_len_of_data_text_matches_python(lang, s):
    assert lang.value("len(project.name)", {"id": "P1", "name": s}) == Decimal(len(s))


@given(TEXT)
@FAST
def test_string_literal_round_trips(lang, s):
    assert lang.value(quote(s)) == s


@given(TEXT, TEXT)
@FAST
def test_in_equals_contains_for_text(lang, a, b):
    project = {"id": "P1", "name": a, "sponsor": b}
    expected = b in a
    assert lang.outcome("project.sponsor in project.name", project) == ("pass" if expected else "fail")
    assert lang.outcome("project.name contains project.sponsor", project) == ("pass" if expected else "fail")


# ----------------------------------------------------------- round trips --

NAMES = st.sampled_from(["a", "b", "x", "project", "cpi_floor", "r"])
FIELDS = st.sampled_from(["budget", "approved", "status", "owner", "for", "in", "title"])


def atom() -> st.SearchStrategy[str]:
    return st.one_of(
        NAMES,
        st.sampled_from(["0", "1", "2.5", "250_000", "250k", "1.5M", "20%", "14d", "3mo", "2026-11-26",
                         "true", "false", "null", "today", '"x"', '"a \\"q\\""', '"\\d"']),
        st.builds(lambda n, f: f"{n}.{f}", NAMES, FIELDS),
        st.builds(lambda n: f'{n}["cost-center"]', NAMES),
    )


def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binops = ["implies", "or", "and", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains",
              "+", "-", "*", "/", "??"]
    return st.one_of(
        st.builds(lambda a, op, b, p: f"({a}) {op} ({b})" if p else f"{a} {op} {b}",
                  inner, st.sampled_from(binops), inner, st.booleans()),
        st.builds(lambda a: f"not ({a})", inner),
        st.builds(lambda a: f"-({a})", inner),
        st.builds(lambda a: f"({a}) is present", inner),
        st.builds(lambda a: f"({a}) is missing", inner),
        st.builds(lambda a: f'({a}) matches "^x"', inner),
        st.builds(lambda a, b: f"f({a}, {b})", inner, inner),
        st.builds(lambda a: f"[{a}]", inner),
        st.builds(lambda a: f"{{k: {a}}}", inner),
        st.builds(lambda a, b: f"sum({a} for v in xs where {b})", inner, inner),
        st.builds(lambda a: f"({a}).owner", inner),
    )


EXPRS = st.recursive(atom(), extend, max_leaves=8)


def shape(e):
    """Structure without spans or source spelling."""
    if isinstance(e, ast.Literal):
        return ("lit", e.kind, str(e.value))
    if isinstance(e, ast.Name):
        return ("name", e.name)
    if isinstance(e, ast.Today):
        return ("today",)
    if isinstance(e, ast.Attr):
        return ("attr", shape(e.obj), e.name)
    if isinstance(e, ast.Index):
        return ("index", shape(e.obj), shape(e.key))
    if isinstance(e, (ast.Binary, ast.Compare)):
        return (e.op, shape(e.left), shape(e.right))
    if isinstance(e, ast.Unary):
        return (e.op, shape(e.operand))
    if isinstance(e, ast.IsPresent):
        return ("is", e.negated, shape(e.operand))
    if isinstance(e, ast.Call):
        return ("call", e.func, tuple(shape(a) for a in e.args))
    if isinstance(e, ast.ListLit):
        return ("list", tuple(shape(i) for i in e.items))
    if isinstance(e, ast.ObjectLit):
        return ("obj", e.keys, tuple(shape(v) for v in e.values))
    if isinstance(e, ast.Comprehension):
        return ("comp", e.agg, shape(e.element), e.var, shape(e.collection),
                shape(e.where) if e.where is not None else None)
    raise AssertionError(type(e))


@given(EXPRS)
@PARSE
def test_canonical_text_round_trips(text):
    e, diags = parse_expression(text)
    assume(e is not None and not diags)
    again, diags2 = parse_expression(e.text)
    assert not diags2, (text, e.text, [d.message for d in diags2])
    assert again.text == e.text
    assert shape(again) == shape(e), (text, e.text)


@given(EXPRS)
@PARSE
def test_parser_never_crashes(text):
    # Whatever the input, the parser returns diagnostics rather than raising.
    for variant in (text, text[: len(text) // 2], text.replace("(", "", 1), text + ")"):
        e, diags = parse_expression(variant)
        assert e is not None or diags


SUMMANDS = st.lists(st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**9, max_value=10**9),
    st.integers(-10**6, 10**6), st.sampled_from([True, "1"]),
    st.builds(lambda d: Duration(Decimal(d)), st.integers(-100, 100))), max_size=8)


@settings(deadline=None)
@given(SUMMANDS)
def test_sum_adds_numbers_exactly_and_refuses_a_mix(values):
    """`sum` over numbers is their exact sum in the language's context (the fast path for
    Decimals and the general one for ints agree); over durations, their days; a mix, or
    anything else, is an error naming the kinds."""
    e = ast.Name(None, "xs")  # what an error names (its text); no span needed here
    kinds = {type_name(v) for v in values}
    if values and kinds not in ({"number"}, {"duration"}):
        try:
            aggregate_values("sum", values, e, False)
        except EvalError as exc:
            assert ", ".join(sorted(kinds)) in exc.message
        else:
            raise AssertionError("a mix was added up")
        return
    total = aggregate_values("sum", values, e, False)
    with decimal.localcontext(DECIMAL_CONTEXT):
        if kinds == {"duration"}:
            assert type(total) is Duration and total.days == sum((v.days for v in values), Decimal(0))
        else:
            expected = Decimal(0)
            for v in values:
                expected += v
            assert type(total) is Decimal and total == expected and str(total) == str(expected)
