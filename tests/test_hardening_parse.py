"""Hardening: hostile policy text. Parser and checker fuzzing, size and nesting limits.

Every input, however broken, must end in success or in diagnostics that each carry
file:line:col (and `pmo-rules check` exit 2): never an exception, never a hang. The
mutators and the oracle live in `fuzz/fuzz_policies.py`, which runs them for as long as
asked (`--seconds 600`); here hypothesis runs a few hundred cases in a few seconds.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmo_rules import api, parse
from pmo_rules.cli import main

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fuzz_policies", REPO / "fuzz" / "fuzz_policies.py")
fz = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("fuzz_policies", fz)
_spec.loader.exec_module(fz)

SEEDS = fz.seeds()
SMALL = [i for i, m in enumerate(fz.MUTATORS) if m not in fz.BIG]
BIG = [i for i, m in enumerate(fz.MUTATORS) if m in fz.BIG]
CASE_SECONDS = 15.0

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _oracle(data: bytes, companion: str | None = None) -> str:
    try:
        return fz.check_case(data, companion, seconds=CASE_SECONDS)
    except (fz.Failure, fz.Hang) as exc:
        shown = data[:300] + (b"..." if len(data) > 300 else b"")
        pytest.fail(f"{type(exc).__name__}: {exc}\ninput ({len(data)} bytes): {shown!r}")


# ------------------------------------------------------------------- fuzzing --

steps = st.tuples(st.sampled_from(SMALL), st.integers(0, 2**32 - 1))


@given(st.sampled_from(range(len(SEEDS))), st.lists(steps, min_size=1, max_size=4), st.sampled_from(range(len(SEEDS))))
@FUZZ
def test_mutated_policies_end_in_located_diagnostics(seed, mutations, other):
    s = SEEDS[seed]
    _oracle(fz.apply(s.text, mutations, SEEDS[other].text), s.companion)


@given(st.sampled_from(range(len(SEEDS))), st.sampled_from(BIG), st.integers(0, 2**32 - 1))
@settings(FUZZ, max_examples=12)
def test_long_lines_deep_nesting_and_long_chains_end_in_located_diagnostics(seed, mutator, rng_seed):
    s = SEEDS[seed]
    _oracle(fz.apply(s.text, [(mutator, rng_seed)]), s.companion)


@given(st.lists(st.sampled_from(fz.POOL), max_size=60), st.lists(st.sampled_from([" ", "", "\n"]), min_size=1))
@settings(FUZZ, max_examples=80)
def test_token_soup_ends_in_located_diagnostics(words, seps):
    text = "package t\n" + "".join(w + seps[i % len(seps)] for i, w in enumerate(words))
    _oracle(text.encode("utf-8", errors="surrogateescape"))


@given(st.binary(max_size=400))
@settings(FUZZ, max_examples=60)
def test_random_bytes_end_in_located_diagnostics(data):
    _oracle(data)


@given(st.text(max_size=200))
@settings(FUZZ, max_examples=60)
def test_random_text_after_a_package_line_ends_in_located_diagnostics(text):
    _oracle(("package t\n" + text).encode("utf-8", errors="surrogatepass"))


def test_every_mutator_changes_its_input():
    """The fuzzer is not a no-op: each mutator really produces a different file."""
    base = SEEDS[0].text
    for i, m in enumerate(fz.MUTATORS):
        outs = {fz.apply(base, [(i, s)], SEEDS[1].text) for s in range(6)}
        assert any(o != base.encode() for o in outs), m.__name__


# -------------------------------------------------------------- known shapes --

def _diags(text: str | bytes, name: str = "h.pmo"):
    data = text if isinstance(text, bytes) else text.encode("utf-8", errors="surrogatepass")
    module, source, diags = parse.parse_bytes(data, name, partial=True)
    return module, diags


def _rule(require: str, extra: str = "") -> str:
    return f"package t\n\nrule r {{\n    for project in projects\n    require {require}\n{extra}}}\n"


def test_brackets_nest_up_to_the_limit_and_no_further():
    n = parse.MAX_NESTING - 1  # the rule's own `{` is the first level
    ok = _rule("(" * n + "1" + ")" * n + " > 0")
    module, diags = _diags(ok)
    assert module is not None and diags == []
    deep = _rule("(" * (n + 1) + "1" + ")" * (n + 1) + " > 0")
    module, diags = _diags(deep)
    assert module is None
    assert [(d.code, str(d.span)) for d in diags] == [("too-deep", f"h.pmo:5:{12 + n + 1}")]
    n = parse.MAX_NESTING
    assert diags[0].message == f"brackets nest more than {n} levels deep"


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}"), ("len(", ")")])
def test_every_bracket_kind_counts_towards_the_limit(opener, closer):
    n = parse.MAX_NESTING + 1
    _, diags = _diags(_rule(opener * n + "1" + closer * n + " is present"))
    assert [d.code for d in diags] == ["too-deep"]


def test_brackets_in_a_message_template_count_too():
    n = parse.MAX_NESTING + 1
    _, diags = _diags(_rule("1 > 0", '    message "{' + "(" * n + "1" + ")" * n + '}"\n'))
    assert [(d.code, d.span.line) for d in diags] == [("too-deep", 6)]


@pytest.mark.parametrize("chain", [
    lambda n: "not " * n + "true",
    lambda n: "- " * n + "1 < 5",
    lambda n: "1" + " + 1" * n + " > 0",
    lambda n: "true" + " and true" * n,
    lambda n: "1 ?? " * n + "1 > 0",
    lambda n: "false implies " * n + "true",
    lambda n: "project.custom" + ".a" * n + " is missing",
], ids=["not", "neg", "plus", "and", "coalesce", "implies", "path"])
def test_operator_chains_beyond_the_limit_are_a_located_error_not_a_recursion_error(chain):
    n = 5_000
    _, diags = _diags(_rule(chain(n)))
    assert [d.code for d in diags] == ["too-deep"]
    d = diags[0]
    assert d.span.file == "h.pmo" and d.span.line == 5 and d.span.column >= 13
    assert d.message == f"this expression nests more than {parse.MAX_EXPR_DEPTH} levels deep"
    _, diags = _diags(_rule("1 > 0", '    message "{' + chain(n) + '}"\n'))
    assert [(d.code, d.span.line) for d in diags] == [("too-deep", 6)]


def test_an_expression_at_the_depth_limit_runs_through_every_stage(session):
    """The limit is low enough that checking, both evaluators, fmt and explain all survive it."""
    from pmo_rules import fmt
    from pmo_rules.evaluate.reference import ReferenceEvaluator
    from pmo_rules.explain import explain
    from pmo_rules.snapshot import from_collections

    depth = parse.MAX_EXPR_DEPTH
    for expr in ["not " * (depth - 2) + "true", "1" + " + 1" * (depth - 2) + " > 0",
                 "project.custom" + ".a" * (depth - 4) + " is missing"]:
        text = _rule(expr, '    message "{project.id}"\n')
        program, diags = api.check_text(text, session, "h.pmo")
        assert program is not None, diags.render()
        data = {"projects": [{"id": "P1"}]}
        for ev in (None, ReferenceEvaluator()):
            report = api.audit_text(text, data, "2026-11-26", session=session, evaluator=ev)
            assert [f.outcome for f in report.findings] == ["pass"]
        fmt.format_text(text, "h.pmo")
        explain(program, from_collections(data), "t.r", "P1", __import__("datetime").date(2026, 11, 26))
    _, diags = _diags(_rule("not " * depth + "true"))
    assert [d.code for d in diags] == ["too-deep"]


def test_a_deep_expression_after_a_syntax_error_is_reported_too():
    """Found by the fuzzer: the per-declaration re-parse after a syntax error had no depth guard."""
    text = ("package t\n\nrule broken {\n    for project in\n}\n\n"
            + "rule deep {\n    for project in projects\n    require " + "1" + " + 1" * 3_000 + " > 0\n}\n")
    module, diags = _diags(text)
    assert sorted((d.code, d.span.line) for d in diags) == [("syntax", 5), ("too-deep", 9)]


def test_too_many_tokens_is_a_clear_error_and_quick():
    n = parse.MAX_TOKENS
    text = "package t\n\nrule r {\n    for project in projects\n    require [" + "1," * n + "1] contains 1\n}\n"
    t0 = time.monotonic()
    module, diags = _diags(text)
    assert time.monotonic() - t0 < 2
    assert module is None and [d.code for d in diags] == ["too-large"]
    assert diags[0].span.line == 5 and "100,000" in diags[0].message
    # A path or a dashed name is many tokens, not one word (found by the fuzzer: 12 s to parse).
    for long in ["project" + ".a" * (n // 2 + 1), "a" + "-b" * (n // 2 + 1)]:
        t0 = time.monotonic()
        _, diags = _diags(_rule(long + " > 0"))
        assert time.monotonic() - t0 < 2
        assert [d.code for d in diags] == ["too-large"]
    # Template fields are parsed too, so they count.
    text = _rule("1 > 0", '    message "' + "{project.id}" * n + '"\n')
    t0 = time.monotonic()
    _, diags = _diags(text)
    assert time.monotonic() - t0 < 2
    assert [(d.code, d.span.line) for d in diags] == [("too-large", 6)]


def test_the_largest_bundled_policy_is_far_below_the_token_limit():
    biggest = max(sum(1 for _ in parse._ROUGH_TOKEN.finditer(s.text)) for s in SEEDS)
    assert biggest * 20 < parse.MAX_TOKENS


def test_a_file_over_the_size_limit_is_refused_before_parsing():
    text = "package t\n# " + "x" * parse.MAX_FILE_CHARS
    t0 = time.monotonic()
    module, diags = _diags(text)
    assert time.monotonic() - t0 < 2
    assert module is None
    assert [(d.code, str(d.span)) for d in diags] == [("too-large", "h.pmo:1:1")]
    assert f"{parse.MAX_FILE_CHARS:,}" in diags[0].message


@pytest.mark.parametrize("data,where,problem", [
    (b"package t\nrule r\x00 {}\n", "h.pmo:2:7", "NUL character"),
    (b"package t\n\nparam p = \"caf\xe9\"\n", "h.pmo:3:15", "invalid UTF-8 byte 0xe9"),
    (b"package t\nparam p = 1 \xff\xfe\n", "h.pmo:2:13", "invalid UTF-8 byte 0xff"),
    (b"package t\nparam p = \"\xed\xa0\x80\"\n", "h.pmo:2:12", "invalid UTF-8 byte 0xed"),  # a UTF-8 surrogate
    (b"package t\nparam p = \"\xc0\xaf\"\n", "h.pmo:2:12", "invalid UTF-8 byte 0xc0"),  # overlong
])
def test_bad_bytes_are_located_encoding_errors(data, where, problem):
    module, diags = _diags(data)
    assert [(d.code, str(d.span)) for d in diags] == [("bad-encoding", where)]
    assert diags[0].message.startswith(problem)


@pytest.mark.parametrize("literal", [
    "1" + "0" * 5_000 + "y", "9" * 5_000 + "d", "9" * 5_000, "9" * 5_000 + "B", "9" * 5_000 + "%",
    "0." + "0" * 5_000 + "1", "99999999999999999999999999999d",
])
def test_huge_numeric_literals_do_not_crash_the_lexer(literal):
    """`1000...0y` used to raise Python's int-string-conversion ValueError."""
    module, diags = _diags(f"package t\nparam p = {literal}\nparam q = -{literal}\n")
    assert diags == [] and module is not None and len(module.params) == 2


@pytest.mark.parametrize("ch", ["\u202e", "\u2066", "\u200b", "\ufeff", "\uff1d", "\u0430", "\u2028", "\x0b", "\x1b",
                                "\x85", "\x7f"])
def test_unicode_lookalikes_and_controls_are_located_errors_shown_inertly(ch):
    """A bidi override or an ESC in a policy file must not reach the terminal raw, neither in
    the message nor in the source excerpt (Trojan Source, ANSI injection)."""
    text = _rule(f"project.id {ch}= \"x{ch}\"")
    program, diags = api.check_text(text, api.Session.create(), "h.pmo")
    assert program is None and diags.items
    assert all(d.span and d.span.line == 5 for d in diags.items), (repr(ch), diags.items)
    rendered = diags.render()
    if ch.isprintable():
        return
    assert ch not in rendered, rendered
    assert f"U+{ord(ch):04X}" in rendered  # the message names it
    assert "\ufffd" in rendered.split("\n")[1]  # and the excerpt keeps one column for it


def test_escape_sequences_inside_strings_are_escaped_in_messages_and_excerpts(session):
    text = 'package t\nrule r {\n    severity "\x1b[31mred"\n    for project in projects\n    require 1 > 0\n}\n'
    _, diags = api.check_text(text, session, "h.pmo")
    rendered = diags.render()
    assert "\x1b" not in rendered
    assert 'unexpected `"\\x1b[31mred"`' in rendered
    assert '   3 |     severity "\ufffd[31mred"' in rendered


# ----------------------------------------------------------------------- CLI --

HOSTILE_FILES = {
    "deep.pmo": _rule("not " * 20_000 + "true").encode(),
    "brackets.pmo": _rule("(" * 500 + "1" + ")" * 500 + " > 0").encode(),
    "nul.pmo": b"package t\nrule r { \x00 }\n",
    "latin1.pmo": "package t\nparam p = \"caf\xe9\"\n".encode("latin-1"),
    "stray.pmo": b'package t\nrule r {\n    for project in projects\n    require project.name == "x\n}\n',
    "template.pmo": _rule("1 > 0", '    message "{' + "not " * 3_000 + 'true}"\n').encode(),
    "chunks.pmo": ("package t\nrule a { for }\n" + _rule("1" + " + 1" * 3_000 + " > 0").split("\n", 1)[1]).encode(),
    "huge.pmo": ("package t\nparam p = 1" + "0" * 5_000 + "y\nrule r {\n for project in projects\n"
                 " require project.start_date > today - p and p > 1d\n message \"{p}\"\n}\n"
                 "rule s { for project in projects require bogus }\n").encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_pmo_rules_check_exits_2_with_located_errors_and_no_traceback(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(HOSTILE_FILES[name])
    result = CliRunner().invoke(main, ["check", name])
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, out[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in out and "internal error" not in out
    assert re.search(rf"^{re.escape(name)}:\d+:\d+: error\[[a-z-]+\]: ", out, re.M), out[-2000:]


def test_pmo_rules_check_in_a_subprocess_never_prints_a_traceback(tmp_path):
    for name in ("deep.pmo", "chunks.pmo"):
        (tmp_path / name).write_bytes(HOSTILE_FILES[name])
    proc = subprocess.run([sys.executable, "-m", "pmo_rules", "check", "deep.pmo", "chunks.pmo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert re.search(r"^deep\.pmo:5:\d+: error\[too-deep\]", proc.stderr, re.M), proc.stderr
    assert re.search(r"^chunks\.pmo:\d+:\d+: error\[too-deep\]", proc.stderr, re.M), proc.stderr
