"""Clean parses kept on disk (`parsecache.py`): what a file parses to must not change,
and nothing but a clean parse of the very same text, name and code is ever read back."""

from __future__ import annotations

import pytest

from pmo_rules import api, cachedir, parse, parsecache

GOOD = "package t\n\nrule r {\n    for p in projects\n    require p.status == \"active\"\n}\n"
BAD = "package t\n\nrule r {\n    for p in projects\n    require p.status = \"active\"\n}\n"


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv(cachedir.CACHE_ENV, str(tmp_path))
    return tmp_path / "parsed"


def _never(*args, **kwargs):
    raise AssertionError("parsed again")


def test_a_kept_parse_is_the_parse(cache, monkeypatch):
    files = api.policy_files([api.default_policies()], include_tests=True)
    parsed = [parse.parse_file(f, f.name, partial=True) for f in files]
    assert all(m is not None and not d for m, _, d in parsed)
    assert len(list(cache.iterdir())) == len(files)
    monkeypatch.setattr(parse, "parse_bytes", _never)
    assert [parse.parse_file(f, f.name, partial=True) for f in files] == parsed


def test_text_with_diagnostics_is_never_kept(cache, tmp_path):
    bad = tmp_path / "bad.pmo"
    bad.write_text(BAD, encoding="utf-8")
    first = parse.parse_file(bad, "bad.pmo", partial=True)
    assert first[2] and not cache.exists()
    assert parse.parse_file(bad, "bad.pmo", partial=True) == first


def test_another_text_name_mode_or_parser_is_another_entry(cache, tmp_path, monkeypatch):
    f = tmp_path / "good.pmo"
    f.write_text(GOOD, encoding="utf-8")
    parse.parse_file(f, "good.pmo")
    parse.parse_file(f, "other.pmo")  # spans hold the name
    parse.parse_file(f, "good.pmo", partial=True)
    f.write_text(GOOD.replace("active", "closed"), encoding="utf-8")
    module, _, _ = parse.parse_file(f, "good.pmo")
    assert "closed" in repr(module) and len(list(cache.iterdir())) == 4
    monkeypatch.setattr(parsecache, "_code_key", lambda: "another parser")
    parse.parse_file(f, "good.pmo")
    assert len(list(cache.iterdir())) == 5


def test_a_damaged_entry_is_parsed_again(cache, tmp_path, monkeypatch):
    f = tmp_path / "good.pmo"
    f.write_text(GOOD, encoding="utf-8")
    first = parse.parse_file(f, "good.pmo")
    (entry,) = cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:40])
    assert parse.parse_file(f, "good.pmo") == first
    entry.write_bytes(b"\x80\x05N.")  # a pickle of something else: None
    assert parse.parse_file(f, "good.pmo") == first


def test_nothing_is_kept_with_the_cache_off(monkeypatch, tmp_path):
    monkeypatch.setenv(cachedir.CACHE_ENV, "")
    f = tmp_path / "good.pmo"
    f.write_text(GOOD, encoding="utf-8")
    assert parse.parse_file(f, "good.pmo")[0] is not None
    assert list(tmp_path.iterdir()) == [f]


def test_past_the_limit_the_older_half_goes(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(parsecache, "KEEP", 4)
    f = tmp_path / "good.pmo"
    for n in range(5):
        f.write_text(GOOD.replace("active", f"state{n}"), encoding="utf-8")
        parse.parse_file(f, "good.pmo")
    left = list(cache.glob("*.pickle"))
    assert len(left) == 3  # five kept, then the older two removed
    assert parse.parse_file(f, "good.pmo")[0] is not None
