"""Plugins: discovery through entry points, the block list, clashes, and failures that are
named rather than fatal; the plugin guide (docs/plugins.md) against hookspecs.py, and its
tutorial run as code.

Every session here is isolated: `api.Session.create(entry_points="builtin", extra=...)`
builds a fresh plugin manager (no global state), so throwaway plugins never leak.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import re
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from click.testing import CliRunner

import pmo_rules
from pmo_rules import api, hookspecs
from pmo_rules.cli import main
from pmo_rules.evaluate.reference import ReferenceEvaluator
from pmo_rules.pluginmanager import DISABLE_ENV, PROJECT
from pmo_rules.registry import FormatSpec, FunctionSpec, SchemaExtension, SourceSpec
from pmo_rules.resources import sample_data

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
PLUGIN_DATA = Path(__file__).resolve().parent / "data" / "plugins"
BUILTINS = ROOT / "plugins" / "pmo_rules_builtins"
AS_OF = dt.date(2026, 11, 26)
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("pmo_rules_") and inspect.isfunction(f))


def pyproject_entry_points() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["project"]["entry-points"][PROJECT]


def builtin_session(*extra) -> api.Session:
    return api.Session.create(entry_points="builtin", extra=tuple(extra))


def plugin(name: str, **hooks):
    """A throwaway plugin object: `plugin("x", pmo_rules_functions=lambda self, register: ...)`."""
    return type(name, (), {k: pmo_rules.hookimpl(v) for k, v in hooks.items()})()


def raising(hook: str):
    def impl(self, register):
        raise RuntimeError(f"{hook} is broken")

    return plugin(f"Raising_{hook}", **{hook: impl})


def audit_sample(session: api.Session, policy: str | None = None):
    if policy is None:
        program, _ = api.load_program([api.default_policies()], session)
    else:
        program = api.check_text(policy, session)[0]
        assert program is not None
    loaded = api.load_data([sample_data()], session)
    return api.audit(program, loaded, AS_OF, problems=[str(p) for p in session.problems])


# ------------------------------------------------------------------- discovery --


def test_hooks_are_the_five_the_spec_names():
    assert HOOKS == ["pmo_rules_formats", "pmo_rules_functions", "pmo_rules_metrics", "pmo_rules_schema",
                     "pmo_rules_sources"]


def test_every_builtin_entry_point_in_pyproject_is_installed_and_discovered():
    declared = pyproject_entry_points()
    installed = {ep.name: ep.value for ep in entry_points(group=PROJECT)
                 if ep.dist is not None and ep.dist.name in ("pmo-rules", "pmo_rules")}
    assert installed == declared, (
        "the installed entry points differ from pyproject.toml: run `pip install -e .` again")
    session = builtin_session()
    assert session.problems == []
    assert {name for name, _ in session.registry.plugins} == set(declared)
    assert all(dist == "pmo-rules" for _, dist in session.registry.plugins)


def test_every_builtin_plugin_module_has_an_entry_point():
    """A module under plugins/pmo_rules_builtins with a hook that no entry point names
    would silently never load."""
    targets = set(pyproject_entry_points().values())
    with_hooks = set()
    for path in BUILTINS.rglob("*.py"):
        if "@hookimpl" in path.read_text(encoding="utf-8"):
            with_hooks.add(".".join(path.relative_to(BUILTINS.parent).with_suffix("").parts))
    missing = sorted(with_hooks - targets)
    assert not missing, "add to [project.entry-points.pmo_rules] in pyproject.toml:\n" + "\n".join(
        f'{m.split(".")[-2]}_{m.split(".")[-1].removesuffix("_report").removesuffix("_source")} = "{m}"'
        for m in missing)


def test_the_builtins_the_spec_requires_are_registered():
    reg = builtin_session().registry
    assert {"json", "jsonl", "yaml", "csv", "xlsx", "sqlite"} <= set(reg.sources)
    assert {"text", "json", "junit", "sarif", "markdown", "csv", "html"} <= set(reg.formats)
    metrics = {n for n, f in reg.functions.items() if f.kind == "metric"}
    assert {"cpi", "spi", "cv", "sv", "eac", "vac", "tcpi", "risk_exposure"} <= metrics


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """A third-party distribution `acme-plugins` whose entry points name the modules in
    tests/data/plugins (installed nowhere: a dist-info folder on sys.path)."""

    def make(**eps: str) -> None:
        info = tmp_path / "acme_plugins-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugins\nVersion: 1.0\n", encoding="utf-8")
        lines = "".join(f"{k} = {v}\n" for k, v in eps.items())
        (info / "entry_points.txt").write_text(f"[{PROJECT}]\n{lines}", encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.syspath_prepend(str(PLUGIN_DATA))

    yield make
    for mod in ("acme_extras", "broken_import_plugin", "misspelt_hook_plugin"):
        sys.modules.pop(mod, None)


def test_third_party_entry_points_are_found_and_builtin_mode_ignores_them(fake_distribution):
    fake_distribution(acme_extras="acme_extras")
    everything = api.Session.create(entry_points="all")
    assert everything.problems == []
    assert everything.registry.functions["acme_double"].plugin == "acme_extras"
    assert ("acme_extras", "acme-plugins") in everything.registry.plugins
    assert "acme_double" not in builtin_session().registry.functions


def test_a_plugin_that_fails_to_import_is_named_with_its_distribution(fake_distribution):
    fake_distribution(acme_broken="broken_import_plugin", acme_extras="acme_extras")
    session = api.Session.create(entry_points="all")
    (problem,) = session.problems
    assert problem.plugin == "acme_broken" and problem.dist == "acme-plugins"
    assert str(problem).startswith("plugin `acme_broken` (from acme-plugins): failed to load: ModuleNotFoundError")
    assert "pmo_rules_no_such_dependency" in str(problem)
    # the other plugins, built-in and third-party, still load
    assert "acme_double" in session.registry.functions and "cpi" in session.registry.functions
    report = audit_sample(session)
    assert report.totals["pass"] > 0
    assert any("acme_broken" in p for p in report.problems)


def test_a_misspelt_hook_is_named_with_a_hint(fake_distribution):
    fake_distribution(acme_typo="misspelt_hook_plugin")
    session = api.Session.create(entry_points="all")
    (problem,) = session.problems
    assert problem.plugin == "acme_typo"
    assert "unknown hook `pmo_rules_metric`" in str(problem)
    assert "did you mean `pmo_rules_metrics`?" in str(problem)


def test_disable_plugins_blocks_a_builtin(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "formats_text")
    reg = builtin_session().registry
    assert "text" not in reg.formats and "json" in reg.formats
    assert "formats_text" not in {n for n, _ in reg.plugins}


def test_disable_plugins_takes_a_list_and_blocks_extra_plugins(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "formats_text, metrics_risk ,mine")
    mine = plugin("Mine", pmo_rules_functions=lambda self, register: register(
        FunctionSpec("mine", lambda: 1, (), "number", "One.")))
    reg = builtin_session(("mine", mine)).registry
    assert "text" not in reg.formats and "risk_exposure" not in reg.functions and "mine" not in reg.functions
    assert "cpi" in reg.functions


def test_a_disabled_plugin_makes_its_functions_unknown_to_the_checker(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "metrics_risk")
    _, diags = api.check_text("package t\nrule r {\n    for project in projects\n"
                              "    require risk_exposure(project) < 1\n}\n", builtin_session())
    assert [d.code for d in diags.errors] == ["unknown-function"]


# ---------------------------------------------------------------------- clashes --


def _registers(name: str, fn_name: str, kind: str = "function"):
    hook = "pmo_rules_metrics" if kind == "metric" else "pmo_rules_functions"
    spec = FunctionSpec(fn_name, lambda project: 1, ("project",), "number", f"From {name}.", kind=kind)
    return plugin(name, **{hook: lambda self, register: register(spec)})


def test_two_plugins_registering_one_function_name_are_both_named():
    session = builtin_session(("first_plugin", _registers("A", "shared_fn")),
                              ("second_plugin", _registers("B", "shared_fn", kind="metric")))
    (problem,) = session.problems
    text = str(problem)
    assert problem.plugin == "second_plugin"
    assert "plugin `second_plugin`" in text and "already provided by plugin `first_plugin`" in text
    assert "`shared_fn`" in text and "PMO_RULES_DISABLE_PLUGINS" in text
    assert session.registry.functions["shared_fn"].plugin == "first_plugin"  # the first keeps it


def test_a_plugin_redefining_a_builtin_function_is_refused_naming_the_builtin():
    session = builtin_session(("mine", _registers("Mine", "cpi")))
    assert "already provided by plugin `metrics_earned_value`" in str(session.problems[0])
    assert session.registry.functions["cpi"].plugin == "metrics_earned_value"


def test_two_sources_for_one_extension_are_refused_naming_both():
    src = SourceSpec("my_json", (".json",), lambda p: {})
    session = builtin_session(("mine", plugin("S", pmo_rules_sources=lambda self, register: register(src))))
    text = str(session.problems[0])
    assert "plugin `mine`" in text and "source `json` of plugin `sources_json`" in text
    assert session.registry.sources["json"].plugin == "sources_json"


@pytest.mark.parametrize(("hook", "spec", "words"), [
    ("pmo_rules_functions", FunctionSpec("f", "not callable", (), "number", "x"), "`func` must be callable"),
    ("pmo_rules_functions", FunctionSpec("f", len, "project", "number", "x"), "`params` must be a tuple"),
    ("pmo_rules_functions", FunctionSpec("f", len, (), "number", "x", kind="metrc"), "`kind` is 'metrc'"),
    ("pmo_rules_sources", SourceSpec("s", ("tsv",), len), "`extensions` must be a tuple like"),
    ("pmo_rules_formats", FormatSpec("f", None, ".x"), "`render` must be callable"),  # type: ignore[arg-type]
    ("pmo_rules_formats", FunctionSpec("f", len, (), "number", "x"), "registered a FunctionSpec, expected a FormatSpec"),
    ("pmo_rules_schema", {"projects": {}}, "registered a dict, expected a SchemaExtension"),
])
def test_a_malformed_registration_is_refused_and_named(hook, spec, words):
    session = builtin_session(("sloppy", plugin("Sloppy", **{hook: lambda self, register: register(spec)})))
    (problem,) = session.problems
    assert problem.plugin == "sloppy" and words in str(problem)


# --------------------------------------------------------------- raising hooks --

PRESENT_AFTER = {
    "pmo_rules_sources": lambda reg: "jsonl" in reg.sources,
    "pmo_rules_functions": lambda reg: "len" in reg.functions,
    "pmo_rules_metrics": lambda reg: "cpi" in reg.functions,
    "pmo_rules_formats": lambda reg: "text" in reg.formats,
    "pmo_rules_schema": lambda reg: True,
}


@pytest.mark.parametrize("hook", HOOKS)
def test_a_raising_hook_is_named_and_the_audit_completes(hook):
    session = builtin_session(("acme_broken", raising(hook)))
    (problem,) = session.problems
    assert problem.plugin == "acme_broken"
    assert str(problem) == f"plugin `acme_broken`: {hook} raised RuntimeError: {hook} is broken"
    assert PRESENT_AFTER[hook](session.registry)
    report = audit_sample(session)
    assert report.totals["pass"] > 0 and report.totals["fail"] > 0
    assert report.problems == [str(problem)]
    assert "plugin `acme_broken`" in session.registry.formats["text"].render(report, {})


def test_a_hook_that_raises_after_registering_keeps_what_it_registered():
    def impl(self, register):
        register(FunctionSpec("half_done", lambda: 1, (), "number", "Registered before the crash."))
        raise ValueError("then it crashed")

    session = builtin_session(("half", plugin("Half", pmo_rules_functions=impl)))
    assert "half_done" in session.registry.functions
    assert "pmo_rules_functions raised ValueError: then it crashed" in str(session.problems[0])


def test_an_invalid_plugin_schema_extension_is_named_and_left_out():
    bad = SchemaExtension("acme", {"project": {"properties": {"cost_center": {"type": "string"}}}})
    good = SchemaExtension("ok", {"people": {"properties": {"grade": {"type": "integer"}}}})
    session = builtin_session(
        ("acme_schema", plugin("Bad", pmo_rules_schema=lambda self, register: register(bad))),
        ("ok_schema", plugin("Good", pmo_rules_schema=lambda self, register: register(good))))
    (problem,) = session.problems
    assert problem.plugin == "acme_schema"
    assert "unknown key `project`; did you mean `projects`?" in str(problem)
    assert session.extension is not None and [p.name for p in session.extension.parts] == [
        "`ok` (plugin `ok_schema`)"]
    assert audit_sample(session).totals["pass"] > 0


# ------------------------------------------------------- raising at evaluation --

EXPLODING = plugin(
    "Exploding",
    pmo_rules_functions=lambda self, register: register(FunctionSpec(
        "explode", lambda x: (_ for _ in ()).throw(RuntimeError("kaboom")), ("any",), "number", "Raises.")),
    pmo_rules_metrics=lambda self, register: register(FunctionSpec(
        "explode_metric", lambda p: (_ for _ in ()).throw(KeyError("budget")), ("project",), "number",
        "Raises.", kind="metric")),
)


@pytest.mark.parametrize("evaluator", [None, ReferenceEvaluator()], ids=["indexed", "reference"])
@pytest.mark.parametrize("call", ["explode(project.id)", "explode_metric(project)"])
def test_a_function_or_metric_raising_is_an_error_outcome_naming_the_plugin(call, evaluator):
    session = builtin_session(("acme_explosives", EXPLODING))
    policy = f"package t\nrule r {{\n    for project in projects\n    require {call} > 0\n}}\n"
    report = api.audit_text(policy, {"projects": [{"id": "P1"}, {"id": "P2"}]}, AS_OF, session=session,
                            evaluator=evaluator)
    assert [(f.subject, f.outcome) for f in report.findings] == [("P1", "error"), ("P2", "error")]
    assert all("failed in plugin `acme_explosives`" in (f.message or "") for f in report.findings)
    assert api.exit_code(report) == 3


# -------------------------------------------------------------------------- CLI --


def test_plugins_command_lists_every_plugin_and_function():
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    reg = api.Session.create().registry
    for name, dist in reg.plugins:
        assert f"{name} ({dist or 'local'}):" in result.output
    for spec in reg.functions.values():
        assert f"{spec.kind} {spec.name}" in result.output
    for spec in reg.sources.values():
        assert f"source {spec.name}" in result.output
    for spec in reg.formats.values():
        assert f"format {spec.name}" in result.output


def test_plugins_functions_documents_signature_unit_and_description():
    result = CliRunner().invoke(main, ["plugins", "--functions"])
    assert result.exit_code == 0, result.output
    functions = api.Session.create().registry.functions
    assert functions
    for spec in functions.values():
        line = f"{spec.signature}" + (f" [{spec.unit}]" if spec.unit else "")
        assert line in result.output, f"{spec.name}: no line `{line}`"
        assert f"plugin {spec.plugin}" in result.output
        assert spec.description and spec.description in result.output


def test_every_builtin_function_has_description_and_plugin():
    for spec in builtin_session().registry.functions.values():
        assert spec.description.strip(), spec.name
        assert spec.plugin, spec.name


# ------------------------------------------------------------ the plugin guide --


def hook_signature(name: str) -> str:
    """`def NAME(ARG: ANNOTATION) -> RETURN:` from hookspecs.py (annotations are source text)."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {name}({params}) -> {sig.return_annotation}:"


def guide_reference() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("### Hook reference")
    end = text.find("\n### ", start + 1)
    return text[start:end if end > 0 else None]


def test_every_hook_has_a_docstring_saying_when_it_is_called():
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called once when the registry is built" in doc, name
        assert "register(" in doc, f"{name}: the docstring does not say what to register"


@pytest.mark.parametrize("name", HOOKS)
def test_the_guide_gives_each_hook_with_its_exact_signature(name):
    wanted = hook_signature(name)
    assert not re.search(r"'|\"", wanted), f"annotations should be source text: {wanted}"
    lines = [ln.strip() for ln in guide_reference().splitlines() if ln.strip().startswith(f"def {name}(")]
    assert lines, f"docs/plugins.md's hook reference does not show `{name}`"
    assert lines == [wanted], f"docs/plugins.md shows {lines}, hookspecs.py has {wanted}"


def test_the_guide_shows_no_hook_that_does_not_exist():
    shown = re.findall(r"^def (pmo_rules_\w+)\(", guide_reference(), re.M)
    assert sorted(shown) == HOOKS


@pytest.mark.parametrize("cls", [FunctionSpec, SourceSpec, FormatSpec, SchemaExtension])
def test_the_guide_documents_every_spec_field(cls):
    import dataclasses

    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"**`{cls.__name__}`**")
    section = text[start:text.index("\n**`", start + 1) if "\n**`" in text[start + 1:] else None]
    for f in dataclasses.fields(cls):
        assert f"| `{f.name}` |" in section, f"{cls.__name__}.{f.name} is not in docs/plugins.md"


_FILE_BLOCK = re.compile(r"^```(\w+)[ \t]+file=(\S+)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_RUN_BLOCK = re.compile(r"^```python[ \t]+run[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def guide_files() -> dict[str, str]:
    files: dict[str, str] = {}
    for _lang, name, body in _FILE_BLOCK.findall(GUIDE.read_text(encoding="utf-8")):
        files[name] = files.get(name, "") + body
    return files


def test_the_guide_tutorial_has_every_part():
    assert set(guide_files()) == {"acme_pmo/tsv_source.py", "acme_pmo/metrics.py", "acme_pmo/formats.py",
                                  "acme_pmo/schema.py", "policies/acme.pmo", "pyproject.toml",
                                  "tests/test_acme.py"}


@pytest.fixture
def tutorial(tmp_path, monkeypatch):
    """The guide's tutorial package written out and importable."""
    root = tmp_path / "acme-pmo"
    for name, body in guide_files().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    (root / "acme_pmo" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    yield root
    for mod in [m for m in sys.modules if m == "acme_pmo" or m.startswith("acme_pmo.") or m == "test_acme"]:
        del sys.modules[mod]


def test_guide_tutorial_runs(tutorial, tmp_path):
    """Run the guide's `tests/test_acme.py` against the guide's plugin code."""
    spec = importlib.util.spec_from_file_location("test_acme", tutorial / "tests" / "test_acme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_acme"] = module
    spec.loader.exec_module(module)
    tests = [(n, f) for n, f in vars(module).items() if n.startswith("test_") and callable(f)]
    assert len(tests) >= 4
    for i, (_name, fn) in enumerate(tests):
        kwargs = {}
        if "tmp_path" in inspect.signature(fn).parameters:
            kwargs["tmp_path"] = tmp_path / f"t{i}"
            kwargs["tmp_path"].mkdir()
        fn(**kwargs)


def test_guide_tutorial_entry_points_name_its_modules(tutorial):
    data = tomllib.loads((tutorial / "pyproject.toml").read_text(encoding="utf-8"))
    eps = data["project"]["entry-points"][PROJECT]
    assert len(eps) == 4
    hooks_found = set()
    for name, target in eps.items():
        module = importlib.import_module(target)
        hooks = [h for h in HOOKS if hasattr(getattr(module, h, None), "pmo_rules_impl")]
        assert hooks, f"entry point {name} = {target} implements no hook"
        hooks_found.update(hooks)
    assert hooks_found == {"pmo_rules_sources", "pmo_rules_metrics", "pmo_rules_formats", "pmo_rules_schema"}


def test_guide_tutorial_plugins_work_through_the_cli(tutorial, tmp_path, monkeypatch):
    """The tutorial's plugins, installed as entry points of a distribution, drive the CLI."""
    info = tmp_path / "acme_pmo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-pmo\nVersion: 1.0\n", encoding="utf-8")
    eps = tomllib.loads((tutorial / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    (info / "entry_points.txt").write_text(
        f"[{PROJECT}]\n" + "".join(f"{k} = {v}\n" for k, v in eps[PROJECT].items()), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = tmp_path / "registers"
    data.mkdir()
    (data / "projects.tsv").write_text(
        "id\tstatus\tcost_center\tbudget.approved\tbudget.actual_cost\n"
        "PRJ-1\tactive\tCC-0001\t1000\t950\n", encoding="utf-8")
    runner = CliRunner()
    listing = runner.invoke(main, ["plugins"])
    assert "acme_metrics (acme-pmo): metric burn_rate" in listing.output
    result = runner.invoke(main, ["audit", "--policies", str(tutorial / "policies"), "--data", str(data),
                                  "--as-of", "2026-11-26", "--format", "tsv"])
    assert result.exit_code == 1, result.output
    assert "acme.budget-burn\tPRJ-1\tfail\thigh\tsoft\tPRJ-1 has spent 95.0% of its approved budget" in result.output


def test_guide_run_blocks_run():
    blocks = _RUN_BLOCK.findall(GUIDE.read_text(encoding="utf-8"))
    assert blocks
    for body in blocks:
        exec(compile(body, str(GUIDE), "exec"), {"__name__": "guide_block"})  # noqa: S102 - our own docs
