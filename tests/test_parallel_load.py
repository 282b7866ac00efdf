"""A large file read by two processes loads exactly as one process reads it.

`loadsplit` forks a child that reads the last part of a file through the source's
`load_range`. Every test compares strictly with the serial load (`PMO_RULES_LOAD_WORKERS=1`):
records with their types and Decimal exponents, rejections with file, record number, id,
field and message, in order. `PARALLEL_BYTES` is lowered so that small files split,
`CHILD_SHARE` moves the split point around, and `BLOCK` is lowered so that the child
claims its part in many blocks, some of which the parent takes back.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmo_rules_builtins.sources import jsonl_source
from test_load_speed import LINES, exact, rejections

import pmo_rules
from pmo_rules import api, load, loadsplit
from pmo_rules.errors import DataError, PluginError
from pmo_rules.generate import generate_portfolio, write_portfolio
from pmo_rules.registry import SourceSpec

pytestmark = pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(),
                                reason="the split load forks")


@pytest.fixture(scope="module")
def session() -> api.Session:
    return api.Session.create(entry_points="builtin")


def summary(result: load.LoadResult) -> tuple:
    return (exact([getattr(result.snapshot, c) for c in load.COLLECTIONS]), rejections(result),
            result.records, result.files)


class Spy:
    """How many files were split, and how many of their children's records came back."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.splits = 0
        self.received = 0
        self.taken_back = 0  # blocks the parents read back from the end of their children's parts
        self.files: dict[str, tuple[bool, int]] = {}  # file name -> (child's part received, blocks taken back)
        close = loadsplit.Split.close

        def spying_close(split: loadsplit.Split) -> None:
            self.splits += 1
            self.received += split.parts is not None
            self.taken_back += len(split.taken)
            self.files[split.file.name] = (split.parts is not None, len(split.taken))
            close(split)

        monkeypatch.setattr(loadsplit.Split, "close", spying_close)


def serial(paths: list[Path], session: api.Session, monkeypatch: pytest.MonkeyPatch) -> load.LoadResult:
    with monkeypatch.context() as m:
        m.setenv(loadsplit.WORKERS_ENV, "1")
        return api.load_data(paths, session)


def split(paths: list[Path], session: api.Session, monkeypatch: pytest.MonkeyPatch, share: float = 0.45,
          block: int = 1000) -> tuple[load.LoadResult, Spy]:
    with monkeypatch.context() as m:
        m.setenv(loadsplit.WORKERS_ENV, "2")
        m.setattr(loadsplit, "PARALLEL_BYTES", 0)
        m.setattr(loadsplit, "CHILD_SHARE", share)
        m.setattr(loadsplit, "BLOCK", block)
        spy = Spy(m)
        return api.load_data(paths, session), spy


def assert_same(paths: list[Path], session: api.Session, monkeypatch: pytest.MonkeyPatch,
                share: float = 0.45, block: int = 1000) -> tuple[load.LoadResult, Spy]:
    expected = serial(paths, session, monkeypatch)
    got, spy = split(paths, session, monkeypatch, share, block)
    assert summary(got) == summary(expected)
    assert spy.splits > 0
    return got, spy


# ------------------------------------------------------------- the source's ranges --

def ranged(path: Path, k: int) -> list:
    size = path.stat().st_size
    return [*jsonl_source.load_range(path, 0, k)[path.stem], *jsonl_source.load_range(path, k, size)[path.stem]]


def hostile_bytes(rng: random.Random, n: int) -> bytes:
    lines = [rng.choice(LINES + [b'{"id": "X"}', b"not json", b"\xff\xfe", b"   "]) for _ in range(n)]
    ends = [rng.choice([b"\n", b"\r\n", b"\r", b"\n", b"\n"]) for _ in lines]
    data = (b"\xef\xbb\xbf" if rng.random() < 0.3 else b"") + b"".join(a + b for a, b in zip(lines, ends))
    if rng.random() < 0.5:
        data = data[: -len(ends[-1])]  # no line end at the end
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(1, 14), where=st.lists(st.floats(0, 1), min_size=1, max_size=6))
def test_two_ranges_read_what_the_whole_file_reads(tmp_path_factory, seed, n, where):
    rng = random.Random(seed)
    path = tmp_path_factory.mktemp("ranges") / "projects.jsonl"
    data = hostile_bytes(rng, n)
    for body in (data, data + b"Caf\xe9\n" + data):  # all UTF-8, or not
        path.write_bytes(body)
        whole = exact(list(jsonl_source.load(path)["projects"]))
        for k in {0, 1, len(body) - 1, len(body), *(int(w * len(body)) for w in where)}:
            assert exact(ranged(path, max(k, 0))) == whole, k


def test_every_split_point_of_a_small_file_reads_the_same(tmp_path):
    path = tmp_path / "projects.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "A"}\r\n\r\n{"id": \xff}\r{"id": "B"}\n\xc3(\n  \n{"id": "C"')
    whole = exact(list(jsonl_source.load(path)["projects"]))
    assert "line 3 is not UTF-8" in str(whole) and "line 5 is not UTF-8" in str(whole)
    for k in range(path.stat().st_size + 2):
        assert exact(ranged(path, k)) == whole, k


def test_a_range_bound_moves_on_past_the_line_it_falls_in(tmp_path):
    path = tmp_path / "projects.jsonl"
    path.write_bytes(b'{"id": "A"}\n{"id": "' + b"B" * 5000 + b'"}\n{"id": "C"}\n')
    first = list(jsonl_source.load_range(path, 0, 20)["projects"])
    assert [r["id"][:1] for r in first] == ["A", "B"]
    assert [r["id"] for r in jsonl_source.load_range(path, 20, 10**6)["projects"]] == ["C"]


def test_lines_are_counted_from_the_start_of_the_file_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl_source, "_READ", 4)  # the first CRLF across two blocks
    path = tmp_path / "projects.jsonl"
    path.write_bytes(b'{"id": "A"}\r\n' * 5 + b'{"id": "B"}\r' * 3 + b"\xff\n")
    (bad,) = [r for r in ranged(path, 60) if not isinstance(r, dict)]
    assert bad.message.startswith("line 9 is not UTF-8")


# ---------------------------------------------------------- the same load result --

@pytest.mark.parametrize("share", [0.01, 0.3, 0.45, 0.7, 0.99])
def test_a_generated_portfolio_loads_the_same(tmp_path, session, monkeypatch, share):
    write_portfolio(generate_portfolio(300, seed=5), tmp_path)
    got, spy = assert_same([tmp_path], session, monkeypatch, share)
    assert spy.splits == spy.received == 3
    assert len(got.snapshot.projects) == 300


BAD_LINES = [
    '{"id": "P-1", "name": "one", "budget": {"approved": 10.50}, "start_date": "2026-01-05"}',
    '{"id": "P-2", "status": "no such status"}',
    '{"id": 7}',
    '{"name": "no id"}',
    '{"id": "P-1", "name": "the first one again"}',
    '{"id": "P-3", "cut',
    "[1, 2]",
    "",
    "   ",
    '{"id": "P-4", "risks": [{"id": "R-1", "probability": 7}]}',
    '{"id": "P-5", "budget": {"approved": 1E+400}}',
    '{"id": "P-6", "custom": {"x": "\\ud800"}}',
    '{"id": "P-7", "start_date": "2026-1-5"}',
    '{"id": "P-8", "name": "' + "long " * 2000 + '"}',
]


def bad_file(rng: random.Random, n: int) -> bytes:
    """Lines of every kind, some ids repeated, some lines not UTF-8, mixed line ends."""
    out = [b"\xef\xbb\xbf"] if rng.random() < 0.5 else []
    for k in range(n):
        line = rng.choice(BAD_LINES).replace('"P-', f'"P-{rng.randrange(n // 2 + 1)}-').encode()
        if rng.random() < 0.05:
            line = line[:5] + b"\xe9" + line[5:]
        out.append(line + rng.choice([b"\n", b"\r\n", b"\r", b"\n"]) if k < n - 1 or rng.random() < 0.5 else line)
    return b"".join(out)


@pytest.mark.parametrize("seed", range(6))
def test_bad_lines_and_repeated_ids_on_both_sides_load_the_same(tmp_path, session, monkeypatch, seed):
    rng = random.Random(seed)
    for name in ("a", "b"):  # the second file repeats ids of the first
        (tmp_path / name).mkdir()
        (tmp_path / name / "projects.jsonl").write_bytes(bad_file(rng, 120))
    for share in (0.2, 0.5, 0.8):
        got, spy = assert_same([tmp_path / "a", tmp_path / "b"], session, monkeypatch, share)
        assert spy.received == 2
    messages = " ".join(r.message for r in got.rejected)
    assert "duplicate id" in messages and "invalid JSON" in messages and "is not UTF-8" in messages


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), n=st.integers(0, 40), share=st.floats(0, 1))
def test_any_file_split_anywhere_loads_the_same(tmp_path_factory, session, seed, n, share):
    folder = tmp_path_factory.mktemp("any")
    rng = random.Random(seed)
    (folder / "projects.jsonl").write_bytes(bad_file(rng, n) if n else b"")
    (folder / "people.jsonl").write_bytes(hostile_bytes(rng, rng.randint(1, 6)))
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert_same([folder], session, monkeypatch, share)


@pytest.mark.parametrize("body", [b"", b"\n", b'{"id": "P-1"}', b'{"id": "P-1"}\n', b"\xef\xbb\xbf\r\n",
                                  b'{"id": "P-1"}\r{"id": "P-1"}', b"\xff"])
def test_tiny_files_load_the_same(tmp_path, session, monkeypatch, body):
    (tmp_path / "projects.jsonl").write_bytes(body)
    for share in (0.0, 0.5, 1.0):
        assert_same([tmp_path], session, monkeypatch, share)


def test_a_file_of_an_unknown_collection_is_said_once(tmp_path, session, monkeypatch):
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"id": "T-1"}\n' * 50, encoding="utf-8")
    got, _ = assert_same([path], session, monkeypatch)
    assert [r.message[:20] for r in got.rejected] == ["unknown collection `"]


def test_a_schema_extension_is_checked_on_both_sides(tmp_path, monkeypatch):
    ext = tmp_path / "ext.json"
    ext.write_text(json.dumps({"projects": {"properties": {"cost_center": {"type": "string",
                                                                            "pattern": "^CC-[0-9]{4}$"}}}}))
    session = api.Session.create(entry_points="builtin", schema_extension=ext)
    lines = [json.dumps({"id": f"P-{i}", "cost_center": f"CC-{i:04d}" if i % 7 else "bad"}) for i in range(80)]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "projects.jsonl").write_text("\n".join(lines), encoding="utf-8")
    got, _ = assert_same([tmp_path / "data"], session, monkeypatch)
    assert len(got.rejected) == 12


# ------------------------------------------------------------- a child that fails --

def _exit(split):
    os._exit(3)


def _raise(split):
    raise RuntimeError("the child broke")


def _unpicklable(split):
    yield "projects", ([], [], [])  # a good message first: what came before the failure is dropped
    yield "projects", ([lambda: None], [1], [])


def _not_messages(split):
    return {"projects": []}


@pytest.mark.parametrize("failure", [_exit, _raise, _unpicklable, _not_messages])
def test_a_child_that_fails_leaves_its_part_to_the_parent(tmp_path, session, monkeypatch, capfd, failure):
    write_portfolio(generate_portfolio(60, seed=8), tmp_path)
    with (tmp_path / "projects.jsonl").open("ab") as fh:
        fh.write(b'{"id": "PRJ-000001"}\n\xff\n{"id": "X", "cut\n')
    monkeypatch.setattr(loadsplit, "_read_range", failure)
    got, spy = assert_same([tmp_path], session, monkeypatch)
    assert spy.splits == 3 and spy.received == 0
    assert len(got.rejected) == 3
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("batch", [1, 1000])
def test_a_child_killed_while_reading_leaves_its_part_to_the_parent(tmp_path, session, monkeypatch, batch):
    """With batches of 1, its first record has come when it dies: it is dropped."""
    write_portfolio(generate_portfolio(100, seed=8), tmp_path)
    validated = load.validated
    monkeypatch.setattr(loadsplit, "BATCH", batch)

    def dying(coll, records, origin, *args, **kwargs):
        for n, (i, rec) in enumerate(validated(coll, records, origin, *args, **kwargs)):
            if n == 1 and os.getpid() != parent:
                os.kill(os.getpid(), 9)
            yield i, rec

    parent = os.getpid()
    monkeypatch.setattr(load, "validated", dying)
    _, spy = assert_same([tmp_path], session, monkeypatch)
    assert spy.received == 0


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_records_sent_in_batches_load_as_one_process_reads_them(tmp_path, session, monkeypatch, batch):
    """Rejections and duplicates all over the child's range, so that batches end with
    and without them, and a rejection is the last line."""
    write_portfolio(generate_portfolio(40, seed=5), tmp_path)
    path = tmp_path / "projects.jsonl"
    lines = path.read_bytes().splitlines()
    mixed = []
    for i, line in enumerate(lines):
        mixed.append(line)
        if i % 5 == 2:
            mixed.append(b'{"id": "PRJ-000003"}' if i % 2 else b'{"id": 7}')
    path.write_bytes(b"\n".join(mixed) + b"\n\xff\n")
    monkeypatch.setattr(loadsplit, "BATCH", batch)
    got, spy = assert_same([tmp_path], session, monkeypatch, 0.6)
    assert spy.received == spy.splits == 3
    assert sum(r.record > len(mixed) * 0.4 for r in got.rejected) >= 5  # many of them in the child's range


def slow_child(monkeypatch: pytest.MonkeyPatch, seconds: float, die_after: int | None = None) -> None:
    """The child validates a record every `seconds` (and dies at record `die_after`), so
    that the parent, done with its own part, takes blocks back from the end of the child's."""
    validated = load.validated
    parent = os.getpid()
    count = [0]  # the child's records so far, over all its blocks (its own copy, after the fork)

    def slow(coll, records, origin, *args, **kwargs):
        for i, rec in validated(coll, records, origin, *args, **kwargs):
            if os.getpid() != parent and coll == "projects":
                time.sleep(seconds)
                count[0] += 1
                if count[0] == die_after:
                    os.kill(os.getpid(), 9)
            yield i, rec

    monkeypatch.setattr(load, "validated", slow)


def mixed_portfolio(tmp_path: Path, n: int = 60) -> int:
    """A portfolio with bad lines and repeated ids all over projects.jsonl; its line count."""
    write_portfolio(generate_portfolio(n, seed=11), tmp_path)
    path = tmp_path / "projects.jsonl"
    mixed = []
    for i, line in enumerate(path.read_bytes().splitlines()):
        mixed.append(line)
        if i % 4 == 1:
            mixed.append(b'{"id": "PRJ-000002"}' if i % 3 else b'{"id": 7}')
    path.write_bytes(b"\n".join(mixed) + b"\n\xff\n")
    return len(mixed) + 1


@pytest.mark.parametrize("block", [700, 3000])
def test_the_parent_takes_back_what_a_slow_child_has_not_claimed(tmp_path, session, monkeypatch, block):
    lines = mixed_portfolio(tmp_path)
    slow_child(monkeypatch, 0.004)
    got, spy = assert_same([tmp_path], session, monkeypatch, 0.8, block)
    assert spy.received == spy.splits == 3
    assert spy.files["projects.jsonl"][1] >= 2  # and the child read some blocks: it was received
    assert sum(r.record > lines * 0.6 for r in got.rejected) >= 5  # rejections in the blocks taken back


def test_a_child_that_dies_after_its_first_blocks_loses_nothing(tmp_path, session, monkeypatch):
    mixed_portfolio(tmp_path)
    slow_child(monkeypatch, 0.004, die_after=3)
    _, spy = assert_same([tmp_path], session, monkeypatch, 0.8, 700)
    received, taken_back = spy.files["projects.jsonl"]
    assert not received and taken_back >= 2


def test_records_numbered_across_the_child_s_blocks(tmp_path, session, monkeypatch):
    """Many tiny blocks: every record number, rejection and duplicate counts on over them."""
    mixed_portfolio(tmp_path, 30)
    for block in (1, 50):
        assert_same([tmp_path], session, monkeypatch, 0.7, block)


# ------------------------------------------------------------ sources and errors --

def lines_session(load_range: bool = True, only_present: bool = False) -> api.Session:
    """A source of `coll<TAB>json` lines giving two collections (or those it found),
    optionally by range."""

    def read(path: Path, start: int = 0, stop: int | None = None) -> dict[str, Iterator]:
        data = path.read_bytes()
        # A bound moves on to the next line start, as load_range requires.
        begin = 0 if start == 0 else data.find(b"\n", start - 1) + 1 or len(data)
        end = len(data) if stop is None or stop >= len(data) else data.find(b"\n", stop - 1) + 1 or len(data)
        rows = [line.split(b"\t", 1) for line in data[begin:end].splitlines() if line]
        return {coll: iter([json.loads(raw) for c, raw in rows if c.decode() == coll])
                for coll in ("projects", "people") if not only_present or any(c.decode() == coll for c, _ in rows)}

    class Lines:
        @pmo_rules.hookimpl
        def pmo_rules_sources(self, register):
            register(SourceSpec("lines", (".lines",), read, "coll<TAB>json lines",
                                load_range=read if load_range else None))

    return api.Session.create(entry_points="builtin", extra=(("lines_plugin", Lines()),))


def ranged_session(plugin: str, read) -> api.Session:
    """A session whose `.lines` files are read by `read`, whole or by range."""

    class Source:
        @pmo_rules.hookimpl
        def pmo_rules_sources(self, register):
            register(SourceSpec("lines", (".lines",), read, plugin, load_range=read))

    return api.Session.create(entry_points="builtin", extra=((plugin, Source()),))


def test_a_plugin_source_with_ranges_of_two_collections_loads_the_same(tmp_path, monkeypatch):
    rng = random.Random(4)
    rows = [f"{rng.choice(['projects', 'people'])}\t" + json.dumps({"id": f"X-{rng.randrange(40)}"})
            for _ in range(100)]
    (tmp_path / "all.lines").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for share in (0.1, 0.5, 0.9):
        got, spy = assert_same([tmp_path / "all.lines"], lines_session(), monkeypatch, share)
        assert spy.received == 1
    assert any("duplicate id" in r.message for r in got.rejected)


def test_a_source_without_ranges_is_read_whole(tmp_path, monkeypatch):
    (tmp_path / "all.lines").write_text('projects\t{"id": "P-1"}\n' * 3, encoding="utf-8")
    got, spy = split([tmp_path / "all.lines"], lines_session(load_range=False), monkeypatch)
    assert spy.splits == 0 and len(got.snapshot.projects) == 1


def test_a_small_file_or_one_worker_is_read_in_one_process(tmp_path, session, monkeypatch):
    write_portfolio(generate_portfolio(20, seed=1), tmp_path)
    spy = Spy(monkeypatch)
    api.load_data([tmp_path], session)  # below PARALLEL_BYTES
    monkeypatch.setattr(loadsplit, "PARALLEL_BYTES", 1)
    monkeypatch.setenv(loadsplit.WORKERS_ENV, "1")
    api.load_data([tmp_path], session)
    assert spy.splits == 0
    monkeypatch.setenv(loadsplit.WORKERS_ENV, "2")
    api.load_data([tmp_path], session)
    assert spy.splits == 3
    monkeypatch.delenv(loadsplit.WORKERS_ENV)  # by default, where there are two cores
    api.load_data([tmp_path], session)
    assert spy.splits == (6 if loadsplit.workers() > 1 else 3)


@pytest.mark.parametrize("exc,kind,words", [
    (OSError("disk on fire"), DataError, "cannot be read as lines: disk on fire"),
    (RuntimeError("boom"), PluginError, "RuntimeError: boom"),
])
@pytest.mark.parametrize("side", ["parent", "child"])
def test_a_source_failing_in_either_range_fails_the_load_as_before(tmp_path, monkeypatch, exc, kind, words, side):
    """The child's failure is met again by the parent reading its range."""
    (tmp_path / "all.lines").write_text("".join(f'projects\t{{"id": "P-{i}"}}\n' for i in range(40)),
                                        encoding="utf-8")

    def failing(path: Path, start: int = 0, stop: int | None = None) -> dict[str, Iterator]:
        def records():
            yield {"id": "P-x"}
            if (start == 0) == (side == "parent"):
                raise exc
        return {"projects": records()}

    session = ranged_session("failing_plugin", failing)
    with pytest.raises(kind) as info:
        split([tmp_path / "all.lines"], session, monkeypatch)
    assert words in str(info.value) and "all.lines" in str(info.value)
    assert not __import__("multiprocessing").active_children()


def test_the_first_failure_in_file_order_fails_the_load_whoever_read_it(tmp_path, monkeypatch):
    """One failure in the child's blocks, one in a block the parent takes back first: the
    load fails with the first, as the serial read does."""
    rows = [f'projects\t{{"id": "P-{i}"}}' for i in range(60)]
    rows[36] = "boom\tfirst"
    rows[54] = "boom\tsecond"
    (tmp_path / "all.lines").write_text("\n".join(rows) + "\n", encoding="utf-8")

    def read(path: Path, start: int = 0, stop: int | None = None) -> dict[str, Iterator]:
        data = path.read_bytes()
        begin = 0 if start == 0 else data.find(b"\n", start - 1) + 1 or len(data)
        end = len(data) if stop is None or stop >= len(data) else data.find(b"\n", stop - 1) + 1 or len(data)

        def records():
            for line in data[begin:end].splitlines():
                kind, raw = line.decode().split("\t", 1)
                if kind == "boom":
                    raise RuntimeError(f"boom: the {raw}")
                yield json.loads(raw)
        return {"projects": records()}

    session = ranged_session("booming_plugin", read)
    with pytest.raises(PluginError) as serial_info:
        serial([tmp_path / "all.lines"], session, monkeypatch)
    assert "boom: the first" in str(serial_info.value)
    slow_child(monkeypatch, 0.01)
    for block in (60, 200):
        with pytest.raises(PluginError) as info:
            split([tmp_path / "all.lines"], session, monkeypatch, 0.6, block)
        assert str(info.value) == str(serial_info.value)
    assert not __import__("multiprocessing").active_children()


def test_a_load_range_that_is_not_callable_is_refused():
    class Broken:
        @pmo_rules.hookimpl
        def pmo_rules_sources(self, register):
            register(SourceSpec("broken", (".broken",), lambda p: {}, load_range="yes"))

    session = api.Session.create(entry_points="builtin", extra=(("broken_plugin", Broken()),))
    assert "`load_range` must be callable" in str(session.registry.problems[0])


def test_a_range_missing_a_collection_loses_none_of_its_records(tmp_path, monkeypatch):
    """Against `load_range`'s contract (every range gives the same collections), but
    the child's collections that the parent's range did not give are still added."""
    rows = ['people\t{"id": "U-1"}'] * 30 + [f'projects\t{{"id": "P-{i}"}}' for i in range(30)]
    (tmp_path / "all.lines").write_text("\n".join(rows) + "\n", encoding="utf-8")
    session = lines_session(only_present=True)
    expected = serial([tmp_path / "all.lines"], session, monkeypatch)
    for fail in (False, True):
        if fail:
            monkeypatch.setattr(loadsplit, "_read_range", _raise)
        got, spy = split([tmp_path / "all.lines"], session, monkeypatch, 0.5)
        assert summary(got)[0] == summary(expected)[0] and got.records == expected.records
        assert spy.received == (0 if fail else 1)
