"""Hardening: faults in plugins that can be tested without touching the evaluators. A source
plugin that raises or returns garbage is named and the error says what was wrong; a bad
record among good ones is quarantined. (Plugin hangs and evaluation time limits are tested
with the evaluators.)
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import pmo_rules
from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.errors import DataError, PluginError
from pmo_rules.registry import SourceSpec

AS_OF = "2026-11-26"
POLICY = "package h\n\nrule r {\n    for project in projects\n    require project.name is present\n}\n"


def source_plugin(result):
    """A plugin with a source for `.evil` files whose `load` returns `result()` (or raises)."""

    def load(path):
        return result()

    class EvilSource:
        @pmo_rules.hookimpl
        def pmo_rules_sources(self, register):
            register(SourceSpec("evil", (".evil",), load, "a source that misbehaves"))

    return EvilSource()


def session_with(result) -> api.Session:
    return api.Session.create(entry_points="builtin", extra=(("evil_plugin", source_plugin(result)),))


def _raise(exc):
    def f():
        raise exc

    return f


@pytest.fixture
def evil_file(tmp_path):
    path = tmp_path / "projects.evil"
    path.write_text("whatever", encoding="utf-8")
    return path


@pytest.mark.parametrize("exc,words", [
    (RuntimeError("boom"), "RuntimeError: boom"),
    (KeyError("projects"), "KeyError: 'projects'"),
    (ZeroDivisionError("division by zero"), "ZeroDivisionError"),
    (AttributeError("'NoneType' object has no attribute 'x'"), "AttributeError"),
])
def test_a_source_that_raises_is_named_with_its_error(evil_file, exc, words):
    with pytest.raises(PluginError) as info:
        api.load_data([evil_file], session_with(_raise(exc)))
    msg = str(info.value)
    assert info.value.plugin == "evil_plugin"
    assert msg.startswith("plugin `evil_plugin`") and "source `evil`" in msg and str(evil_file) in msg
    assert words in msg


@pytest.mark.parametrize("exc", [ValueError("bad header"), OSError("disk on fire"), RecursionError("deep")])
def test_a_source_saying_the_file_is_unreadable_is_a_data_error_naming_file_and_source(evil_file, exc):
    with pytest.raises(DataError) as info:
        api.load_data([evil_file], session_with(_raise(exc)))
    assert str(evil_file) in str(info.value) and "as evil" in str(info.value)


@pytest.mark.parametrize("garbage,words", [
    (None, "returned a NoneType"),
    ([{"id": "P-1"}], "returned a list"),
    ("projects", "returned a str"),
    ({"projects": 5}, "collection `projects`"),
    ({"projects": "P-1,P-2"}, "collection `projects`"),
    ({"projects": None}, "collection `projects`"),
    ({"projects": {"id": "P-1"}}, "collection `projects`"),
    ({"people": [], 5: []}, "a int key (5)"),
])
def test_a_source_returning_garbage_is_named_and_says_what_it_returned(evil_file, garbage, words):
    with pytest.raises(PluginError) as info:
        api.load_data([evil_file], session_with(lambda: garbage))
    msg = str(info.value)
    assert msg.startswith("plugin `evil_plugin`: source `evil`"), msg
    assert words in msg and str(evil_file) in msg
    if isinstance(garbage, dict):
        assert "not a list of records" in msg
    else:
        assert "not a dict of collections" in msg


def test_garbage_records_from_a_source_are_quarantined_one_by_one(evil_file):
    records = [{"id": "P-1", "name": "ok"}, None, 7, "P-3", ["P-4"], {"id": None}, {"id": "P-6", "priority": object()},
               {"id": "P-7", "name": "ok too"}]
    loaded = api.load_data([evil_file], session_with(lambda: {"projects": records, "people": ()}))
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1", "P-7"]
    assert [(r.record, r.field) for r in loaded.rejected] == [
        (2, "(record)"), (3, "(record)"), (4, "(record)"), (5, "(record)"), (6, "id"), (7, "priority")]


def test_an_unknown_collection_from_a_source_is_reported_not_loaded(evil_file):
    loaded = api.load_data([evil_file], session_with(lambda: {"projects": [{"id": "P-1"}], "widgets": [{"id": 1}]}))
    assert [p["id"] for p in loaded.snapshot.projects] == ["P-1"]
    assert [(r.field, r.message.split(" (")[0]) for r in loaded.rejected] == [("widgets", "unknown collection `widgets`")]


def test_the_cli_names_a_failing_source_plugin_and_exits_2(tmp_path, monkeypatch, evil_file):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "h.pmo").write_text(POLICY, encoding="utf-8")
    real_create = api.Session.create.__func__

    def create(cls, **kw):
        kw.setdefault("extra", (("evil_plugin", source_plugin(_raise(RuntimeError("boom")))),))
        return real_create(cls, **kw)

    monkeypatch.setattr(api.Session, "create", classmethod(create))
    result = CliRunner().invoke(main, ["audit", "--policies", "h.pmo", "--data", str(evil_file), "--as-of", AS_OF])
    assert result.exit_code == 2, result.output
    assert "plugin `evil_plugin`: source `evil` failed on" in result.output
    assert "RuntimeError: boom" in result.output and "Traceback" not in result.output
