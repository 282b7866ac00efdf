"""The synthetic portfolio generator: deterministic, correctly shaped, and with violations."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest

from pmo_rules.generate import generate_portfolio, write_portfolio

AS_OF = dt.date(2026, 11, 26)
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def portfolio() -> dict:
    return generate_portfolio(600, seed=11, as_of=AS_OF)


def _files(tmp_path, name, **kwargs) -> dict[str, bytes]:
    out = tmp_path / name
    paths = write_portfolio(generate_portfolio(**kwargs), out)
    return {p.name: p.read_bytes() for p in paths}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = _files(tmp_path, "a", projects=150, seed=3)
    b = _files(tmp_path, "b", projects=150, seed=3)
    assert set(a) == {"projects.jsonl", "people.jsonl", "programs.jsonl"}
    assert a == b


def test_different_seed_or_date_gives_different_portfolio(tmp_path):
    a = _files(tmp_path, "a", projects=60, seed=1)
    b = _files(tmp_path, "b", projects=60, seed=2)
    c = _files(tmp_path, "c", projects=60, seed=1, as_of=dt.date(2025, 1, 1))
    assert a["projects.jsonl"] != b["projects.jsonl"]
    assert a["projects.jsonl"] != c["projects.jsonl"]


def test_lazy_generation_writes_the_same_files(tmp_path):
    eager = write_portfolio(generate_portfolio(120, seed=5), tmp_path / "eager")
    lazy = write_portfolio(generate_portfolio(120, seed=5, lazy=True), tmp_path / "lazy")
    assert [p.read_bytes() for p in eager] == [p.read_bytes() for p in lazy]


def test_counts(portfolio):
    assert len(portfolio["projects"]) == 600
    assert len(portfolio["people"]) == 120
    assert len(portfolio["programs"]) == 30
    tiny = generate_portfolio(3, seed=0)
    assert (len(tiny["projects"]), len(tiny["people"]), len(tiny["programs"])) == (3, 1, 1)
    assert generate_portfolio(0)["projects"] == []


def test_ids(portfolio):
    assert [p["id"] for p in portfolio["projects"][:2]] == ["PRJ-000001", "PRJ-000002"]
    assert all(re.fullmatch(r"PER-\d{5}", p["id"]) for p in portfolio["people"])
    assert all(re.fullmatch(r"PGM-\d{3,}", p["id"]) for p in portfolio["programs"])
    ids = [p["id"] for p in portfolio["projects"]]
    assert len(set(ids)) == len(ids)


def test_files_are_jsonl_utf8_one_object_per_line(tmp_path):
    files = _files(tmp_path, "x", projects=80, seed=9)
    for name, data in files.items():
        text = data.decode("utf-8")
        assert text.endswith("\n")
        lines = text.splitlines()
        assert all(isinstance(json.loads(line), dict) for line in lines), name
    # non-ASCII text is written as is, not escaped
    assert "\\u" not in files["people.jsonl"].decode("utf-8")


def _is_money(v) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return Decimal(repr(v)).as_tuple().exponent >= -2


def _is_fraction(v) -> bool:
    return _is_money(v) and 0 <= v <= 1


def _date_or_null(v) -> bool:
    return v is None or (isinstance(v, str) and DATE_RE.match(v) is not None
                         and dt.date.fromisoformat(v) is not None)


def _person_or_null(v) -> bool:
    return v is None or isinstance(v, str)


def test_project_shapes(portfolio):  # noqa: C901 - a checklist of the SPEC's shapes
    for p in portfolio["projects"]:
        assert isinstance(p["name"], str) and p["name"]
        assert p["status"] in {"proposed", "active", "on_hold", "completed", "cancelled"}
        assert p["phase"] in {"initiation", "planning", "execution", "closing"}
        assert p["health"] in {"green", "amber", "red"}
        assert isinstance(p["priority"], int) and 1 <= p["priority"] <= 5
        assert p["methodology"] in {"waterfall", "agile", "hybrid", "PRINCE2"}
        assert p["program"] is None or p["program"].startswith("PGM-")
        assert _person_or_null(p["sponsor"]) and _person_or_null(p["manager"])
        for key in ("start_date", "planned_end", "forecast_end", "last_status_update"):
            assert _date_or_null(p[key]), (p["id"], key)
        budget = p["budget"]
        for key in ("approved", "actual_cost", "planned_value", "earned_value"):
            assert _is_money(budget[key]) and budget[key] >= 0, (p["id"], key, budget[key])
        assert budget["currency"] in {"EUR", "USD", "GBP"}
        for r in p["risks"]:
            assert re.fullmatch(r"R-\d+", r["id"]) and isinstance(r["title"], str)
            assert r["probability"] is None or _is_fraction(r["probability"])
            assert r["impact"] is None or _is_money(r["impact"])
            assert r["status"] in {"open", "closed"}
            assert _person_or_null(r["owner"])
            assert r["mitigation"] is None or isinstance(r["mitigation"], str)
        for m in p["milestones"]:
            assert isinstance(m["name"], str)
            assert all(_date_or_null(m[k]) for k in ("baseline", "due", "completed"))
        for g in p["gates"]:
            assert isinstance(g["name"], str) and isinstance(g["required"], bool)
            assert g["approved_by"] is None or isinstance(g["approved_by"], str)
            assert _date_or_null(g["approved_on"])
        for a in p["assignments"]:
            assert isinstance(a["person"], str) and isinstance(a["role"], str)
            assert _is_fraction(a["allocation"]) and a["allocation"] > 0
        assert all(isinstance(t, str) for t in p["tags"])
        assert isinstance(p["custom"], dict)
        # optional parts: absent, null (records only) or well formed
        case = p.get("business_case")
        if case is not None:
            assert case["status"] in {"draft", "submitted", "approved", "rejected"}
            assert _date_or_null(case["approved_on"])
        tol = p.get("tolerances")
        if tol is not None:
            assert tol["time_days"] is None or isinstance(tol["time_days"], int)
            assert _is_fraction(tol["cost_pct"])
        for key in ("issues", "change_requests", "benefits", "dependencies", "lessons",
                    "objectives"):
            assert isinstance(p.get(key, []), list), (p["id"], key)  # never null
        for i in p.get("issues", []):
            assert i["priority"] in {"low", "medium", "high", "critical"}
            assert i["status"] in {"open", "closed"}
            assert all(_date_or_null(i[k]) for k in ("opened", "due", "escalated_on"))
        for c in p.get("change_requests", []):
            assert c["status"] in {"submitted", "approved", "rejected", "implemented"}
            assert c["cost_impact"] is None or _is_money(c["cost_impact"])
            assert all(_date_or_null(c[k]) for k in ("approved_on", "implemented_on"))
        for d in p.get("dependencies", []):
            assert d["project"].startswith("PRJ-") and _date_or_null(d["needed_by"])
        for lesson in p.get("lessons", []):
            assert isinstance(lesson["title"], str) and _date_or_null(lesson["recorded_on"])
        assert all(re.fullmatch(r"OBJ-\d+", o) for o in p.get("objectives", []))


def test_people_and_program_shapes(portfolio):
    for person in portfolio["people"]:
        assert isinstance(person["name"], str)
        assert _is_fraction(person["capacity"])
        assert person["cost_rate"] is None or isinstance(person["cost_rate"], int)
        assert isinstance(person["active"], bool)
    for program in portfolio["programs"]:
        assert isinstance(program["name"], str) and isinstance(program["budget_cap"], int)


def test_records_validate_against_the_engine_models(portfolio):
    models = pytest.importorskip("pmo_rules.schema.models")
    for p in portfolio["projects"]:
        models.Project.model_validate(p)
    for person in portfolio["people"]:
        models.Person.model_validate(person)
    for program in portfolio["programs"]:
        models.Program.model_validate(program)


def test_no_float_artefacts(tmp_path):
    text = _files(tmp_path, "f", projects=300, seed=4)["projects.jsonl"].decode("utf-8")
    # a float artefact shows as a long run of decimals, e.g. 0.30000000000000004
    assert not re.search(r"\d\.\d{3,}", text)


def test_dates_are_relative_to_as_of():
    late = generate_portfolio(40, seed=8, as_of=dt.date(2030, 6, 1))
    early = generate_portfolio(40, seed=8, as_of=dt.date(2026, 11, 26))
    shift = (dt.date(2030, 6, 1) - dt.date(2026, 11, 26)).days
    a = dt.date.fromisoformat(late["projects"][0]["start_date"])
    b = dt.date.fromisoformat(early["projects"][0]["start_date"])
    assert (a - b).days == shift
    for p in late["projects"]:
        assert dt.date.fromisoformat(p["last_status_update"]) <= dt.date(2030, 6, 1)


def _active(portfolio):
    return [p for p in portfolio["projects"] if p["status"] == "active"]


def test_mostly_realistic(portfolio):
    projects = portfolio["projects"]
    active = _active(portfolio)
    assert 0.4 < len(active) / len(projects) < 0.7
    green = sum(p["health"] == "green" for p in active)
    assert green / len(active) > 0.4
    budgets = sorted(p["budget"]["approved"] for p in projects if p["budget"]["approved"])
    assert budgets[0] >= 50_000 and budgets[-1] <= 20_000_000
    assert 200_000 < budgets[len(budgets) // 2] < 2_000_000
    with_sponsor = sum(p["sponsor"] is not None for p in active)
    assert with_sponsor / len(active) > 0.9


def test_contains_deliberate_violations_and_edge_cases():
    pf = generate_portfolio(2000, seed=1)
    projects, people, programs = pf["projects"], pf["people"], pf["programs"]
    active = [p for p in projects if p["status"] == "active"]
    ids = {p["id"] for p in projects}

    def cpi(p):
        b = p["budget"]
        return b["earned_value"] / b["actual_cost"] if b["actual_cost"] else None

    found = {
        "missing sponsor": any(p["sponsor"] is None for p in active),
        "missing manager": any(p["manager"] is None for p in active),
        "stale status": any((AS_OF - dt.date.fromisoformat(p["last_status_update"])).days > 30
                            for p in active),
        "low CPI": any((cpi(p) or 1) < 0.9 for p in active),
        "EV without AC": any(p["budget"]["earned_value"] > 0 and p["budget"]["actual_cost"] == 0
                             for p in projects),
        "zero budget": any(p["budget"]["approved"] == 0 for p in projects),
        "overdue milestone": any(m["completed"] is None and m["due"] < AS_OF.isoformat()
                                 for p in active for m in p["milestones"]),
        "unowned open risk": any(r["owner"] is None and r["status"] == "open"
                                 for p in projects for r in p["risks"]),
        "unassessed risk": any(r["probability"] is None for p in projects for r in p["risks"]),
        "unapproved gate in execution": any(
            g["required"] and g["approved_on"] is None and g["name"].startswith("G1")
            for p in projects if p["phase"] == "execution" for g in p["gates"]),
        "empty risk register": any(not p["risks"] for p in active),
        "absent optional part": any("tolerances" not in p for p in projects),
        "null optional part": any("business_case" in p and p["business_case"] is None
                                  for p in projects),
        "non-ASCII name": any(not p["name"].isascii() for p in projects),
        "very long name": any(len(p["name"]) > 200 for p in projects),
        "duplicate name": len({p["name"] for p in projects}) < len(projects),
        "dangling dependency": any(d["project"] not in ids
                                   for p in projects for d in p.get("dependencies", [])),
        "placeholder assignment": any(a["person"] == "TBD"
                                      for p in projects for a in p["assignments"]),
        "inactive person": any(not person["active"] for person in people),
    }
    assert all(found.values()), [k for k, v in found.items() if not v]

    load: dict[str, Decimal] = {}
    for p in active:
        for a in p["assignments"]:
            load[a["person"]] = load.get(a["person"], Decimal(0)) + Decimal(repr(a["allocation"]))
    capacity = {person["id"]: Decimal(repr(person["capacity"])) for person in people}
    over = [pid for pid, cap in capacity.items() if load.get(pid, 0) > cap]
    assert 0 < len(over) < 0.2 * len(people)

    totals: dict[str, int] = {}
    for p in projects:
        if p["program"] and p["status"] != "cancelled":
            totals[p["program"]] = totals.get(p["program"], 0) + p["budget"]["approved"]
    over_cap = [g for g in programs if totals.get(g["id"], 0) > g["budget_cap"]]
    assert 0 < len(over_cap) < 0.5 * len(programs)


def test_bundled_sample_is_what_make_sample_writes(tmp_path):
    """The sample stays regenerable: edit make_sample.py, never the .jsonl files by hand."""
    import importlib.util
    import pathlib

    import pmo_rules

    sample = pathlib.Path(pmo_rules.__file__).parent / "data" / "sample"
    if not (sample / "make_sample.py").exists():
        pytest.skip("sample sources not installed")
    spec = importlib.util.spec_from_file_location("make_sample", sample / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path in module.main(tmp_path):
        assert path.read_bytes() == (sample / path.name).read_bytes(), path.name
