"""The configuration file (pmo-rules.toml / [tool.pmo-rules]) and `--fail-on`.

Config values are defaults for `audit` and `check`; command-line options win; paths are
relative to the config file; unknown keys and wrong kinds of value are usage errors.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules import api
from pmo_rules.cli import main
from pmo_rules.config import Config, load_config
from pmo_rules.errors import UsageError
from pmo_rules.findings import Finding, Report

POLICY = """package t

param limit = 10 "Largest approved budget"

rule big {
    severity low
    enforcement soft
    for project in projects
    require project.budget.approved <= limit
}

rule cost-center {
    severity high
    enforcement soft
    for project in projects
    require project.cost_center matches "^CC-"
}
"""
EXTENSION = {"projects": {"properties": {"cost_center": {"type": "string"}}}}
PROJECTS = [{"id": "P1", "budget": {"approved": 50}, "cost_center": "CC-1"},
            {"id": "P2", "budget": {"approved": 5}, "cost_center": "XX-2"}]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project_dir(tmp_path) -> Path:
    """A PMO repository: policies/, data/, schema/ and (written by each test) its config."""
    write(tmp_path / "policies" / "t.pmo", POLICY)
    write(tmp_path / "data" / "projects.jsonl", "".join(json.dumps(p) + "\n" for p in PROJECTS))
    write(tmp_path / "schema" / "acme.json", json.dumps(EXTENSION))
    return tmp_path


CONFIG = """\
policies = ["policies"]
data = ["data"]
schema_extension = "schema/acme.json"
formats = ["json"]
as_of = 2026-11-26
fail_on = "medium"

[params]
"t.limit" = 20
"""


# ---------------------------------------------------------------------- loading --


def test_no_config_file_gives_an_empty_config(tmp_path):
    assert load_config(cwd=tmp_path) == Config()
    write(tmp_path / "pyproject.toml", "[project]\nname = \"x\"\n")
    assert load_config(cwd=tmp_path) == Config()


def test_pmo_rules_toml_in_the_directory(project_dir):
    write(project_dir / "pmo-rules.toml", CONFIG)
    cfg = load_config(cwd=project_dir)
    root = project_dir.resolve()
    assert cfg.path == project_dir / "pmo-rules.toml"
    assert cfg.policies == (root / "policies",) and cfg.data == (root / "data",)
    assert cfg.schema_extension == root / "schema" / "acme.json"
    assert cfg.formats == ("json",)
    assert cfg.as_of == dt.date(2026, 11, 26)
    assert cfg.fail_on == "medium"
    assert cfg.params == {"t.limit": "20"}


def test_tool_table_in_pyproject(project_dir):
    write(project_dir / "pyproject.toml", "[project]\nname = \"x\"\n\n[tool.pmo-rules]\npolicies = [\"policies\"]\n"
                                          "fail_on = \"high\"\n")
    cfg = load_config(cwd=project_dir)
    assert cfg.path == project_dir / "pyproject.toml" and cfg.fail_on == "high"
    assert cfg.label.endswith("pyproject.toml [tool.pmo-rules]")


def test_pmo_rules_toml_wins_over_pyproject(project_dir):
    write(project_dir / "pyproject.toml", "[tool.pmo-rules]\nfail_on = \"high\"\n")
    write(project_dir / "pmo-rules.toml", "fail_on = \"low\"\n")
    assert load_config(cwd=project_dir).fail_on == "low"


def test_paths_are_relative_to_the_config_file_not_the_directory(project_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write(project_dir / "ci" / "audit.toml", 'policies = ["../policies"]\ndata = ["../data", "/abs/data"]\n')
    cfg = load_config(project_dir / "ci" / "audit.toml", cwd=elsewhere)
    assert [p.resolve() for p in cfg.policies] == [(project_dir / "policies").resolve()]
    assert cfg.data[1] == Path("/abs/data")


def test_an_explicit_pyproject_needs_the_tool_table(tmp_path):
    path = write(tmp_path / "pyproject.toml", "[project]\nname = \"x\"\n")
    with pytest.raises(UsageError, match=r"has no \[tool.pmo-rules\] table"):
        load_config(path)


def test_a_missing_config_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="--config nope.toml: no such file"):
        load_config("nope.toml", cwd=tmp_path)


def test_invalid_toml_names_file_and_line(tmp_path):
    path = write(tmp_path / "pmo-rules.toml", "policies = [\"a\"\nfail_on = 'x'\n")
    with pytest.raises(UsageError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: invalid TOML:") and "line 2" in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ('polices = ["p"]', "unknown key `polices`; did you mean `policies`? (keys: policies, data, schema_extension, "
                        "formats, as_of, fail_on, params)"),
    ('schema-extension = "x.json"', "unknown key `schema-extension`; did you mean `schema_extension`?"),
    ("[param]\n\"a.b\" = 1", "unknown key `param`; did you mean `params`?"),
    ("policies = 3", "`policies` must be a list of strings"),
    ('formats = ["text", 1]', "`formats` must be a list of strings"),
    ("schema_extension = 1", "`schema_extension` must be a path (a string)"),
    ('fail_on = "hgh"', "`fail_on` is 'hgh', not a severity; did you mean `high`? (severities, lowest first: "
                        "info, low, medium, high, critical)"),
    ('as_of = "yesterday"', "`as_of` must be a date in YYYY-MM-DD form, not 'yesterday'"),
    ("as_of = 2026-11-26T10:00:00", "`as_of` must be a date (YYYY-MM-DD), not a date and time"),
    ('params = "x"', "`params` must be a table"),
    ("[params]\nlimit = 3", "param `limit` must be named PACKAGE.NAME, e.g. \"governance.limit\""),
    ("[params]\n\"t.limit\" = [1]", "param `t.limit` must be a text, number, boolean or date, not a list"),
])
def test_bad_config_is_a_usage_error_naming_file_and_key(tmp_path, text, message):
    path = write(tmp_path / "pmo-rules.toml", text + "\n")
    with pytest.raises(UsageError) as info:
        load_config(cwd=tmp_path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_params_are_spelt_as_the_command_line_spells_them(tmp_path):
    write(tmp_path / "pmo-rules.toml", '[params]\n"g.ratio" = 0.85\n"g.n" = 3\n"g.flag" = true\n'
                                       '"g.due" = 2027-01-31\n"g.after" = "21d"\n"g.big" = 1e3\n'
                                       '[params.h]\nstale_after = "14d"\n')
    assert load_config(cwd=tmp_path).params == {"g.ratio": "0.85", "g.n": "3", "g.flag": "true",
                                                "g.due": "2027-01-31", "g.after": "21d", "g.big": "1000",
                                                "h.stale_after": "14d"}


def test_command_line_params_override_key_by_key():
    cfg = Config(params={"a.x": "1", "a.y": "2"})
    assert cfg.merged_params({"a.y": "3", "b.z": "4"}) == {"a.x": "1", "a.y": "3", "b.z": "4"}


def test_with_overrides_keeps_what_the_command_line_leaves_out():
    cfg = Config(formats=("json",), fail_on="high")
    assert cfg.with_overrides(formats=(), fail_on="low") == Config(formats=("json",), fail_on="low")


# --------------------------------------------------------------------------- CLI --


def run(args: list[str], cwd: Path, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_audit_takes_everything_from_the_config(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", CONFIG)
    code, out = run(["audit"], project_dir, monkeypatch)
    report = json.loads(out)
    assert report["as_of"] == "2026-11-26"
    assert report["params"]["t.limit"] == 20
    outcomes = {(f["rule"], f["subject"]): f["outcome"] for f in report["findings"]}
    assert outcomes == {("t.big", "P1"): "fail", ("t.cost-center", "P2"): "fail"}
    assert code == 1  # cost-center is high: at or above fail_on = "medium"


def test_command_line_options_win_over_the_config(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", CONFIG)
    write(project_dir / "other" / "u.pmo", "package u\nrule ok {\n    for project in projects\n    require true\n}\n")
    code, out = run(["audit", "--param", "t.limit=100", "--as-of", "2026-01-02", "--fail-on", "critical"],
                    project_dir, monkeypatch)
    report = json.loads(out)
    assert (report["as_of"], report["params"]["t.limit"]) == ("2026-01-02", 100)
    assert [f["rule"] for f in report["findings"]] == ["t.cost-center"]
    assert code == 0  # a high failure does not block at --fail-on critical
    code, out = run(["audit", "--policies", "other", "--format", "text"], project_dir, monkeypatch)
    assert code == 0 and "u.ok" in out and "t.big" not in out


def test_fail_on_from_the_config_can_let_low_failures_through(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", CONFIG.replace('fail_on = "medium"', 'fail_on = "critical"'))
    assert run(["audit"], project_dir, monkeypatch)[0] == 0
    assert run(["audit", "--fail-on", "low"], project_dir, monkeypatch)[0] == 1
    write(project_dir / "pmo-rules.toml", CONFIG.replace('fail_on = "medium"\n', ""))
    assert run(["audit"], project_dir, monkeypatch)[0] == 1


def test_an_explicit_config_file(project_dir, monkeypatch, tmp_path_factory):
    write(project_dir / "ci.toml", CONFIG)
    code, out = run(["audit", "--config", str(project_dir / "ci.toml")], tmp_path_factory.mktemp("cwd"),
                    monkeypatch)
    assert code == 1 and json.loads(out)["params"]["t.limit"] == 20


def test_a_bad_config_stops_audit_and_check_with_exit_2(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", 'polices = ["policies"]\n')
    for command in ("audit", "check"):
        code, out = run([command], project_dir, monkeypatch)
        assert code == 2
        assert "unknown key `polices`; did you mean `policies`?" in out


def test_an_unknown_param_in_the_config_is_a_usage_error(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", CONFIG.replace('"t.limit"', '"t.limt"'))
    code, out = run(["check"], project_dir, monkeypatch)
    assert code == 2 and "unknown param `t.limt`; did you mean `t.limit`?" in out


def test_check_uses_the_configs_policies_and_schema_extension(project_dir, monkeypatch):
    write(project_dir / "pmo-rules.toml", CONFIG)
    code, out = run(["check"], project_dir, monkeypatch)
    assert code == 0, out
    assert "ok: 1 file(s), 2 rule(s)" in out
    write(project_dir / "pmo-rules.toml", CONFIG.replace('schema_extension = "schema/acme.json"\n', ""))
    code, out = run(["check"], project_dir, monkeypatch)
    assert code == 2 and "unknown field `cost_center`" in out
    code, out = run(["check", "--schema-extension", "schema/acme.json"], project_dir, monkeypatch)
    assert code == 0, out


# ----------------------------------------------------------------------- fail_on --


def finding(severity: str, enforcement: str, outcome: str = "fail") -> Finding:
    return Finding(rule="t.r", subject="P1", outcome=outcome, severity=severity, enforcement=enforcement)


def report_of(*findings: Finding) -> Report:
    return Report(as_of="2026-11-26", summary={}, totals={}, findings=list(findings),
                  blocking=any(api.is_blocking(f) for f in findings))


@pytest.mark.parametrize(("severity", "enforcement", "fail_on", "code"), [
    ("low", "soft", None, 1),
    ("low", "soft", "info", 1),
    ("low", "soft", "low", 1),
    ("low", "soft", "medium", 0),
    ("high", "soft", "high", 1),
    ("high", "soft", "critical", 0),
    ("critical", "soft", "critical", 1),
    ("critical", "advisory", None, 0),
    ("critical", "advisory", "info", 0),   # advisory never blocks
    ("info", "hard", None, 1),
    ("info", "hard", "critical", 1),       # hard always blocks
])
def test_fail_on_blocks_only_at_or_above_the_severity(severity, enforcement, fail_on, code):
    assert api.exit_code(report_of(finding(severity, enforcement)), fail_on=fail_on) == code


def test_fail_on_never_blocks_on_waived_findings_and_errors_still_exit_3():
    assert api.exit_code(report_of(finding("critical", "soft", "waived")), fail_on="info") == 0
    assert api.exit_code(report_of(finding("info", "soft", "error")), fail_on="critical") == 3


def test_fail_on_sets_the_reports_blocking_flag():
    policy = ("package t\nrule r {\n    severity low\n    for project in projects\n"
              "    require project.name is present\n}\n")
    session = api.Session.create(entry_points="builtin")
    program = api.check_text(policy, session)[0]
    loaded = api.load_data([], session)  # the bundled sample; every project has a name
    report = api.audit(program, loaded, dt.date(2026, 11, 26), fail_on="medium")
    assert report.blocking is False
    data = {"projects": [{"id": "P1"}]}
    assert api.audit_text(policy, data, "2026-11-26", session=session).blocking is True


def test_an_unknown_fail_on_severity_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown severity `hgh` for fail_on; did you mean `high`?"):
        api.exit_code(report_of(finding("low", "soft")), fail_on="hgh")
    result = CliRunner().invoke(main, ["audit", "--fail-on", "hgh"])
    assert result.exit_code == 2 and "'hgh' is not one of" in result.output
