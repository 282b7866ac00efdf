"""The fast paths of the JSON report write exactly what the plain code they replaced did.

`jsonout.dumps`, `json_report.render` (findings written from the models, pieces cached),
`api.build_report` (findings made without validation, evidence shared, one pass for the
roll-ups) and `rollups` were rewritten for 100k-project audits (~184k findings, 150 MB of
JSON). The JSON report is versioned, so its bytes must not change: the code they replaced is
kept below, verbatim, as the reference, and compared on real reports, generated policies and
portfolios, and random values (Decimals with exponents, lone surrogates, subclasses, types
pydantic converts, empty containers).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import enum
import json
import pickle
import re
import warnings
from collections import Counter, OrderedDict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pmo_rules_builtins.formats import json_report
from test_differential_fuzz import policies, portfolios
from test_formats import DATA as EVERY_OUTCOME_DATA
from test_formats import POLICY as EVERY_OUTCOME_POLICY

from pmo_rules import __version__, api, jsonout, rollups
from pmo_rules.findings import (
    DataSummary,
    Evidence,
    Finding,
    Report,
    RuleSummary,
    trusted_evidence,
    trusted_finding,
)
from pmo_rules.program import enforcement_of, severity_of
from pmo_rules.values import Duration, format_number, round_half_up

AS_OF = dt.date(2026, 11, 26)
SESSION = api.Session.create()
RANDOM = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------- the reference --
# jsonout.dumps, json_report.render, api.build_report and rollups as they were.

_str = json.JSONEncoder(ensure_ascii=False).encode
_SURROGATE = re.compile("[\ud800-\udfff]")


def reference_dumps(value: Any, indent: int | None = 2) -> str:
    parts: list[str] = []
    _write(value, parts, indent, 0)
    text = "".join(parts)
    if not text.isascii() and _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def _write(v: Any, out: list[str], indent: int | None, level: int) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(_str(v))
    elif isinstance(v, Decimal):
        out.append(format_number(v) if v.is_finite() else _str(str(v)))
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(repr(v) if v == v and v not in (float("inf"), float("-inf")) else _str(str(v)))
    elif isinstance(v, dt.date):
        out.append(_str(v.isoformat()))
    elif isinstance(v, Duration):
        out.append(_str(str(v)))
    elif isinstance(v, dict):
        if not v:
            out.append("{}")
            return
        out.append("{")
        first = True
        for k, item in v.items():
            if not first:
                out.append(",")
            first = False
            if indent is not None:
                out.append("\n" + " " * (indent * (level + 1)))
            out.append(_str(str(k)))
            out.append(": " if indent is not None else ":")
            _write(item, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * level))
        out.append("}")
    elif isinstance(v, (list, tuple)):
        if not v:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            if indent is not None:
                out.append("\n" + " " * (indent * (level + 1)))
            _write(item, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + " " * (indent * level))
        out.append("]")
    else:
        out.append(_str(str(v)))


def reference_render(report: Report) -> str:
    data = report.model_dump(mode="python", exclude_none=False)
    for f in data["findings"]:
        for key in ("waiver", "remediation", "note"):
            if f.get(key) is None:
                f.pop(key, None)
    return reference_dumps(data) + "\n"


def reference_compute(projects: list[dict], passes: Counter, fails: Counter) -> dict[str, list[dict[str, Any]]]:
    per_project_pass: Counter = Counter()
    per_project_fail: Counter = Counter()
    for sid, n in passes.items():
        per_project_pass[rollups.project_of(sid)] += n
    for sid, n in fails.items():
        per_project_fail[rollups.project_of(sid)] += n
    out: dict[str, list[dict[str, Any]]] = {}
    for dimension in ("program", "portfolio"):
        groups: dict[str, dict[str, Any]] = {}
        for p in projects:
            pid = p.get("id")
            key = p.get(dimension) if isinstance(p.get(dimension), str) else rollups.UNASSIGNED
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


def _ratio(num: Decimal, den: Decimal) -> Decimal | None:
    return round_half_up(num / den, 4) if den else None


def reference_subjects(projects: list[dict], ids: set[str]) -> dict[str, dict[str, Any]]:
    wanted = {rollups.project_of(s) for s in ids}
    out = {}
    for p in projects:
        pid = p.get("id")
        if pid in wanted:
            out[pid] = {"name": p.get("name"), "program": p.get("program"), "portfolio": p.get("portfolio")}
    return dict(sorted(out.items()))


def reference_build_report(program, evaluation, data, as_of, problems, *, fail_on=None) -> Report:
    rules = program.rule_by_id
    waivers = {w["id"]: w for w in evaluation.waivers}
    findings = []
    for res in sorted(evaluation.results, key=lambda r: (r.rule, r.subject)):
        rule = rules[res.rule]
        w = waivers.get(res.waiver) if res.waiver else None
        findings.append(Finding(
            rule=res.rule, subject=res.subject, outcome=res.outcome, severity=severity_of(rule),
            enforcement=enforcement_of(rule), message=res.message,
            evidence=[Evidence(expr=k, value=v) for k, v in res.evidence],
            waiver={k: w[k] for k in ("id", "reason", "approved_by", "expires")} if w else None,
            location=res.location, remediation=rule.remediation if res.outcome in ("fail", "waived") else None,
            note=res.note,
        ))
    summary = {}
    totals = {o: 0 for o in ("pass", "fail", "error", "waived", "not_applicable")}
    for rule in sorted(program.rules, key=lambda r: r.id):
        counts = evaluation.counts.get(rule.id, {})
        c = {o: int(counts.get(o, 0)) for o in totals}
        for o in totals:
            totals[o] += c[o]
        summary[rule.id] = RuleSummary(
            title=rule.meta_value("title"), severity=severity_of(rule), enforcement=enforcement_of(rule),
            tags=list(rule.meta_value("tags", ())), location=str(rule.span), counts=c,
            description=rule.meta_value("description"), remediation=rule.remediation, ref=rule.meta_value("ref"))
    blocking = any(api.is_blocking(f, fail_on) for f in findings)
    fails: Counter = Counter(f.subject for f in findings if f.outcome == "fail")
    projects = data.snapshot.projects
    return Report(
        tool_version=__version__, as_of=as_of.isoformat(), blocking=blocking, summary=summary, totals=totals,
        findings=findings, waivers=evaluation.waivers, params=program.effective_params(),
        data=DataSummary(sources=data.files, records=data.records, rejected=data.rejected), problems=problems,
        rollups=reference_compute(projects, evaluation.passes, fails),
        subjects=reference_subjects(projects, {f.subject for f in findings}),
    )


# ------------------------------------------------------------------- strategies --


class Level(enum.IntEnum):
    LOW = 1


class Label(str):
    pass


class Kept(float):
    pass


@dataclasses.dataclass
class Point:  # pydantic dumps a dataclass in an `Any` field as a dict; the writer would str() it
    x: Any
    y: Any = None


class Opaque:
    def __str__(self) -> str:
        return "opaque \ud800 é"


SPECIAL_TEXT = ["", "\ud800", "\udfff", "a\udc00b", "é", "東京", "🚀", '"', "\\", "\x00\x1f\n\t", "\u2028\u2029",
                "</script>", "-0", "null"]
text = st.one_of(st.text(st.characters(exclude_categories=()), max_size=12), st.sampled_from(SPECIAL_TEXT))
decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(lambda sign, digits, exp: Decimal((sign, digits, exp)),
              st.integers(0, 1), st.lists(st.integers(0, 9), min_size=1, max_size=30).map(tuple),
              st.integers(-40, 40)),
    st.sampled_from([Decimal("-0"), Decimal("0E+3"), Decimal("-0.000"), Decimal("1E+2"), Decimal("1.50"),
                     Decimal("1E-7"), Decimal("-1.0E-9"), Decimal("sNaN"), Decimal("-NaN"), Decimal("-Infinity"),
                     Decimal("123456789012345678901234567890.123"), Decimal("0.000001"), Decimal("1e5")]))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10 ** 30), 10 ** 30), st.floats(), text, decimals,
    st.dates(), st.datetimes(), st.builds(Duration, decimals.filter(lambda d: d.is_finite())),
    st.sampled_from([Level.LOW, Label("lab\ud800el"), Kept(1.5), Kept(float("nan")), Opaque(), {1, 2}, b"x",
                     frozenset(), dt.time(1, 2), Decimal]),
)
keys = st.one_of(text, st.integers(), decimals.filter(lambda d: not d.is_snan()), st.none(), st.booleans(), st.dates(), st.just(Level.LOW),
                 st.just(Label("k")), st.just((1, "t")))


def containers(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(text, children, max_size=4).map(OrderedDict),
        st.lists(children, max_size=3).map(lambda xs: Point(*xs[:2]) if xs else Point(None)),
    )


values = st.recursive(scalars, containers, max_leaves=20)
json_values = st.recursive(  # the plain values reports hold, without the types pydantic turns into others
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text, decimals, st.dates(),
              st.builds(Duration, decimals.filter(lambda d: d.is_finite()))),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)),
    max_leaves=20)


# ---------------------------------------------------------------------- jsonout --


@RANDOM
@given(values, st.sampled_from([2, None, 0, 3, -1]))
def test_dumps_writes_exactly_what_the_plain_writer_wrote(value, indent):
    assert jsonout.dumps(value, indent) == reference_dumps(value, indent)


@RANDOM
@given(decimals)
def test_decimal_text_is_format_number(d):
    expected = format_number(d) if d.is_finite() else _str(str(d))
    assert jsonout.decimal_text(d) == expected
    with decimal.localcontext() as ctx:  # exponents printed in lower case
        ctx.capitals = 0
        assert jsonout.decimal_text(d) == (format_number(d) if d.is_finite() else _str(str(d)))


def test_dumps_keeps_a_lone_surrogate_as_its_escape_and_text_as_is():
    value = {"k\ud800": ["lone \udfff", "caf\u00e9 🚀"], 1: (Decimal("1.50"), Decimal("NaN"), float("inf"))}
    assert jsonout.dumps(value) == reference_dumps(value)
    assert jsonout.dumps(value, indent=None) == '{"k\\ud800":["lone \\udfff","café 🚀"],"1":[1.5,"NaN","inf"]}'


# ------------------------------------------------------------------ JSON report --


def _finding(**fields) -> Finding:
    base = {"rule": "t.r", "subject": "PRJ-1", "outcome": "fail", "severity": "high", "enforcement": "soft"}
    return Finding(**{**base, **fields})


def _report(findings: list[Finding], **fields) -> Report:
    return Report(as_of="2026-11-26", summary={}, totals={}, findings=findings, **fields)


def _same(report: Report) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic warns about values of the wrong type, in both
        assert json_report.render(report, {}) == reference_render(report)


@pytest.mark.parametrize("include_passes", [False, True])
def test_the_sample_report_is_written_exactly_as_before(include_passes):
    program, _ = api.load_program([api.default_policies()], SESSION)
    report = api.audit(program, api.load_data([], SESSION), AS_OF, include_passes=include_passes)
    assert report.findings and report.subjects and report.rollups["program"]
    _same(report)
    assert json.loads(json_report.render(report, {}))["findings"][0]["rule"] == report.findings[0].rule


def test_unusual_findings_are_written_exactly_as_before():
    findings = [
        _finding(),  # no message, no evidence, no location
        _finding(subject="S-\ud800", message="lone \udfff and 🚀", note="a note",
                 evidence=[Evidence(expr="e\ud800", value="v\udc00")]),
        _finding(outcome="waived", waiver={"id": "W-1", "reason": "ok", "approved_by": None,
                                           "expires": dt.date(2027, 1, 1), "extra": [Decimal("1.0"), {}]},
                 remediation="fix it", location="p.pmo:1:1"),
        _finding(evidence=[Evidence(expr="a", value=v) for v in [
            None, True, False, 0, -5, 2 ** 70, 1.5, float("nan"), float("-inf"), Decimal("1E+3"), Decimal("-0"),
            Decimal("Infinity"), dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4), Duration(Decimal("7.50")),
            [], {}, (), [[], {}], {"k": {"n": [1, (2, 3)]}}, {1: "int key", None: "none key"}]]),
        _finding(evidence=[Evidence(expr="point", value=Point(Decimal("1.0"), [Point(1)]))]),  # pydantic: a dict
        _finding(evidence=[Evidence(expr="odd", value=v) for v in [
            {1, 2}, Level.LOW, Label("x"), Kept(2.5), Opaque(), OrderedDict(a=1), {Label("k"): 1}]]),
        _finding(message=None, location=None, remediation=None, note=None, waiver=None, evidence=[]),
    ]
    _same(_report(findings, subjects={"PRJ-1": {"name": "é \ud800", "program": None, "portfolio": "P"},
                                      "PRJ-2": {}, "PRJ-3": {"name": 1, "x": dt.date(2020, 1, 1)}}))
    # Wrong types set behind pydantic's back, a subclass, a dict among the findings.
    ok = _finding(message="m", evidence=[Evidence(expr="a", value=1)])
    _same(_report([ok.model_copy(update={"severity": 5}), ok.model_copy(update={"evidence": ()}),
                   ok.model_copy(update={"message": Label("sub")}), ok]))

    class Sub(Finding):
        extra: str = "x"

    _same(_report([ok, Sub(**ok.model_dump())]))
    _same(_report([ok]).model_copy(update={"findings": (ok,)}))
    _same(_report([ok]).model_copy(update={"subjects": {"P": {"name": Point(1)}}}))
    _same(_report([ok]).model_copy(update={"subjects": {1: {"name": "x"}}}))
    _same(_report([]))


finding_fields = st.fixed_dictionaries({
    "rule": st.sampled_from(["a.one", "a.two", "b.\ud800"]),
    "subject": text,
    "outcome": st.sampled_from(["fail", "error", "waived", "pass"]),
    "severity": st.sampled_from(["low", "high"]),
    "enforcement": st.sampled_from(["soft", "hard", "advisory"]),
    "message": st.one_of(st.none(), text),
    "evidence": st.lists(st.builds(Evidence, expr=st.one_of(st.sampled_from(["x", "y.z"]), text),
                                   value=st.one_of(json_values, values)), max_size=4),
    "waiver": st.one_of(st.none(), st.dictionaries(text, json_values, max_size=3)),
    "location": st.one_of(st.none(), st.sampled_from(["p.pmo:1:1", "p.pmo:2:2"])),
    "remediation": st.one_of(st.none(), text),
    "note": st.one_of(st.none(), text),
})


@RANDOM
@given(st.lists(finding_fields, max_size=6),
       st.dictionaries(text, st.dictionaries(st.sampled_from(["name", "program", "portfolio"]),
                                             st.one_of(st.none(), text)), max_size=3),
       st.dictionaries(text, json_values, max_size=3))
def test_random_reports_are_written_exactly_as_before(findings, subjects, params):
    _same(_report([Finding(**f) for f in findings], subjects=subjects, params=params))


# ------------------------------------------------------------------ build_report --


def _both(program, loaded, *, include_passes=False, fail_on=None):
    evaluation = api.IndexedEvaluator().evaluate(program, loaded.snapshot, AS_OF, include_passes=include_passes)
    new = api.build_report(program, evaluation, loaded, AS_OF, ["a problem"], fail_on=fail_on)
    old = reference_build_report(program, evaluation, loaded, AS_OF, ["a problem"], fail_on=fail_on)
    return new, old


def _assert_same_reports(new: Report, old: Report) -> None:
    assert new == old
    assert new.model_dump() == old.model_dump()
    assert repr(new.model_dump()) == repr(old.model_dump())  # Decimals with the same digits, too
    assert new.model_fields_set == old.model_fields_set
    for a, b in zip(new.findings, old.findings, strict=True):
        assert a.__dict__ == b.__dict__ and a.model_fields_set == b.model_fields_set
        assert list(a.__dict__) == list(b.__dict__)
    assert json_report.render(new, {}) == reference_render(old)


@pytest.mark.parametrize("include_passes", [False, True])
@pytest.mark.parametrize("fail_on", [None, "info", "critical"])
def test_build_report_makes_the_report_it_made_before(include_passes, fail_on):
    from pmo_rules.load import load_collections

    program, _ = api.load_program([api.default_policies()], SESSION)
    _assert_same_reports(*_both(program, api.load_data([], SESSION), include_passes=include_passes, fail_on=fail_on))
    # Every outcome, waivers (active, expired, stale), notes, rejected records, hostile names.
    eventful, _ = api.check_text(EVERY_OUTCOME_POLICY, SESSION, "formats.pmo")
    new, old = _both(eventful, load_collections(EVERY_OUTCOME_DATA), include_passes=include_passes, fail_on=fail_on)
    assert {"fail", "error", "waived"} <= {f.outcome for f in new.findings}
    assert any(f.waiver for f in new.findings)
    _assert_same_reports(new, old)


def test_build_report_refuses_an_unknown_fail_on_as_before():
    program, _ = api.load_program([api.default_policies()], SESSION)
    loaded = api.load_data([], SESSION)
    with pytest.raises(api.UsageError) as new:
        _both(program, loaded, fail_on="severe")
    with pytest.raises(api.UsageError) as old:
        reference_build_report(program, api.IndexedEvaluator().evaluate(program, loaded.snapshot, AS_OF),
                               loaded, AS_OF, [], fail_on="severe")
    assert str(new.value) == str(old.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(policies(), portfolios(), st.sampled_from([None, "high"]))
def test_build_report_on_generated_policies_and_portfolios(policy, data, fail_on):
    from pmo_rules.load import load_collections

    program, _ = api.check_text(policy, SESSION, "fuzz.pmo")
    assume(program is not None)
    _assert_same_reports(*_both(program, load_collections(data), include_passes=True, fail_on=fail_on))


# ---------------------------------------------------------------------- rollups --

subject_ids = st.sampled_from(["P-1", "P-2", "P-1/R-1", "P-1/R-2/x", "P-3/M", "/x", "", "Q/P-1"])
project_dicts = st.fixed_dictionaries({
    "id": st.sampled_from(["P-1", "P-2", "P-3", "Q", "Q/P-1", ""]),
    "name": st.one_of(st.none(), text),
    "program": st.one_of(st.none(), st.sampled_from(["A", "B"]), st.integers(), st.just(Label("A"))),
    "portfolio": st.one_of(st.none(), st.sampled_from(["X", "Y"])),
    "budget": st.one_of(st.none(), st.just({}), st.fixed_dictionaries({"approved": st.one_of(
        st.none(), st.integers(), decimals.filter(lambda d: d.is_finite() and abs(d) < Decimal("1E+30")))})),
})


@RANDOM
@given(st.lists(project_dicts, max_size=8), st.dictionaries(subject_ids, st.integers(0, 5)),
       st.dictionaries(subject_ids, st.integers(0, 5)))
def test_rollups_are_computed_as_before(projects, passes, fails):
    passes, fails = Counter(passes), Counter(fails)
    new, old = rollups.compute(projects, passes, fails), reference_compute(projects, passes, fails)
    assert new == old and repr(new) == repr(old)
    ids = set(passes) | set(fails)
    assert repr(rollups.subjects(projects, ids)) == repr(reference_subjects(projects, ids))
    both = rollups.compute_with_subjects(projects, passes, fails, ids)
    assert repr(both) == repr((old, reference_subjects(projects, ids)))


# -------------------------------------------------------------- trusted models --


def test_trusted_models_are_the_validated_ones():
    values = {"rule": "t.r", "subject": "P-1", "outcome": "fail", "severity": "high", "enforcement": "soft",
              "message": "m", "evidence": [trusted_evidence("x", Decimal("1.50"))], "waiver": None,
              "location": "p.pmo:1:1", "remediation": None, "note": None}
    trusted = trusted_finding(dict(values))
    validated = Finding(**{**values, "evidence": [Evidence(expr="x", value=Decimal("1.50"))]})
    assert trusted == validated and trusted.evidence[0] == validated.evidence[0]
    assert trusted.__getstate__() == validated.__getstate__()
    assert trusted.evidence[0].__getstate__() == validated.evidence[0].__getstate__()
    assert trusted.model_dump() == validated.model_dump() and repr(trusted) == repr(validated)
    assert trusted.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert hash(trusted.evidence[0]) == hash(validated.evidence[0])
    # The shared fields set never changes: assignment adds a field already there, copies copy it.
    other = trusted_finding(dict(values))
    other.message = "changed"
    copied = trusted.model_copy(update={"message": "x"})
    assert trusted.model_fields_set == other.model_fields_set == copied.model_fields_set == set(Finding.model_fields)
    assert trusted.message == "m" and other.message == "changed" and copied.message == "x"
    with pytest.raises(Exception):  # noqa: B017 - frozen, as ever
        trusted.evidence[0].value = 2
    assert pickle.loads(pickle.dumps(trusted)) == trusted
    assert copy.deepcopy(trusted) == trusted and Finding.model_validate(trusted.model_dump()) == trusted


def test_the_cli_writes_the_json_report_in_pieces_that_join_to_render(tmp_path):
    """`render_parts` is what `pmo-rules audit --output` writes; it must be `render`, byte for byte."""
    from click.testing import CliRunner

    from pmo_rules import api
    from pmo_rules.cli import main as cli

    session = api.Session.create()
    spec = session.registry.formats["json"]
    program, _ = api.load_program([api.default_policies()], session)
    report = api.audit(program, api.load_data([], session), dt.date(2026, 11, 26))
    parts = spec.render_parts(report, {})
    assert len(parts) > 100 and "".join(parts) == spec.render(report, {})
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["audit", "--as-of", "2026-11-26", "--format", "json", "--output", str(out),
                                      "--quiet"])
    assert result.exit_code in (0, 1, 3), result.output
    assert out.read_text(encoding="utf-8") == spec.render(report, {})
