"""The built parser is kept on disk (`grammar.py`): what it parses must not change.

Each test works in its own cache folder and leaves `grammar.parser` as it found it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lark import Lark

from pmo_rules import api, cachedir, grammar
from pmo_rules.parse import parse_text
from pmo_rules.resources import bundled

GRAMMAR = (bundled("grammar") / "pmo.lark").read_text(encoding="utf-8")
BROKEN = "policy x\nrule r {\n  for p in projects where p.status = \"active\"\n  require p.\n}\n"


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """`grammar.parser()` forgotten, its cache in `tmp_path / "cache"`; restored after."""
    monkeypatch.setenv(cachedir.CACHE_ENV, str(tmp_path / "cache"))
    grammar.parser.cache_clear()
    grammar.keywords.cache_clear()
    yield tmp_path / "cache"
    grammar.parser.cache_clear()
    grammar.keywords.cache_clear()


def _parsed_library() -> list:
    texts = [f.read_text(encoding="utf-8") for f in sorted(api.policy_files([api.default_policies()],
                                                                           include_tests=True))]
    return [parse_text(t, "p.pmo", partial=True) for t in texts + [BROKEN]]


def test_a_parser_loaded_from_the_cache_parses_as_a_built_one(fresh):
    built = _parsed_library()  # built now, and stored
    words = grammar.keywords()
    stored = list(fresh.glob("grammar-*.lark"))
    assert len(stored) == 1
    grammar.parser.cache_clear()
    grammar.keywords.cache_clear()
    stored[0].write_bytes(stored[0].read_bytes())  # the same file, read back by the next parser()
    loaded = _parsed_library()
    assert loaded == built  # modules, spans and diagnostics (the broken text's among them)
    assert grammar.keywords() == words and words["REQUIRE"] == "require"
    assert any(d for _, d in built)  # the broken text gave diagnostics to compare


def test_a_damaged_cache_file_is_built_again_and_replaced(fresh):
    grammar.parser()
    (path,) = fresh.glob("grammar-*.lark")
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    grammar.parser.cache_clear()
    assert grammar.parser().parse("1 + 2", start="expr") is not None
    with path.open("rb") as fh:  # whole again (pickles of one parser may differ byte for byte)
        assert Lark.load(fh).parse("1 + 2", start="expr") is not None


def test_no_cache_folder_that_can_be_made_costs_nothing_but_time(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv(cachedir.CACHE_ENV, str(blocker / "cache"))
    assert grammar.build_parser(GRAMMAR, cachedir.cache_dir()).parse("1", start="expr") is not None
    assert list(tmp_path.iterdir()) == [blocker]


def test_the_cache_is_off_when_its_folder_is_set_empty(monkeypatch):
    monkeypatch.setenv(cachedir.CACHE_ENV, "")
    assert cachedir.cache_dir() is None
    monkeypatch.delenv(cachedir.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cachedir.cache_dir() == Path("/somewhere/pmo-rules")


def test_another_grammar_gets_another_file(tmp_path):
    grammar.build_parser(GRAMMAR, tmp_path)
    other = GRAMMAR + "\n// a comment changes the text\n"
    grammar.build_parser(other, tmp_path)
    assert len(list(tmp_path.glob("grammar-*.lark"))) == 2
    assert not list(tmp_path.glob(".grammar-*"))  # no temporary file left behind


def test_no_home_folder_means_no_cache(monkeypatch):
    monkeypatch.delenv(cachedir.CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def nowhere() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(nowhere))
    assert cachedir.cache_dir() is None
    assert grammar.build_parser(GRAMMAR, cachedir.cache_dir()).parse("1", start="expr") is not None
