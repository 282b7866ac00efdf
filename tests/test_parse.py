"""Lexing and parsing (SPEC 2.1, 2.2, 2.6 "Lexing"): literals, operators, precedence,
syntax errors translated for people."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from pmo_rules import ast
from pmo_rules.parse import parse_bytes, parse_expression, parse_file, parse_text
from pmo_rules.values import Duration

RAW_TOKEN = re.compile(
    r"\b(RBRACE|LBRACE|LPAR|RPAR|LBRACKET|RBRACKET|NAME|RULE_ID|QUALIFIED_ID|NUMERIC|STRING|COMP_OP|"
    r"COALESCE|COMMA|COLON|DOT|EQ|PLUS|MINUS|STAR|SLASH|_NL|__ANON_\d+)\b|\$END|Token\(|Tree\("
)


def expr(text: str) -> ast.Expr:
    e, diags = parse_expression(text)
    assert diags == [], [d.message for d in diags]
    assert e is not None
    return e


def expr_errors(text: str) -> list:
    e, diags = parse_expression(text)
    assert diags, f"`{text}` should not parse cleanly"
    return diags


def lit(text: str):
    e = expr(text)
    assert isinstance(e, ast.Literal), type(e)
    return e


def shape(e: ast.Expr):
    """A span-free structure of an expression, for precedence tests."""
    if isinstance(e, ast.Binary):
        return (e.op, shape(e.left), shape(e.right))
    if isinstance(e, ast.Compare):
        return (e.op, shape(e.left), shape(e.right))
    if isinstance(e, ast.Unary):
        return (e.op, shape(e.operand))
    if isinstance(e, ast.IsPresent):
        return ("missing" if e.negated else "present", shape(e.operand))
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Literal):
        return e.source
    return e.text


def rule_text(body: str) -> str:
    return f"package t\nrule r {{\n    for project in projects\n{body}\n}}\n"


def file_diags(text: str) -> list:
    _, diags = parse_text(text, "f.pmo")
    return diags


# ------------------------------------------------------------------- numbers --


@pytest.mark.parametrize("text, value", [
    ("0", Decimal(0)),
    ("42", Decimal(42)),
    ("3.14", Decimal("3.14")),
    ("250_000", Decimal(250000)),
    ("1_000_000.5", Decimal("1000000.5")),
    ("250k", Decimal(250000)),
    ("1.5M", Decimal(1500000)),
    ("2B", Decimal(2000000000)),
    ("20%", Decimal("0.2")),
    ("12.5%", Decimal("0.125")),
    ("100%", Decimal(1)),
])
def test_number_literals(text, value):
    e = lit(text)
    assert e.kind == "number"
    assert e.value == value
    assert isinstance(e.value, Decimal)


def test_decimal_literal_is_exact():
    assert lit("0.1").value == Decimal("0.1")


@pytest.mark.parametrize("text, days", [("14d", 14), ("2w", 14), ("3mo", 90), ("1y", 365), ("0d", 0)])
def test_duration_literals(text, days):
    e = lit(text)
    assert e.kind == "duration"
    assert e.value == Duration(Decimal(days))


def test_date_literal():
    e = lit("2026-11-26")
    assert e.kind == "date"
    assert e.value == dt.date(2026, 11, 26)


def test_date_is_one_token_not_a_subtraction():
    e = expr("2026-11-20")
    assert isinstance(e, ast.Literal) and e.kind == "date"
    assert e.value == dt.date(2026, 11, 20)


def test_subtraction_needs_spaces_between_numbers():
    e = expr("2026 - 11 - 20")
    assert shape(e) == ("-", ("-", "2026", "11"), "20")


def test_date_minus_duration_in_an_expression():
    e = expr("2026-11-20 - 14d")
    assert shape(e) == ("-", "2026-11-20", "14d")


# ------------------------------------------------------------------- strings --


@pytest.mark.parametrize("src, value", [
    (r'"plain"', "plain"),
    (r'"a \"quoted\" word"', 'a "quoted" word'),
    (r'"back\\slash"', "back\\slash"),
    (r'"line\nbreak"', "line\nbreak"),
    (r'"tab\there"', "tab\there"),
    (r'"\{literal\}"', "{literal}"),
    (r'"^PRJ-\d{6}$"', "^PRJ-\\d{6}$"),
    (r'"\w\s"', "\\w\\s"),
    (r'""', ""),
    ('"Łódź 😀"', "Łódź 😀"),
])
def test_string_literals_and_escapes(src, value):
    e = lit(src)
    assert e.kind == "text"
    assert e.value == value


def test_unknown_escape_keeps_two_characters():
    assert len(lit(r'"\d"').value) == 2


def test_string_cannot_span_lines():
    diags = file_diags('package t\nparam x = "abc\ndef"\n')
    assert diags
    assert diags[0].span.line == 2


@pytest.mark.parametrize("src, value, kind", [
    ("true", True, "bool"), ("false", False, "bool"), ("null", None, "null"),
])
def test_keyword_literals(src, value, kind):
    e = lit(src)
    assert e.kind == kind and e.value is value


def test_today_is_its_own_node():
    assert isinstance(expr("today"), ast.Today)


def test_list_literal():
    e = expr('["a", "b", 3]')
    assert isinstance(e, ast.ListLit)
    assert [i.value for i in e.items] == ["a", "b", Decimal(3)]


def test_empty_list_and_object():
    assert isinstance(expr("[]"), ast.ListLit)
    assert isinstance(expr("{}"), ast.ObjectLit)


def test_object_literal_with_name_and_string_keys():
    e = expr('{id: "P-1", "cost-center": 12, budget: {approved: 1M}}')
    assert isinstance(e, ast.ObjectLit)
    assert e.keys == ("id", "cost-center", "budget")
    assert e.values[0].value == "P-1"
    assert e.values[1].value == Decimal(12)
    assert isinstance(e.values[2], ast.ObjectLit)


def test_reserved_words_are_fine_as_object_keys_and_after_dot():
    e = expr("{for: 1, in: 2, where: 3, title: 4}")
    assert e.keys == ("for", "in", "where", "title")
    e = expr("x.for.in.title.rule")
    assert isinstance(e, ast.Attr) and e.name == "rule"


def test_index_with_any_key():
    e = expr('project.custom["cost-center"]')
    assert isinstance(e, ast.Index)
    assert e.key.value == "cost-center"


# ------------------------------------------------------------- lexing errors --


def test_unknown_unit_error():
    (d,) = expr_errors("10x")
    assert "unknown unit `x`" in d.message
    assert "d w mo y" in d.message


def test_unknown_unit_error_position_in_file():
    diags = file_diags(rule_text("    require project.budget.approved > 10x"))
    assert len(diags) == 1
    assert "unknown unit" in diags[0].message
    assert (diags[0].span.line, diags[0].span.column) == (4, 39)


def test_number_glued_to_name_is_an_error():
    (d,) = expr_errors("12abc")
    assert "unknown unit" in d.message


def test_number_glued_to_underscore_is_an_error():
    assert expr_errors("12_")


def test_digits_joined_by_dash_is_an_error_suggesting_subtraction():
    (d,) = expr_errors("5-3")
    assert d.hint is not None and "5 - 3" in d.hint


@pytest.mark.parametrize("text", ["2026-02-30", "2026-13-01", "2025-02-29", "2026-00-10"])
def test_invalid_dates_are_errors(text):
    (d,) = expr_errors(text)
    assert text in d.message


def test_leap_day_is_a_valid_date():
    assert lit("2028-02-29").value == dt.date(2028, 2, 29)


@pytest.mark.parametrize("text", ["1.5d", "0.5w", "2.5mo", "1.1y"])
def test_fractional_durations_are_errors(text):
    assert expr_errors(text)


def test_percent_is_not_a_modulo_operator():
    (d,) = expr_errors("10 % 3")
    assert "%" in d.message or "%" in (d.hint or "")
    assert not RAW_TOKEN.search(d.message + (d.hint or ""))


# ------------------------------------------------------------- file encoding --

GOOD_FILE = "package t\nrule r {\n    for project in projects\n    require project.sponsor is present\n}\n"


def test_bom_is_skipped():
    module, _, diags = parse_bytes(b"\xef\xbb\xbf" + GOOD_FILE.encode(), "bom.pmo")
    assert diags == []
    assert module.package == "t"


def test_crlf_is_accepted():
    module, _, diags = parse_bytes(GOOD_FILE.replace("\n", "\r\n").encode(), "crlf.pmo")
    assert diags == []
    assert module.rules[0].requires[0].cond.span.line == 4


def test_crlf_error_positions_count_lines_once():
    text = rule_text("    require project.budget.approved > 10x").replace("\n", "\r\n")
    _, _, diags = parse_bytes(text.encode(), "crlf.pmo")
    assert [(d.span.line, d.span.column) for d in diags] == [(4, 39)]


def test_bom_and_crlf_in_a_file(tmp_path):
    p = tmp_path / "x.pmo"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD_FILE.replace("\n", "\r\n").encode())
    module, _, diags = parse_file(p, "x.pmo")
    assert diags == [] and module is not None


def test_nul_byte_is_an_error_at_its_position():
    data = b"package t\nrule r {\n    for project in projects\n    req\x00uire true\n}\n"
    module, _, diags = parse_bytes(data, "nul.pmo")
    assert module is None
    assert len(diags) == 1
    assert (diags[0].span.line, diags[0].span.column) == (4, 8)
    assert "NUL" in diags[0].message


def test_invalid_utf8_is_an_error_at_its_position():
    data = b"package t\nparam name = \"caf\xe9\"\n"
    module, _, diags = parse_bytes(data, "latin1.pmo")
    assert module is None
    assert len(diags) == 1
    assert (diags[0].span.line, diags[0].span.column) == (2, 18)
    assert "UTF-8" in diags[0].message


def test_invalid_utf8_after_multibyte_characters_counts_characters():
    data = "package t\nparam name = \"Łódź\" ".encode() + b"\xff\n"
    _, _, diags = parse_bytes(data, "x.pmo")
    assert (diags[0].span.line, diags[0].span.column) == (2, 21)


def test_tab_counts_as_one_column():
    diags = file_diags("package t\nrule r {\n\tfor project in projects\n\trequire 10x\n}\n")
    assert [(d.span.line, d.span.column) for d in diags] == [(4, 10)]


def test_tab_caret_lines_up_in_rendered_excerpt(lang):
    text = "package t\nrule r {\n\tfor project in projects\n\trequire project.budget.approvd > 1\n}\n"
    out = lang.rendered(text, "tab.pmo")
    assert "tab.pmo:4:10" in out
    lines = out.splitlines()
    src = next(i for i, line in enumerate(lines) if "require" in line and "|" in line)
    code, caret = lines[src], lines[src + 1]
    pos = caret.index("^")
    assert code[pos:].startswith("project.budget.approvd")


# ---------------------------------------------------------------- precedence --


@pytest.mark.parametrize("text, expected", [
    ("a implies b implies c", ("implies", "a", ("implies", "b", "c"))),
    ("a or b implies c", ("implies", ("or", "a", "b"), "c")),
    ("a or b and c", ("or", "a", ("and", "b", "c"))),
    ("a and b or c", ("or", ("and", "a", "b"), "c")),
    ("not a and b", ("and", ("not", "a"), "b")),
    ("not a == b", ("not", ("==", "a", "b"))),
    ("not not a", ("not", ("not", "a"))),
    ("a == b + c", ("==", "a", ("+", "b", "c"))),
    ("a + b < c * d", ("<", ("+", "a", "b"), ("*", "c", "d"))),
    ("a + b * c", ("+", "a", ("*", "b", "c"))),
    ("a - b - c", ("-", ("-", "a", "b"), "c")),
    ("a / b / c", ("/", ("/", "a", "b"), "c")),
    ("a * b ?? c", ("*", "a", ("??", "b", "c"))),
    ("a ?? 0 + b ?? 0", ("+", ("??", "a", "0"), ("??", "b", "0"))),
    ("a ?? b ?? c", ("??", "a", ("??", "b", "c"))),
    ("-a ?? b", ("??", ("-", "a"), "b")),
    ("-a * b", ("*", ("-", "a"), "b")),
    ("a ?? 1 >= 0.9", (">=", ("??", "a", "1"), "0.9")),
    ("a + b is present", ("present", ("+", "a", "b"))),
    ("a is missing or b", ("or", ("missing", "a"), "b")),
    ("a in b and c", ("and", ("in", "a", "b"), "c")),
    ("a not in b", ("not in", "a", "b")),
    ("a + b in c", ("in", ("+", "a", "b"), "c")),
    ("a contains b or c", ("or", ("contains", "a", "b"), "c")),
    ('a matches "x" and b', ("and", ("matches", "a", '"x"'), "b")),
    ("(a or b) and c", ("and", ("or", "a", "b"), "c")),
    ("a * (b + c)", ("*", "a", ("+", "b", "c"))),
])
def test_precedence_and_associativity(text, expected):
    assert shape(expr(text)) == expected


def test_cpi_coalesce_example_from_spec():
    e = expr("cpi(project) ?? 1 >= 0.9")
    assert isinstance(e, ast.Compare) and e.op == ">="
    assert isinstance(e.left, ast.Binary) and e.left.op == "??"


@pytest.mark.parametrize("text", ["0 < x < 1", "a == b == c", "a < b >= c", "a in b in c"])
def test_comparisons_do_not_chain(text):
    diags = expr_errors(text)
    assert all(not RAW_TOKEN.search(d.message + (d.hint or "")) for d in diags)


def test_chained_comparison_in_a_rule_is_reported_at_the_second_operator():
    diags = file_diags(rule_text("    require 0 < project.priority < 3"))
    assert diags and diags[0].span.line == 4
    assert diags[0].span.column == 34


@pytest.mark.parametrize("text", ["[1, 2,]", "f(a,)", "{a: 1,}", "[[1], [2],]"])
def test_no_trailing_commas_in_expressions(text):
    diags = expr_errors(text)
    d = diags[0]
    assert "comma" in (d.message + " " + (d.hint or "")).lower()


def test_no_trailing_comma_in_tags():
    text = 'package t\nrule r {\n    tags "a", "b",\n    for project in projects\n    require true\n}\n'
    diags = file_diags(text)
    assert diags
    assert "comma" in (diags[0].message + " " + (diags[0].hint or "")).lower()


def test_no_trailing_comma_in_waiver_subjects():
    text = ('package t\nwaiver W-1 {\n    rule t.r\n    subjects "A", "B",\n    reason "x"\n'
            '    approved_by "y"\n    expires 2027-01-01\n}\n')
    diags = file_diags(text)
    assert diags
    assert "comma" in (diags[0].message + " " + (diags[0].hint or "")).lower()


# --------------------------------------------------------------- statements --


def test_rule_ids_may_contain_dashes_and_are_qualified():
    module, diags = parse_text("package gov\nrule a-b-c_1 {\n for project in projects\n require true\n}\n", "f.pmo")
    assert diags == []
    assert module.rules[0].id == "gov.a-b-c_1"


def test_comments_run_to_end_of_line():
    text = ("# header comment\npackage t # trailing\nrule r { # after brace\n"
            "    for project in projects # scope\n    require true # ok\n}\n# end\n")
    module, diags = parse_text(text, "f.pmo")
    assert diags == []
    assert len(module.rules) == 1


def test_hash_inside_a_string_is_not_a_comment():
    module, diags = parse_text('package t\nparam tag = "#1 priority"\n', "f.pmo")
    assert diags == []
    assert module.params[0].default.value == "#1 priority"


def test_negative_param_defaults():
    module, diags = parse_text("package t\nparam a = -5\nparam b = -2.5\nparam c = -3d\n", "f.pmo")
    assert diags == []
    assert [p.default.value for p in module.params] == [Decimal(-5), Decimal("-2.5"), Duration(Decimal(-3))]


def test_package_must_come_first():
    diags = file_diags("rule r {\n for project in projects\n require true\n}\n")
    assert diags
    assert diags[0].span.line == 1
    assert not RAW_TOKEN.search(diags[0].message + (diags[0].hint or ""))


def test_package_name_has_no_dots_or_dashes():
    assert file_diags("package gov.rules\n")
    assert file_diags("package gov-rules\n")


def test_multiline_expressions_are_fine():
    text = ("package t\nrule r {\n    for project in projects\n        where project.status == \"active\"\n"
            "              and project.budget.approved > 250k\n    require project.sponsor\n        is present\n}\n")
    _, diags = parse_text(text, "f.pmo")
    assert diags == []


@pytest.mark.parametrize("word", ["for", "in", "where", "let", "require", "and", "matches", "today", "null",
                                  "title", "severity", "reason", "expires", "given", "expect", "as_of"])
def test_reserved_words_cannot_be_let_names(word):
    diags = file_diags(rule_text(f"    let {word} = 1\n    require true"))
    assert diags, f"`let {word} = 1` should be rejected"
    assert "reserved" in diags[0].message
    assert not RAW_TOKEN.search(diags[0].message + (diags[0].hint or ""))


@pytest.mark.parametrize("word", ["rule", "where", "subjects", "owner", "present"])
def test_reserved_words_cannot_be_for_variables(word):
    text = f"package t\nrule r {{\n    for {word} in projects\n    require true\n}}\n"
    diags = file_diags(text)
    assert diags and "reserved" in diags[0].message


@pytest.mark.parametrize("word", ["param", "missing", "true", "description", "approved_by"])
def test_reserved_words_cannot_be_params(word):
    diags = file_diags(f"package t\nparam {word} = 1\n")
    assert diags and "reserved" in diags[0].message


def test_reserved_words_cannot_be_comprehension_variables():
    diags = file_diags(rule_text("    require all(in.owner is present for in in project.risks)"))
    assert diags
    diags = file_diags(rule_text("    require all(tags is present for tags in project.risks)"))
    assert diags and "reserved" in " ".join(d.message for d in diags)


def test_function_and_aggregate_names_are_ordinary_names():
    # SPEC 2.6: aggregate and function names are ordinary names validated by the checker.
    module, diags = parse_text(rule_text("    let total = sum(r.impact for r in project.risks)\n"
                                         "    let n = len(project.name)\n    require total >= n"), "f.pmo")
    assert diags == []


# --------------------------------------------------------- syntax error text --

BROKEN = [
    'package t\nrule r {\n    for project in projects\n    require project.status = "active"\n}\n',
    "package t\nrule r {\n    for project in projects\n    require project.sponsor is present\n",
    'package t\nrule r {\n    for project in projects\n    require project.name == "abc\n}\n',
    "package t\nrule r {\n    for project in projects\n    require a && b\n}\n",
    "package t\nrule r {\n    for project in projects\n    require !a\n}\n",
    "package t\nrule r {\n    for project in projects\n    require project.name == 'x'\n}\n",
    "package t\nrule r {\n    for project in projects\n    require (a\n}\n",
    "package t\nrule r {\n    for project in projects\n    require a b\n}\n",
    "package t\nrule r {\n    for project in projects\n    requre a\n}\n",
    "package t\nrule r {\n    for project projects\n    require a\n}\n",
    "package t\nrule {\n    for project in projects\n    require a\n}\n",
    "package t\nrul r {\n}\n",
    "package t\nparam = 3\n",
    "package t\nparam x 3\n",
    "package t\nwaiver W {\n    rule r\n}\n",
    "package t\nrule r {\n    for project in projects\n    require\n}\n",
    "package t\nrule r {\n    for project in projects\n    require a +\n}\n",
    "package t\nrule r {\n    for project in projects\n    require [1, 2\n}\n",
    "package t\nrule r {\n    for project in projects\n    require f(\n}\n",
    "package t\nrule r {\n    for project in projects\n    require x.\n}\n",
    "package t\nrule r {\n    for project in projects\n    require x ??\n}\n",
    "package t\nrule r {\n    for project in projects\n    require x is\n}\n",
    "package t\nrule r {\n    for project in projects\n    require x is nothing\n}\n",
    "package t\nrule r {\n    severity\n    for project in projects\n    require x\n}\n",
    "package t\ntest t1 {\n    expect t.r fail\n}\n",
    "package t\n}\n",
    "package\n",
    "",
    "package t\nrule r {\n    for project in projects\n    require x @ y\n}\n",
    "package t\nrule r {\n    for project in projects\n    require x.1\n}\n",
]


@pytest.mark.parametrize("text", BROKEN)
def test_syntax_errors_are_reported_for_people(text):
    module, diags = parse_text(text, "f.pmo")
    assert module is None or diags
    assert diags, "a broken file must produce a diagnostic"
    for d in diags:
        blob = d.message + " " + (d.hint or "") + " " + " ".join(d.details)
        assert not RAW_TOKEN.search(blob), blob
        assert d.span is not None and d.span.line >= 1 and d.span.column >= 1


def test_assignment_instead_of_comparison_gets_a_hint():
    (d, *_) = file_diags(BROKEN[0])
    assert (d.span.line, d.span.column) == (4, 28)
    assert "==" in (d.hint or "")


def test_unclosed_string_is_named():
    (d, *_) = file_diags(BROKEN[2])
    assert "string" in d.message.lower()
    assert d.span.line == 4


def test_missing_closing_brace_is_named():
    diags = file_diags(BROKEN[1])
    assert "}" in (diags[0].message + (diags[0].hint or ""))


def test_misspelt_keyword_gets_did_you_mean():
    diags = file_diags(BROKEN[8])
    assert "require" in (diags[0].hint or "")


def test_errors_in_several_declarations_are_all_reported():
    text = ("package t\nrule a {\n    for project in projects\n    require x = 1\n}\n"
            "rule b {\n    for project in projects\n    require y 2\n}\n"
            "rule c {\n    for project in projects\n    require 10x > 1\n}\n")
    diags = file_diags(text)
    assert sorted({d.span.line for d in diags}) == [4, 8, 12]


def test_truncated_spec_example_never_shows_raw_token_names(spec_blocks):
    text = spec_blocks("2.1")[0]
    cuts = range(10, len(text), max(1, len(text) // 60))
    for cut in cuts:
        _, diags = parse_text(text[:cut], "cut.pmo")
        for d in diags:
            blob = d.message + " " + (d.hint or "")
            assert not RAW_TOKEN.search(blob), (cut, blob)


def test_deep_nesting_is_an_error_not_a_crash():
    module, diags = parse_text(rule_text("    require " + "(" * 300 + "true" + ")" * 300), "deep.pmo")
    assert module is None and diags


# ------------------------------------------------------------ more literals --


@pytest.mark.parametrize("text, value", [
    ("1_000k", Decimal(1_000_000)),
    ("1.5k", Decimal(1500)),
    ("0.5M", Decimal(500_000)),
    ("1_000%", Decimal(10)),
    ("007", Decimal(7)),
])
def test_more_number_forms(text, value):
    assert lit(text).value == value


@pytest.mark.parametrize("text", ["2m", "2b", "2K", "14D", "1e5", "0x10", "3days", "1.2.3", "2026-1-05", "12-2026-01"])
def test_numeric_tokens_glued_to_letters_or_malformed_are_errors(text):
    diags = expr_errors(text)
    assert text in diags[0].message or "unit" in diags[0].message


@pytest.mark.parametrize("text", [".5", "5."])
def test_numbers_need_digits_on_both_sides_of_the_point(text):
    diags = expr_errors(text)
    assert not RAW_TOKEN.search(diags[0].message + (diags[0].hint or ""))


@pytest.mark.parametrize("name", ["a-1", "a_b-c", "sponsor-assigned", "_x", "R2-D2"])
def test_valid_rule_names(name):
    module, diags = parse_text(f"package t\nrule {name} {{\n for p in projects\n require true\n}}\n", "f.pmo")
    assert diags == [] and module.rules[0].name == name


@pytest.mark.parametrize("name", ["a-", "-a", "a--b", "1a", "a.b"])
def test_invalid_rule_names(name):
    assert file_diags(f"package t\nrule {name} {{\n for p in projects\n require true\n}}\n")


def test_waiver_rule_must_be_qualified():
    text = ('package t\nwaiver W {\n rule sponsor-assigned\n subjects "a"\n reason "r"\n'
            ' approved_by "x"\n expires 2027-01-01\n}\n')
    diags = file_diags(text)
    assert diags and diags[0].span.line == 3
    assert "qualified" in diags[0].message or "governance." in (diags[0].hint or diags[0].message)


def test_expect_rule_must_be_qualified():
    text = 'package t\ntest t1 {\n given projects = []\n expect sponsor-assigned fail for "P1"\n}\n'
    diags = file_diags(text)
    assert diags and diags[0].span.line == 4


def test_english_of_unexpected_keyword_messages():
    # "unexpected the keyword `for`" is not a sentence a PMO author should read.
    for text in ('package t\nrule r {\n    tags "a", "b",\n    for project in projects\n    require true\n}\n',
                 "package t\nrule r {\n    for project in projects\n    require 5.\n}\n"):
        for d in file_diags(text):
            assert "unexpected the " not in d.message, d.message


@pytest.mark.parametrize("require", ["project.budget. > 5", "5.", "project. is present"])
def test_dangling_dot_is_explained(require):
    # After `x.` only a field name can follow: the message must say so, and must neither
    # list rule statements and declarations nor call it a chained comparison.
    diags = file_diags(f"package t\nrule r {{\n    for project in projects\n    require {require}\n}}\n")
    assert diags
    d = diags[0]
    text = d.message + " " + (d.hint or "")
    assert "declaration" not in text and "chain" not in text, text
    assert "name" in text or "field" in text, text
