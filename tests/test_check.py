"""The checker (SPEC 2.1, 2.2, 2.4, 2.6): names, fields, types, params, structure, waivers.

Every mistake gets an error naming file, line and column, and a hint where one helps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pmo_rules import api
from pmo_rules.errors import PolicyError


def rule(body: str, header: str = "", package: str = "t") -> str:
    return f"package {package}\n{header}\nrule r {{\n{body}\n}}\n"


def only(lang, text: str):
    diags = lang.diags(text)
    assert len(diags) == 1, [d.render() for d in diags]
    return diags[0]


def assert_clean(lang, text: str):
    program, diags = lang.check(text)
    assert diags.render() == ""
    assert program is not None


# ------------------------------------------------------------------- names --


def test_unknown_field_with_did_you_mean_and_valid_fields(lang):
    d = only(lang, rule("for project in projects\nrequire project.sponser is present"))
    assert d.code == "unknown-field"
    assert "sponser" in d.message
    assert (d.span.line, d.span.column) == (5, 9)
    assert "sponsor" in (d.hint or "")
    assert any("sponsor" in line and "budget" in line for line in d.details)


def test_unknown_nested_field(lang):
    d = only(lang, rule("for project in projects\nrequire project.budget.aproved > 0"))
    assert d.code == "unknown-field"
    assert "approved" in (d.hint or "")


def test_unknown_field_on_flattened_view_item(lang):
    d = only(lang, rule("for r in risks\nrequire r.projet.status == \"active\""))
    assert d.code == "unknown-field"
    assert "project" in (d.hint or "")


def test_view_items_point_at_their_project(lang):
    assert_clean(lang, rule("for r in risks where r.project.status == \"active\"\nrequire r.owner is present"))


def test_unknown_field_in_a_message_template(lang):
    d = only(lang, rule("for project in projects\nrequire true\nmessage \"{project.nme} is late\""))
    assert d.code == "unknown-field"
    assert (d.span.line, d.span.column) == (6, 11)
    assert "name" in (d.hint or "")


def test_custom_fields_are_open(lang):
    assert_clean(lang, rule('for project in projects\nrequire project.custom["cost-center"] == "CC-1"'))
    assert_clean(lang, rule("for project in projects\nrequire project.custom.region == \"EU\""))


def test_index_reads_any_key_of_a_record(lang):
    assert_clean(lang, rule('for project in projects\nrequire project["sponsor name"] is present'))


def test_unknown_function_with_suggestion(lang):
    d = only(lang, rule("for project in projects\nrequire cpii(project) > 1"))
    assert d.code == "unknown-function"
    assert "cpi" in (d.hint or "")
    assert (d.span.line, d.span.column) == (5, 9)


def test_unknown_aggregate(lang):
    d = only(lang, rule("for project in projects\nrequire totl(r.impact for r in project.risks) > 1"))
    assert "totl" in d.message
    assert "total" not in (d.hint or "")


def test_unknown_name_with_suggestion(lang):
    d = only(lang, rule('for project in projects\nrequire projet.id == "x"'))
    assert d.code == "unknown-name"
    assert "project" in (d.hint or "")


def test_unknown_param_name_with_suggestion(lang):
    d = only(lang, rule("for project in projects\nrequire project.budget.approved > cpi_flor",
                        "param cpi_floor = 0.9"))
    assert "cpi_flor" in d.message
    assert "cpi_floor" in (d.hint or "")


def test_let_is_not_visible_before_it_is_defined(lang):
    d = only(lang, rule("for project in projects\nlet a = b + 1\nlet b = 2\nrequire a > 0"))
    assert "`b`" in d.message


def test_comprehension_variable_is_local(lang):
    d = only(lang, rule("for project in projects\nlet n = count(r.owner is present for r in project.risks)\n"
                        "require r.owner is present"))
    assert "`r`" in d.message


def test_unknown_collection_with_suggestion(lang):
    d = only(lang, rule("for project in projcts\nrequire true"))
    assert d.code == "unknown-collection"
    assert "projects" in (d.hint or "")
    assert (d.span.line, d.span.column) == (4, 16)


def test_param_sharing_a_collection_name_is_rejected(lang):
    diags = lang.diags(rule("for project in projects\nrequire true", "param projects = 1"))
    assert diags
    assert "projects" in diags[0].message


def test_param_named_like_a_view_is_rejected(lang):
    assert lang.diags(rule("for project in projects\nrequire true", "param risks = 3"))


def test_duplicate_param_is_rejected(lang):
    assert lang.diags(rule("for project in projects\nrequire true", "param a = 1\nparam a = 2"))


def test_null_param_default_is_rejected(lang):
    assert lang.diags(rule("for project in projects\nrequire true", "param a = null"))


def test_for_variable_cannot_shadow_a_collection(lang):
    assert lang.diags(rule("for projects in projects\nrequire true"))


def test_let_cannot_shadow_the_subject_or_another_let(lang):
    assert lang.diags(rule("for project in projects\nlet project = 1\nrequire true"))
    assert lang.diags(rule("for project in projects\nlet x = 1\nlet x = 2\nrequire true"))


# --------------------------------------------------------------- structure --


def test_duplicate_rule_ids_across_files_are_rejected(tmp_path, session, monkeypatch):
    (tmp_path / "a.pmo").write_text(rule("for project in projects\nrequire true", package="gov"))
    (tmp_path / "b.pmo").write_text("package gov\n\n\nrule r {\n for p in people\n require true\n}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as info:
        api.load_program([Path("a.pmo"), Path("b.pmo")], session)
    text = info.value.diagnostics.render()
    assert "gov.r" in text
    assert "b.pmo:4:" in text
    assert "a.pmo:3" in text  # the first definition is named


def test_same_rule_name_in_different_packages_is_fine(tmp_path, session):
    (tmp_path / "a.pmo").write_text(rule("for project in projects\nrequire true", package="gov"))
    (tmp_path / "b.pmo").write_text(rule("for project in projects\nrequire true", package="risk"))
    program, _ = api.load_program([tmp_path], session)
    assert sorted(r.id for r in program.rules) == ["gov.r", "risk.r"]


def test_duplicate_rule_in_one_file(lang):
    text = "package t\nrule r {\n for p in projects\n require true\n}\nrule r {\n for p in people\n require true\n}\n"
    diags = lang.diags(text)
    assert len(diags) == 1 and diags[0].span.line == 6


@pytest.mark.parametrize("meta", ['title "a"\ntitle "b"', "severity high\nseverity low",
                                  "enforcement soft\nenforcement hard", 'owner "a"\nowner "b"'])
def test_duplicate_metadata_is_rejected(lang, meta):
    d = only(lang, rule(f"{meta}\nfor project in projects\nrequire true"))
    assert d.span.line == 5


def test_duplicate_message_is_rejected(lang):
    assert lang.diags(rule('for project in projects\nrequire true\nmessage "a"\nmessage "b"'))


def test_duplicate_remediation_is_rejected(lang):
    assert lang.diags(rule('for project in projects\nrequire true\nremediation "a"\nremediation "b"'))


def test_metadata_in_any_order_is_fine(lang):
    assert_clean(lang, rule('tags "x"\nowner "PMO"\nseverity low\ntitle "T"\nref "ISO 21502"\n'
                            'description "d"\nenforcement advisory\nfor project in projects\nrequire true'))


@pytest.mark.parametrize("body, line", [
    ("require true\nfor project in projects", 5),
    ("for project in projects\nrequire true\nlet x = 1", 6),
    ('for project in projects\ntitle "late title"\nrequire true', 5),
    ('for project in projects\nremediation "r"\nrequire true', 6),
    ('for project in projects\nrequire true\nremediation "r"\nmessage "m"', 7),
    ('for project in projects\nmessage "m"\nrequire true', 6),
])
def test_wrong_statement_order(lang, body, line):
    diags = lang.diags(rule(body))
    assert diags, body
    assert diags[0].span.line == line
    assert diags[0].hint


def test_statement_order_message_names_the_statement(lang):
    d = only(lang, rule('for project in projects\ntitle "late title"\nrequire true'))
    assert "`title`" in d.message


def test_two_for_clauses_are_rejected(lang):
    assert lang.diags(rule("for project in projects\nfor person in people\nrequire true"))


def test_missing_for(lang):
    d = only(lang, rule("title \"x\"\nrequire true"))
    assert "for" in d.message
    assert d.span.line == 3


def test_missing_require(lang):
    d = only(lang, rule("for project in projects"))
    assert "require" in d.message


def test_bad_severity_with_suggestion(lang):
    d = only(lang, rule("severity hihg\nfor project in projects\nrequire true"))
    assert "hihg" in d.message
    assert "high" in (d.hint or "")
    assert (d.span.line, d.span.column) == (4, 10)


def test_bad_enforcement_with_suggestion(lang):
    d = only(lang, rule("enforcement sotf\nfor project in projects\nrequire true"))
    assert "sotf" in d.message
    assert "soft" in (d.hint or "")


@pytest.mark.parametrize("sev", ["info", "low", "medium", "high", "critical"])
def test_every_severity_is_accepted(lang, sev):
    assert_clean(lang, rule(f"severity {sev}\nfor project in projects\nrequire true"))


@pytest.mark.parametrize("enf", ["advisory", "soft", "hard"])
def test_every_enforcement_is_accepted(lang, enf):
    assert_clean(lang, rule(f"enforcement {enf}\nfor project in projects\nrequire true"))


# ------------------------------------------------------------------- types --


def test_date_compared_with_number_is_a_type_mismatch(lang):
    d = only(lang, rule("for project in projects\nrequire project.start_date > 5"))
    assert d.code == "type-mismatch"
    assert "date" in d.message and "number" in d.message


def test_duration_compared_with_bare_number_is_a_type_mismatch_with_hint(lang):
    d = only(lang, rule("for project in projects\nrequire today - project.last_status_update > 30"))
    assert d.code == "type-mismatch"
    assert "duration" in d.message
    assert d.hint and "30d" in d.hint


def test_duration_param_compared_with_number_is_a_type_mismatch(lang):
    d = only(lang, rule("for project in projects\nrequire stale_after < 20", "param stale_after = 14d"))
    assert d.code == "type-mismatch"


def test_date_compared_with_quoted_text_is_a_type_mismatch(lang):
    d = only(lang, rule('for project in projects\nrequire project.start_date > "2026-01-01"'))
    assert d.code == "type-mismatch"
    assert d.hint


def test_number_compared_with_text_is_a_type_mismatch(lang):
    d = only(lang, rule('for project in projects\nrequire project.budget.approved == "250000"'))
    assert d.code == "type-mismatch"


def test_date_plus_number_is_a_type_mismatch(lang):
    d = only(lang, rule("for project in projects\nrequire project.start_date + 5 < today"))
    assert d.code == "type-mismatch"
    assert d.hint


def test_require_needs_a_condition(lang):
    d = only(lang, rule("for project in projects\nrequire project.budget.approved"))
    assert d.code == "type-mismatch"


def test_where_needs_a_condition(lang):
    assert lang.diags(rule('for project in projects where project.name\nrequire true'))


def test_and_needs_conditions(lang):
    assert lang.diags(rule("for project in projects\nrequire project.name and true"))


def test_sum_over_text_is_a_check_error(lang):
    d = only(lang, rule("for project in projects\nrequire sum(r.title for r in project.risks) > 0"))
    assert d.code == "type-mismatch"


def test_sum_of_a_text_list_is_a_check_error(lang):
    d = only(lang, rule("for project in projects\nrequire sum(project.tags) > 0"))
    assert d.code == "type-mismatch"


def test_avg_over_text_is_a_check_error(lang):
    assert lang.diags(rule("for project in projects\nrequire avg(r.owner for r in project.risks) > 0"))


def test_field_of_a_list_is_a_check_error(lang):
    d = only(lang, rule("for project in projects\nrequire project.risks.owner is present"))
    assert d.code == "type-mismatch"


def test_function_argument_types_are_checked(lang):
    assert lang.diags(rule("for project in projects\nrequire len(project.start_date) > 1"))
    assert lang.diags(rule("for project in projects\nrequire round(\"x\") > 1"))


def test_function_arity_is_checked(lang):
    assert lang.diags(rule("for project in projects\nrequire lower(project.name, project.id) == \"x\""))


def test_count_element_must_be_a_condition(lang):
    assert lang.diags(rule("for project in projects\nrequire count(r.impact for r in project.risks) > 1"))


def test_format_spec_on_text_is_a_check_error(lang):
    d = only(lang, rule('for project in projects\nrequire true\nmessage "{project.name:.2f}"'))
    assert (d.span.line, d.span.column) == (6, 24)


def test_unknown_format_spec_is_a_check_error(lang):
    assert lang.diags(rule('for project in projects\nrequire true\nmessage "{project.name:>10}"'))


def test_unbalanced_template_brace_is_a_check_error(lang):
    assert lang.diags(rule('for project in projects\nrequire true\nmessage "a } b"'))
    assert lang.diags(rule('for project in projects\nrequire true\nmessage "a { b"'))


def test_title_and_remediation_are_not_templates(lang):
    assert_clean(lang, rule('title "Budget {approved} } {"\nfor project in projects\nrequire true\n'
                            'remediation "Set {budget} }"'))


# ------------------------------------------------------------------- regexes --


def test_invalid_regex_is_a_check_error(lang):
    d = only(lang, rule('for project in projects\nrequire project.id matches "PRJ-(\\d+"'))
    assert d.code == "bad-regex"
    assert (d.span.line, d.span.column) == (5, 28)


def test_invalid_regex_message_is_readable(lang):
    d = only(lang, rule('for project in projects\nrequire project.id matches "("'))
    assert "b'" not in d.message and 'b"' not in d.message


@pytest.mark.parametrize("pattern", ["(a)\\\\1", "(?=a)", "(?<=a)b", "a++"])
def test_non_re2_regex_features_are_check_errors(lang, pattern):
    assert lang.diags(rule(f'for project in projects\nrequire project.id matches "{pattern}"'))


def test_matches_with_a_non_literal_pattern_is_a_check_error(lang):
    d = only(lang, rule("for project in projects\nrequire project.name matches project.id"))
    assert d.code == "bad-regex"


def test_matches_with_a_text_param_is_fine(lang):
    assert_clean(lang, rule("for project in projects\nrequire project.id matches id_pattern",
                            'param id_pattern = "^PRJ-\\d{6}$"'))


def test_matches_with_a_number_param_is_a_check_error(lang):
    assert lang.diags(rule("for project in projects\nrequire project.id matches n", "param n = 5"))


def test_invalid_regex_in_a_param_is_a_check_error(lang):
    assert lang.diags(rule("for project in projects\nrequire project.id matches pat", 'param pat = "(unclosed"'))


def test_matches_on_a_number_is_a_check_error(lang):
    assert lang.diags(rule('for project in projects\nrequire project.priority matches "1"'))


# ------------------------------------------------------------------- waivers --

WAIVABLE = ("package t\nrule r {\n    enforcement soft\n    for project in projects\n"
            "    require project.sponsor is present\n}\n")


def waiver(body: str) -> str:
    return f"waiver W-1 {{\n{body}\n}}\n"


FULL = 'rule t.r\nsubjects "P1"\nreason "ok"\napproved_by "CFO"\nexpires 2027-01-31'


def test_complete_waiver_checks(lang):
    assert_clean(lang, WAIVABLE + waiver(FULL))


def test_waiver_of_a_hard_rule_is_a_check_error(lang):
    text = WAIVABLE.replace("enforcement soft", "enforcement hard") + waiver(FULL)
    d = only(lang, text)
    assert "hard" in d.message
    assert d.span.line == 8


def test_waiver_of_an_unknown_rule_with_suggestion(lang):
    d = only(lang, WAIVABLE + waiver(FULL.replace("t.r", "t.rr")))
    assert "t.rr" in d.message
    assert "t.r" in (d.hint or "")


@pytest.mark.parametrize("drop", ["rule t.r", 'subjects "P1"', 'reason "ok"', 'approved_by "CFO"', "expires 2027-01-31"])
def test_incomplete_waiver_is_a_check_error(lang, drop):
    body = "\n".join(line for line in FULL.splitlines() if line != drop)
    assert lang.diags(WAIVABLE + waiver(body)), drop


def test_waiver_subjects_where_is_type_checked_with_the_rule_variable(lang):
    assert_clean(lang, WAIVABLE + waiver(FULL.replace('subjects "P1"', 'subjects where project.program == "PG-1"')))
    d = only(lang, WAIVABLE + waiver(FULL.replace('subjects "P1"', 'subjects where project.progam == "PG-1"')))
    assert "progam" in d.message


def test_waiver_expires_must_be_a_date(lang):
    assert lang.diags(WAIVABLE + waiver(FULL.replace("2027-01-31", "30d")))


# ------------------------------------------------------------- tests blocks --


def test_test_block_naming_unknown_rule_or_outcome(lang):
    text = WAIVABLE + ('test t1 {\n    given projects = [{id: "P1"}]\n    expect t.rr fail for "P1"\n'
                       '    expect t.r fial for "P1"\n}\n')
    diags = lang.diags(text)
    assert len(diags) == 2
    assert "fail" in (diags[1].hint or "")


def test_test_block_given_unknown_collection(lang):
    text = WAIVABLE + 'test t1 {\n    given projcts = [{id: "P1"}]\n    expect t.r fail for "P1"\n}\n'
    d = only(lang, text)
    assert "projects" in (d.hint or "")


# ---------------------------------------------------------- several errors --


def test_every_error_in_a_file_is_reported(lang):
    text = ("package t\nparam floor = 0.9\n"
            "rule a {\n    severity hgh\n    for project in projects\n    require project.sponser is present\n}\n"
            "rule b {\n    for project in projects\n    require cpii(project) >= floor\n"
            "    require project.start_date > 5\n    message \"{project.nme}\"\n}\n"
            "rule c {\n    for person in peple\n    require true\n}\n")
    diags = lang.diags(text)
    where = [(d.span.line, d.code) for d in diags]
    assert [line for line, _ in where] == [4, 6, 10, 11, 12, 15], where


def test_diagnostics_render_with_file_line_col_caret_and_hint(lang):
    out = lang.rendered(rule("for project in projects\nrequire project.sponser is present"), "gov.pmo")
    lines = out.splitlines()
    assert lines[0].startswith("gov.pmo:5:9: error[")
    assert "require project.sponser is present" in lines[1]
    assert lines[2].strip().startswith("|")
    assert lines[2].count("^") == len("project.sponser")
    assert any("hint: did you mean `sponsor`?" in line for line in lines)


def test_one_mistake_is_reported_once(lang):
    # An unknown name must not cascade into type errors of the expressions using it.
    diags = lang.diags(rule("for project in projects\nlet x = projet.budget.approved * 2\nrequire x > 0 and x < 10"))
    assert len(diags) == 1


def test_bad_literal_in_a_param_default_is_reported_once(lang):
    # One mistake, one error: the param with a broken default must not cascade into
    # "null operand" / type errors wherever the param is used.
    text = ("package t\nparam stale_after = 14x\nrule r {\n    for project in projects\n"
            "    require today - project.last_status_update <= stale_after\n}\n")
    diags = lang.diags(text)
    assert [(d.span.line, d.code) for d in diags] == [(2, "bad-literal")]


def test_bad_literal_in_a_require_is_reported_once(lang):
    diags = lang.diags(rule("for project in projects\nrequire today - project.start_date <= 10x"))
    assert len(diags) == 1 and "unknown unit" in diags[0].message


def test_check_errors_are_reported_alongside_a_syntax_error_elsewhere(lang):
    # All errors in a file are reported: a syntax error in one rule must not hide an
    # unknown field in another.
    text = ("package t\nrule a {\n    for project in projects\n    require project.status = \"active\"\n}\n"
            "rule b {\n    for project in projects\n    require project.sponser is present\n}\n")
    lines = sorted(d.span.line for d in lang.diags(text))
    assert lines == [4, 8], lines
