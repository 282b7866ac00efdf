"""`pmo-rules catalogue`: the Markdown rule catalogue, and `policies/README.md` kept current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pmo_rules import ast
from pmo_rules.catalogue import REGENERATE, load_modules, render_catalogue, rule_params
from pmo_rules.cli import main
from pmo_rules.errors import PolicyError
from pmo_rules.parse import parse_text
from pmo_rules.program import enforcement_of, severity_of

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
README = POLICIES / "README.md"


@pytest.fixture(scope="module")
def modules(session) -> list[ast.Module]:
    return load_modules([POLICIES], session.registry.functions)


@pytest.fixture(scope="module")
def catalogue(modules) -> str:
    return render_catalogue(modules)


def _section(text: str, rule_id: str) -> str:
    start = text.index(f"\n### {rule_id}\n")
    end = text.find("\n### ", start + 1)
    nxt = text.find("\n## ", start + 1)
    ends = [e for e in (end, nxt) if e > 0]
    return text[start: min(ends) if ends else len(text)]


def test_readme_is_up_to_date(catalogue) -> None:
    assert README.is_file(), f"policies/README.md is missing: run `{REGENERATE}`"
    committed = README.read_text(encoding="utf-8")
    assert committed == catalogue, f"policies/README.md is out of date: run `{REGENERATE}`"


def test_every_rule_is_catalogued_with_its_metadata(modules, catalogue) -> None:
    rules = [r for m in modules for r in m.rules]
    assert len(rules) >= 30
    assert f"{len(rules)} rules in " in catalogue
    for r in rules:
        assert f"- [{r.id}](#" in catalogue, r.id  # table of contents
        sec = _section(catalogue, r.id)
        assert f"| Severity | {severity_of(r)} |" in sec
        assert f"| Enforcement | {enforcement_of(r)} |" in sec
        assert f"| Subject | `{r.for_clause.collection.text}` (each as `{r.for_clause.var}`)" in sec
        title = r.meta_value("title")
        if title:
            assert f"**{title}**" in sec
        for tag in r.meta_value("tags", ()):
            assert f"`{tag}`" in sec
        if r.meta_value("ref"):
            assert "| Standard | " in sec
        assert re.search(r"\| Defined in \| \[[a-z_]+\.pmo:\d+\]\([a-z_]+\.pmo#L\d+\) \|", sec)


def test_packages_are_grouped_with_a_contents_list(modules, catalogue) -> None:
    packages = sorted({m.package for m in modules})
    headings = re.findall(r"^## Package (\w+)$", catalogue, re.M)
    assert headings == packages
    toc = catalogue[catalogue.index("## Contents"):catalogue.index("## Package ")]
    for pkg in packages:
        assert f"- [Package {pkg}](#package-{pkg})" in toc
    # Every link of the contents points at a heading's GitHub anchor.
    anchors = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.+)$", catalogue, re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", catalogue):
        assert target in anchors, target


def test_params_with_defaults(modules, catalogue) -> None:
    text = catalogue
    assert "| `performance.cpi_floor` | `0.9` | Lowest acceptable cost performance index (EV / AC) |" in text
    sec = _section(text, "performance.cpi-floor")
    assert "| Params | `min_ev_pct` = `10%`; `cpi_floor` = `0.9` |" in sec
    assert "- `cpi(project) >= cpi_floor`" in sec


def test_rule_params_ignores_local_names() -> None:
    text = """package p
param limit = 5
param x = 1
param unused = 2
rule r {
    for x in projects
    let total = sum(limit for limit in x.items)
    require total <= limit else "{x.id} over {limit}"
}
rule s {
    for project in projects
    require project.n <= limit else "{project.id} over {x}"
}
"""
    module, diags = parse_text(text)
    assert module is not None and not diags
    params = {p.name: p for p in module.params}
    assert [p.name for p in rule_params(module.rules[0], params)] == []  # `limit` and `x` are local there
    assert [p.name for p in rule_params(module.rules[1], params)] == ["limit", "x"]


def test_cli_writes_the_catalogue(tmp_path: Path, catalogue) -> None:
    out = tmp_path / "CATALOGUE.md"
    res = CliRunner().invoke(main, ["catalogue", str(POLICIES), "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8") == catalogue


def test_cli_default_is_the_bundled_library(catalogue) -> None:
    res = CliRunner().invoke(main, ["catalogue"])
    assert res.exit_code == 0
    assert res.output == catalogue


def test_cli_invalid_policy_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pmo"
    bad.write_text("package bad\nrule r {\n    for p in projects\n    require p.x ==\n}\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["catalogue", str(tmp_path)])
    assert res.exit_code == 2
    assert "bad.pmo:5:1" in res.output


def test_check_errors_are_reported(tmp_path: Path, session) -> None:
    (tmp_path / "a.pmo").write_text("package a\nrule r {\n    for p in projcts\n    require true\n}\n", encoding="utf-8")
    with pytest.raises(PolicyError):
        load_modules([tmp_path], session.registry.functions)


def test_single_file_and_markdown_escaping(tmp_path: Path) -> None:
    f = tmp_path / "x.pmo"
    f.write_text('package x\n\nrule r {\n    title "Uses <html> | pipes and `ticks`"\n'
                 '    for p in projects\n    require p.a == "a|b"\n}\n', encoding="utf-8")
    text = render_catalogue(load_modules([f]))
    assert "**Uses \\<html\\> \\| pipes and \\`ticks\\`**" in text
    assert '- `p.a == "a|b"`' in text
    assert "[x.pmo:3](x.pmo#L3)" in text
    assert "1 rule in 1 package." in text
