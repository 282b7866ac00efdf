"""Fast loading: the JSON Lines source streams, and the loader's fast path gives exactly
what the general way gives (pydantic, then `_finish`, then `_out_of_bounds`).

Every comparison here is strict: records are compared with their types and Decimal
exponents (`1.0` is not `1`), rejections with file, record number, id, field and message.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import random
import re
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pmo_rules_builtins.sources import json_source, jsonl_source
from pmo_rules_builtins.sources.json_source import loads, too_deep
from pydantic import Field, TypeAdapter, ValidationError

import pmo_rules
from pmo_rules import api, gcpause, load
from pmo_rules.errors import DataError, PluginError
from pmo_rules.generate import generate_portfolio, write_portfolio
from pmo_rules.registry import BadRecord, SourceSpec
from pmo_rules.schema import runtime
from pmo_rules.schema.models import COLLECTION_MODELS, Money, Record
from pmo_rules.snapshot import Snapshot

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"


def exact(value):
    """`value` with every type and Decimal exponent spelled out, dict order aside."""
    if isinstance(value, dict):
        return ("dict", sorted(((repr(k), exact(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", [exact(v) for v in value])
    return (type(value).__name__, repr(value))


def rejections(result: load.LoadResult) -> list[tuple]:
    return [(r.file, r.record, r.id, r.field, r.message) for r in result.rejected]


def load_inline(data: dict[str, list], *, fast: bool) -> load.LoadResult:
    """Load inline records through the fast path or only the general way."""
    result = load.LoadResult(Snapshot())
    loader = runtime.Loader(load.NUMBER_EXPONENTS, load.MAX_DATA_DEPTH, fast=fast)
    load.add_collections(result, {c: {} for c in load.COLLECTIONS}, data, "<data>", None, loader)
    return result


def assert_same_load(data: dict[str, list]) -> load.LoadResult:
    given = copy.deepcopy(data)
    fast = load_inline(data, fast=True)
    assert exact(data) == exact(given), "the fast path changed the raw records"
    general = load_inline(copy.deepcopy(data), fast=False)
    assert rejections(fast) == rejections(general)
    for coll in load.COLLECTIONS:
        assert exact(getattr(fast.snapshot, coll)) == exact(getattr(general.snapshot, coll)), coll
    return fast


# ------------------------------------------------------- the fast path is exact --

@pytest.fixture(scope="module")
def portfolio() -> dict[str, list]:
    data = generate_portfolio(300, seed=3)
    # Through JSON, as files give them: numbers are Decimal or int.
    return {k: [loads(json.dumps(r)) for r in v] for k, v in data.items()}


def test_generated_records_take_the_fast_path_and_load_exactly(portfolio, monkeypatch):
    loader = load.new_loader()
    for coll, records in portfolio.items():
        for raw in records:
            _, checked = loader.validate(COLLECTION_MODELS[coll], raw)
            assert checked, (coll, raw.get("id"))
    general = []
    monkeypatch.setattr(runtime, "validate", lambda model, raw: general.append(raw) or 1 / 0)
    load_inline(portfolio, fast=True)
    assert general == []
    monkeypatch.undo()
    loaded = assert_same_load(portfolio)
    assert loaded.rejected == [] and len(loaded.snapshot.projects) == 300


def test_equal_values_are_shared_between_records(portfolio):
    projects = load_inline(portfolio, fast=True).snapshot.projects
    seen: dict[object, object] = {}
    shared = 0
    for p in projects:
        for risk in p["risks"]:
            for v in (risk["status"], risk["owner"], risk["title"]):
                if v is not None:
                    first = seen.setdefault(v, v)
                    assert first is v
                    shared += 1
        for m in p["milestones"]:
            if m["baseline"] is not None:
                assert seen.setdefault(m["baseline"], m["baseline"]) is m["baseline"]
    assert shared > 300


FUZZ_VALUES = [
    None, "", "x", "active", "Active", "caf\u00e9", "\ud800", "a\udfffb", 0, 1, -1, 5, 6, 10**30, 10**5000 // 10**4990,
    True, False, 1.5, float("nan"), float("inf"), Decimal("0.1000000000000000000001"), Decimal("1.0"), Decimal("1"),
    Decimal("1E+2"), Decimal("-0"), Decimal("-0.0"), Decimal("1E+400"), Decimal("-1E+28"), Decimal("9.99E+27"),
    Decimal("1E-28"), Decimal("1E-29"), Decimal("0E-2000"), Decimal("0E-500"), Decimal("NaN"), Decimal("-Infinity"),
    "2026-02-28", "2024-02-29", "2023-02-29", "2026-1-5", "2026-01-05T00:00:00", "20260105", "0000-01-01",
    "0001-01-01", "9999-12-31", "2026-13-01", "\uff12\uff10\uff12\uff16-01-05", " 2026-01-05", "1e400", "12",
    dt.date(2026, 3, 4), dt.datetime(2026, 3, 4, 5, 6), [], [1, "x"], ["a", "b"], ["a", None], {}, {"a": 1},
    {"k": "v", "n": 2}, {"\ud800": 1}, {1: "int key"}, {"deep": json.loads('{"a": ' * 120 + "1" + "}" * 120)},
    ("tu", "ple"), {"x": [{"y": Decimal("1E+99")}]}, {"t": "x" * 150}, "y" * 150,
]


def _like(value, rng: random.Random):
    """A hostile value of the same kind as `value`, or any hostile value."""
    kinds = [v for v in FUZZ_VALUES if type(v) is type(value)] if rng.random() < 0.6 else FUZZ_VALUES
    return copy.deepcopy(rng.choice(kinds or FUZZ_VALUES))


def _mutate(record: dict, rng: random.Random) -> dict:
    record = copy.deepcopy(record)
    for _ in range(rng.randint(1, 3)):
        # A random place: the record, a child record, or a value inside one.
        node = record
        for _ in range(rng.randint(0, 3)):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            k = rng.choice(keys)
            if not isinstance(node[k], (dict, list)) or not node[k]:
                break
            node = node[k]
        if isinstance(node, list):
            if node:
                i = rng.randrange(len(node))
                node[i] = _like(node[i], rng)
            continue
        what = rng.random()
        if what < 0.15 and node:
            del node[rng.choice(list(node))]
        elif what < 0.3:
            node[rng.choice(["extra", "x-\u00e9", "k\udc00", "Custom", "role"])] = copy.deepcopy(rng.choice(FUZZ_VALUES))
        elif node:
            k = rng.choice(list(node))
            node[k] = _like(node[k], rng)
    return record


@pytest.mark.parametrize("seed", range(4))
def test_hostile_records_load_exactly_as_the_general_way_says(portfolio, seed):
    rng = random.Random(seed)
    data = {coll: [_mutate(rng.choice(records), rng) for _ in range(250)] for coll, records in portfolio.items()}
    loaded = assert_same_load(data)
    assert loaded.rejected and loaded.snapshot.projects  # the mutations hit both ways


def test_a_record_nested_at_the_limit_and_past_it(portfolio):
    def nest(depth):
        return json.loads('{"a": ' * depth + "1" + "}" * depth)

    base = portfolio["projects"][0]
    records = [dict(base, id=f"P-{d}", custom={"x": nest(d)}) for d in (96, 97, 98, 99, 100, 150, 300)]
    records += [dict(base, id=f"Q-{d}", extra=nest(d)) for d in (97, 98, 99, 100)]
    loaded = assert_same_load({"projects": records})
    assert {r.id for r in loaded.rejected} == {"P-99", "P-100", "P-150", "P-300", "Q-100"}


class Part(Record):
    label: str = "none"
    when: dt.date
    ok: bool = False


class Thing(Record):
    id: str
    kind: Literal["a", "b"] = "a"
    count: int | None = None
    amount: Money
    due: dt.date
    parts: list[Part] = Field(default_factory=list)
    main: Part | None = None
    notes: dict[str, Any] = Field(default_factory=dict)
    anything: Any = None
    tags: list[str] = Field(default_factory=list)


class Odd(Record):
    id: str
    code: Annotated[str, Field(max_length=3)] | None = None


# Per field: (values pydantic takes, values it refuses or the fast path leaves alone).
THING_VALUES = {
    "id": (["T", ""], [None, 5, "\ud800"]),
    "kind": (["a", "b"], ["c", None, 1]),
    "count": ([0, -3, None], [10**40, True, 1.0, "2", Decimal("2")]),
    "amount": ([Decimal("1.5"), 7, Decimal("-0.0")], [None, "7", Decimal("NaN"), Decimal("1E+30"), 2.5, False]),
    "due": (["2026-01-05", dt.date(2026, 1, 5)], ["2026-1-05", None, 20260105, "2026-01-05T00:00:00"]),
    "notes": ([{}, {"a": "b"}, {"a": 1.5}, {"a": [1, {"b": "c"}]}, {"k": None}],
              [{"a": [1, {"b": "\ud800"}]}, None, [], {5: "x"}]),
    "anything": ([None, "x", 1, 1.25, [1, "2"], True, dt.date(2026, 1, 1)], [{"a": {"b": Decimal("1E-40")}}]),
    "tags": ([[], ["a", "b"]], [["a", None], None, "a", ["\udc00"], [1]]),
}
PART_VALUES = {"label": (["x", "y"], [None, 3]), "when": (["2026-02-03"], [None, "2026-02-30"]),
               "ok": ([True, False], [None, 1, "yes"])}


def _pick(choices: tuple[list, list], rng: random.Random):
    good, bad = choices
    return copy.deepcopy(rng.choice(good if rng.random() < 0.93 else bad))


def _raw_part(rng: random.Random):
    if rng.random() < 0.05:
        return rng.choice([None, "part", [], {"when": "2026-01-01", "zz": "\ud800"}])
    return {k: _pick(v, rng) for k, v in PART_VALUES.items() if rng.random() < 0.9}


def _outcome(model, raw, fast: bool):
    rejected: list = []
    loader = runtime.Loader(load.NUMBER_EXPONENTS, load.MAX_DATA_DEPTH, fast=fast)
    rec = load.validate_record(model, raw, "f", 1, rejected, loader=loader)
    return exact(rec), [(r.field, r.message, r.id) for r in rejected]


def test_every_kind_of_field_is_taken_exactly_or_left_to_the_general_way():
    assert runtime._compiled(Thing, load.MAX_DATA_DEPTH) is not None
    assert runtime._compiled(Odd, load.MAX_DATA_DEPTH) is None  # a constraint it does not know
    rng = random.Random(7)
    taken = fast_taken = 0
    for _ in range(3000):
        raw = {k: _pick(v, rng) for k, v in THING_VALUES.items() if rng.random() < 0.9}
        if rng.random() < 0.7:
            raw["parts"] = [_raw_part(rng) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.5:
            raw["main"] = _raw_part(rng)
        if rng.random() < 0.2:
            raw[rng.choice(["more", "x\udc00", "kind2"])] = _pick(THING_VALUES["anything"], rng)
        given = copy.deepcopy(raw)
        fast = _outcome(Thing, raw, True)
        assert exact(raw) == exact(given)
        assert fast == _outcome(Thing, raw, False), raw
        taken += fast[0] != exact(None)
        try:
            fast_taken += load.new_loader().validate(Thing, raw)[1]
        except ValidationError:
            pass
    assert taken > 500 and fast_taken > 300, (taken, fast_taken)
    assert _outcome(Odd, {"id": "O", "code": "abcd"}, True) == _outcome(Odd, {"id": "O", "code": "abcd"}, False)


def test_the_fast_dates_are_pydantics_dates():
    texts = [f"{y:04d}-{m:02d}-{d:02d}" for y in (1, 4, 100, 1900, 1999, 2000, 2024, 2100, 9999)
             for m in range(0, 14) for d in (0, 1, 28, 29, 30, 31, 32)]
    adapter = TypeAdapter(dt.date)
    dates = runtime._Dates()
    for text in texts + ["2026-01-05 ", "2026/01/05", "+2026-01-05", "2026-01-5", "２０２６-01-05"]:
        try:
            fast = dates[text]
        except runtime._GiveUp:
            continue
        assert adapter.validate_python(text) == fast and type(fast) is dt.date, text


def test_the_hostile_corpus_loads_the_same_either_way(monkeypatch):
    session = api.Session.create()
    folders = sorted(p for p in HOSTILE.iterdir() if p.is_dir() and p.name not in ("latin1-json", "empty-json", "number"))
    fast = [api.load_data([f], session) for f in folders]
    monkeypatch.setattr(load, "new_loader", lambda: runtime.Loader(load.NUMBER_EXPONENTS, load.MAX_DATA_DEPTH,
                                                                    fast=False))
    general = [api.load_data([f], session) for f in folders]
    assert any(r.rejected for r in fast)
    for f, a, b in zip(folders, fast, general):
        assert rejections(a) == rejections(b), f.name
        for coll in load.COLLECTIONS:
            assert exact(getattr(a.snapshot, coll)) == exact(getattr(b.snapshot, coll)), (f.name, coll)


def test_numbers_stay_exact_and_equal_number_text_is_one_decimal(tmp_path):
    lines = [f'{{"id": "P-{i}", "budget": {{"approved": {n}}}, "custom": {{"n": {n}}}}}'
             for i, n in enumerate(["0.1000000000000000000001", "1.0", "1", "1E2", "-0.0", "-0", "0.5", "0.5"])]
    (tmp_path / "projects.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    projects = api.load_data([tmp_path], api.Session.create()).snapshot.projects
    got = [repr(p["budget"]["approved"]) for p in projects]
    assert got == ["Decimal('0.1000000000000000000001')", "Decimal('1.0')", "Decimal('1')", "Decimal('1E+2')",
                   "Decimal('-0.0')", "Decimal('0')", "Decimal('0.5')", "Decimal('0.5')"]
    assert [repr(p["custom"]["n"]) for p in projects] == got
    assert projects[6]["budget"]["approved"] is projects[7]["budget"]["approved"]


# --------------------------------------------------- JSON Lines, read as always --

def old_jsonl(path: Path) -> list:
    """The JSON Lines source as it was: all of it read as text, or, when the file is not all
    UTF-8, line by line from bytes."""

    def record(line):
        try:
            return loads(line)
        except (json.JSONDecodeError, ValueError) as exc:
            return BadRecord(f"invalid JSON: {exc}")
        except RecursionError:
            return too_deep(line)

    def as_text():
        with path.open(encoding="utf-8-sig") as fh:
            for line in fh:
                if line.strip():
                    yield record(line)

    def checked():
        lineno = 0
        with path.open("rb") as fh:
            for chunk in fh:
                pieces = re.split(rb"\r\n?|\n", chunk)
                if pieces and pieces[-1] == b"":
                    pieces.pop()
                for raw in pieces:
                    lineno += 1
                    if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                        raw = raw[3:]
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        col = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
                        yield BadRecord(f"line {lineno} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                                        f" {col}); save the file as UTF-8")
                        continue
                    if line.strip():
                        yield record(line)

    try:
        return list(as_text())
    except UnicodeDecodeError:
        return list(checked())


LINES = [
    b'{"id": "A", "n": 1.50, "m": 1E2, "z": -0.0, "i": -0}',
    b'  {"id": "B"}  ', b"\t", b"", b" \x0b ", b"\xc2\xa0", b'{"id": "C"}\xc2\xa0', b'{"id": "D"} x',
    b'{"id": "E", "x": NaN, "y": -Infinity}', b'{"id": "F", "s": "\\ud800"}', b'{"id": "G", "id": "H"}',
    b'{"id": "I", "cut', b"[1, 2]", b"7", b'"text"', b"\xef\xbb\xbf" + b'{"id": "J"}', b"{" * 3000 + b"}" * 3000,
    b'{"id": "K", "big": ' + b"9" * 5000 + b"}", b'{"id": "L", "t": "a\tb"}', b'{"id": "M"}{"id": "N"}',
    b'{"id": "\xc3\xa9"}', b'{"id": "O", "deep": ' + b"[" * 2000 + b"]" * 2000 + b"}",
]


@pytest.mark.parametrize("seed", range(12))
def test_jsonl_reads_every_line_as_before(tmp_path, seed):
    rng = random.Random(seed)
    lines = [rng.choice(LINES) for _ in range(rng.randint(1, 14))]
    ends = [rng.choice([b"\n", b"\r\n", b"\r", b"\n", b"\n"]) for _ in lines]
    data = (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + b"".join(a + b for a, b in zip(lines, ends))
    if rng.random() < 0.5:
        data = data[: -len(ends[-1])]  # no line end at the end
    for name, body in (("utf8", data), ("latin1", data + b"Caf\xe9\n" + data)):
        path = tmp_path / name / "projects.jsonl"
        path.parent.mkdir()
        path.write_bytes(body)
        got = jsonl_source.load(path)["projects"]
        assert isinstance(got, Iterator)
        assert exact(list(got)) == exact(old_jsonl(path)), name


@pytest.mark.parametrize("folder", ["records", "crlf", "latin1", "empty"])
def test_jsonl_reads_the_hostile_corpus_as_before(folder):
    for path in sorted((HOSTILE / folder).glob("*.jsonl")):
        assert exact(list(jsonl_source.load(path)[path.stem])) == exact(old_jsonl(path)), path.name


def test_jsonl_of_a_generated_portfolio_reads_as_before(tmp_path):
    for path in write_portfolio(generate_portfolio(200, seed=9), tmp_path):
        assert exact(list(jsonl_source.load(path)[path.stem])) == exact(old_jsonl(path))


def test_a_json_file_hands_its_records_over_one_by_one(tmp_path):
    path = tmp_path / "projects.json"
    path.write_text(json.dumps({"projects": [{"id": "P-1", "n": 0.5}, {"id": "P-2"}], "people": {"id": "U-1"}}),
                    encoding="utf-8")
    got = json_source.load(path)
    assert all(isinstance(v, Iterator) for v in got.values())
    assert exact({k: list(v) for k, v in got.items()}) == exact(
        {"projects": [{"id": "P-1", "n": Decimal("0.5")}, {"id": "P-2"}], "people": [{"id": "U-1"}]})


# ----------------------------------------------------------------- streaming --

def test_loading_streams_instead_of_holding_every_raw_record(tmp_path):
    """The peak while loading stays near what the loaded snapshot holds: raw records are
    let go of as they are validated (it was more than twice as much)."""
    write_portfolio(generate_portfolio(1500, seed=2), tmp_path)
    session = api.Session.create()
    api.load_data([tmp_path], session)  # warm up (compiled fast paths, imports)
    tracemalloc.start()
    try:
        loaded = api.load_data([tmp_path], session)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(loaded.snapshot.projects) == 1500
    assert peak < 1.25 * held, (held, peak)


def plugin_session(load_fn) -> api.Session:
    class Stream:
        @pmo_rules.hookimpl
        def pmo_rules_sources(self, register):
            register(SourceSpec("stream", (".stream",), load_fn, "a streaming source"))

    return api.Session.create(entry_points="builtin", extra=(("stream_plugin", Stream()),))


def test_a_source_may_return_an_iterator_and_it_is_read_as_validated(tmp_path):
    (tmp_path / "projects.stream").write_text("x", encoding="utf-8")
    seen: list[int] = []

    def records():
        for i in range(1, 4):
            seen.append(i)
            yield {"id": f"P-{i}"} if i != 2 else BadRecord("unreadable")

    def load_fn(path):
        seen.clear()
        return {"projects": records(), "people": iter([{"id": "U-1"}])}

    loaded = api.load_data([tmp_path], plugin_session(load_fn))
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1", "P-3"]
    assert [p["id"] for p in loaded.snapshot.people] == ["U-1"]
    assert [(r.record, r.message) for r in loaded.rejected] == [(2, "unreadable")]
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("exc,kind,words", [
    (OSError("disk on fire"), DataError, "cannot be read as stream: disk on fire"),
    (RecursionError("deep"), DataError, "it nests too deeply"),
    (RuntimeError("boom"), PluginError, "RuntimeError: boom"),
])
def test_an_iterator_failing_halfway_is_reported_as_the_source_failing(tmp_path, exc, kind, words):
    (tmp_path / "projects.stream").write_text("x", encoding="utf-8")

    def records():
        yield {"id": "P-1"}
        raise exc

    with pytest.raises(kind) as info:
        api.load_data([tmp_path], plugin_session(lambda path: {"projects": records()}))
    assert words in str(info.value) and "projects.stream" in str(info.value)


def test_a_big_load_is_frozen_out_of_the_cyclic_collectors_reach(tmp_path, monkeypatch):
    write_portfolio(generate_portfolio(20, seed=1), tmp_path)
    monkeypatch.setattr(gcpause, "FREEZE_OBJECTS", 10)
    before = gc.get_freeze_count()
    try:
        loaded = api.load_data([tmp_path], api.Session.create())
        assert gc.get_freeze_count() > before
        assert len(loaded.snapshot.projects) == 20
    finally:
        gc.unfreeze()
