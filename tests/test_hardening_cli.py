"""Hostile data and failing plugins at the command line: named, inert, never a crash.

(These cover the CLI, explain, SARIF and distance paths the other hardening tests could
not reach.)"""

from __future__ import annotations

from click.testing import CliRunner

import pmo_rules
from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.registry import FormatSpec


def test_a_huge_number_in_a_failing_comparison_is_not_a_crash():
    text = "package t\nrule r {\n    for project in projects\n    require 1" + "0" * 5000 + " < 0\n}\n"
    report = api.audit_text(text, {"projects": [{"id": "P1"}]}, "2026-11-26")
    assert [f.outcome for f in report.findings] == ["fail"]


def test_sarif_renders_a_lone_surrogate():
    s = api.Session.create()
    r = api.audit_text("package t\nrule r {\n    for project in projects\n    require false\n}\n",
                       {"projects": [{"id": "A"}]}, "2026-11-26", session=s)
    r.findings[0].subject = "S-\ud800"
    s.registry.formats["sarif"].render(r, {}).encode("utf-8")


class _EvilFormat:
    @pmo_rules.hookimpl
    def pmo_rules_formats(self, register):
        def render(report, options):
            raise RuntimeError("kaput")
        register(FormatSpec("evil", render, ".evil", "raises"))
        register(FormatSpec("garbage", lambda report, options: 42, ".g", "returns a number"))


def test_a_raising_or_garbage_format_plugin_is_named(monkeypatch):
    real = api.Session.create.__func__
    monkeypatch.setattr(api.Session, "create", classmethod(
        lambda cls, **kw: real(cls, **{"extra": (("evil_format", _EvilFormat()),), **kw})))
    for fmt, words in (("evil", "kaput"), ("garbage", "returned a int")):
        result = CliRunner().invoke(main, ["audit", "--as-of", "2026-11-26", "--format", fmt])
        assert result.exit_code == 2, result.output
        assert "plugin `evil_format`" in result.output and f"format `{fmt}`" in result.output
        assert words in result.output


def test_explain_prints_no_raw_control_characters_from_data(tmp_path):
    (tmp_path / "p.pmo").write_text('package h\nrule r {\n    for project in projects\n'
                                    '    require project.name == "x"\n    message "{project.name}"\n}\n')
    (tmp_path / "projects.jsonl").write_text('{"id": "E", "name": "\\u001b]8;;http://evil\\u001b\\\\ a\\rb"}\n')
    result = CliRunner().invoke(main, ["explain", "h.r", "E", "--policies", str(tmp_path / "p.pmo"),
                                       "--data", str(tmp_path / "projects.jsonl"), "--as-of", "2026-11-26"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\r" not in result.output


def test_cli_errors_print_no_raw_control_characters_from_data(tmp_path):
    (tmp_path / "projects.jsonl").write_text('{"id": "X\\u001b]8;;http://evil\\u001b\\\\", "status": "bad"}\n')
    result = CliRunner().invoke(main, ["audit", "--data", str(tmp_path), "--strict", "--as-of", "2026-11-26"])
    assert result.exit_code == 2 and "\x1b" not in result.output
