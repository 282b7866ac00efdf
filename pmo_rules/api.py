"""The library facade, mirroring the CLI: load policies, check, load data, audit.

Each function returns data (a `Program`, a `Report`) or raises a `PmoError`; the CLI only
parses options, calls these and renders. Tests use them directly.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

from . import __version__, rollups
from .check import check_modules
from .diagnostics import Diagnostic, DiagnosticList
from .errors import PluginError, PolicyError, UsageError
from .evaluate import Evaluation
from .evaluate.engine import IndexedEvaluator
from .findings import (
    DataSummary,
    Evidence,
    Finding,
    Report,
    RuleSummary,
    trusted_evidence,
    trusted_finding,
)
from .gcpause import gc_paused
from .load import LoadResult, load_paths
from .pluginmanager import make_plugin_manager
from .program import SEVERITIES, Program, enforcement_of, severity_of
from .registry import Registry, build_registry
from .resources import bundled, sample_data
from .schema.extension import Extension, ExtensionError, load_extensions
from .source import SourceFile
from .types import ListType

BLOCKING = {"soft", "hard"}


@dataclass
class Session:
    """One run's plugin manager, registry and data-schema extension (no global state)."""

    registry: Registry
    problems: list[PluginError] = field(default_factory=list)
    extension: Extension | None = None

    @classmethod
    def create(cls, *, entry_points: str = "all", extra: tuple = (),
               schema_extension: Path | str | None = None) -> Session:
        """A fresh session. `extra` is `((name, plugin), ...)` registered after the entry
        points; `schema_extension` is an organisation's JSON Schema file (UsageError if
        it is invalid). Plugins' own schema extensions are merged first."""
        problems: list[PluginError] = []
        pm = make_plugin_manager(entry_points_=entry_points, extra=extra, problems=problems)  # type: ignore[arg-type]
        registry = build_registry(pm)
        try:
            extension, ext_problems = load_extensions(
                Path(schema_extension) if schema_extension is not None else None, registry.schema_extensions)
        except ExtensionError as exc:
            raise UsageError(f"schema extension {exc}") from None
        named = [PluginError(plugin, message) for plugin, message in ext_problems]
        return cls(registry, problems + registry.problems + named, extension)

    def collections(self) -> dict[str, ListType] | None:
        """The checker's typed collections with the extension applied (None: the built-in ones)."""
        return self.extension.collections if self.extension is not None else None


def policy_files(paths: list[Path], *, include_tests: bool = False) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*.pmo")):
                if include_tests or not f.name.endswith("_test.pmo"):
                    out.append(f)
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"{p}: no such policy file or folder")
    if not out:
        raise UsageError("no .pmo policy files found in " + ", ".join(str(p) for p in paths))
    return list(dict.fromkeys(out))


def default_policies() -> Path:
    return bundled("policies")


def load_program(
    paths: list[Path],
    session: Session,
    *,
    overrides: dict[str, str] | None = None,
    include_tests: bool = False,
    defaults: dict[str, str] | None = None,
) -> tuple[Program, DiagnosticList]:
    """Parse and check policy files; raises PolicyError when any error was found.

    `overrides` (`--param`) must name declared params; `defaults` (a config file's
    `[params]`) are applied under them, and those whose package no loaded file declares
    are left out, so one config serves runs over part of the library."""
    from .parse import parse_file

    diags = DiagnosticList()
    modules = []
    for f in policy_files(paths, include_tests=include_tests):
        name = _display_path(f)
        module, source, file_diags = parse_file(f, name, partial=True)
        diags.sources[name] = source
        diags.extend(file_diags)
        if module is not None:
            modules.append(module)
    if defaults:
        packages = {m.package for m in modules}
        overrides = {**{k: v for k, v in defaults.items() if k.rpartition(".")[0] in packages}, **(overrides or {})}
    program, check_diags, usage = check_modules(modules, session.registry.functions, overrides=overrides,
                                                sources=diags.sources, collections=session.collections())
    diags.extend(check_diags)
    if usage:
        raise UsageError("\n".join(usage))
    if diags.errors:
        raise PolicyError(diags)
    return program, diags


def check_text(text: str, session: Session, name: str = "<policy>") -> tuple[Program | None, DiagnosticList]:
    """Parse and check one policy given as text (tests, docs); never raises for policy errors."""
    from .parse import parse_text

    diags = DiagnosticList()
    diags.sources[name] = SourceFile(name, text)
    module, parse_diags = parse_text(text, name, partial=True)
    diags.extend(parse_diags)
    if module is None:
        return None, diags
    program, check_diags, usage = check_modules([module], session.registry.functions, sources=diags.sources,
                                                collections=session.collections())
    diags.extend(check_diags)
    for u in usage:
        diags.add(Diagnostic("usage", u))
    return (program if not diags.errors else None), diags


def _display_path(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        bundled_root = bundled("policies").resolve()
        try:
            return "policies/" + str(p.resolve().relative_to(bundled_root))
        except ValueError:
            return str(p)


def load_data(paths: list[Path], session: Session) -> LoadResult:
    with gc_paused():
        return load_paths(paths or [sample_data()], session.registry, extension=session.extension)


def audit(
    program: Program,
    data: LoadResult,
    as_of: dt.date,
    *,
    include_passes: bool = False,
    evaluator: object | None = None,
    problems: list[str] | None = None,
    fail_on: str | None = None,
) -> Report:
    ev = evaluator or IndexedEvaluator()
    with gc_paused():
        evaluation = ev.evaluate(program, data.snapshot, as_of, include_passes=include_passes)  # type: ignore[attr-defined]
        # Findings name their subjects by id: the view copies can go before the report is
        # built, which then reuses their memory (a 100k-project run peaks 300 MB lower).
        data.snapshot.release_views()
        return build_report(program, evaluation, data, as_of, problems or [], fail_on=fail_on)


def build_report(program: Program, evaluation: Evaluation, data: LoadResult, as_of: dt.date,
                 problems: list[str], *, fail_on: str | None = None) -> Report:
    rules = program.rule_by_id
    waivers = {w["id"]: w for w in evaluation.waivers}
    # The roll-ups read the findings' subjects and every project: a worker child still
    # holding the snapshot computes them, if the evaluation kept one, while this builds
    # the findings (at 100,000 projects each takes about a second of one core).
    fails: Counter = Counter(res.subject for res in evaluation.results if res.outcome == "fail")
    ids = {res.subject for res in evaluation.results}
    helper = getattr(evaluation, "helper", None)  # `audit` takes any evaluator, whose result may have none
    asked = helper is not None and helper.submit(rollups.of_snapshot, evaluation.passes, fails, ids)
    # Per rule: severity, enforcement, remediation (and whether those are plain text).
    per_rule: dict[str, tuple] = {}
    # A frozen Evidence is shared by findings showing the same expression and value object
    # (a record's date, `false`, ...): some 40% of them, and that much less memory.
    shared_evidence: dict[tuple, Evidence] = {}
    # The first failure of each rule: `is_blocking` is false for any other outcome and
    # depends on nothing but the rule's severity and enforcement, so it is asked only of these.
    first_fails: dict[str, Finding] = {}
    findings = []
    for res in sorted(evaluation.results, key=attrgetter("rule", "subject")):
        rule_id = res.rule
        about = per_rule.get(rule_id)
        if about is None:
            rule = rules[rule_id]
            severity, enforcement, remediation = severity_of(rule), enforcement_of(rule), rule.remediation
            plain = (type(rule_id) is str and type(severity) is str and type(enforcement) is str
                     and (remediation is None or type(remediation) is str))
            about = per_rule[rule_id] = (severity, enforcement, remediation, plain)
        severity, enforcement, remediation, plain = about
        subject, outcome, message, location, note = res.subject, res.outcome, res.message, res.location, res.note
        w = waivers.get(res.waiver) if res.waiver else None
        waiver = {k: w[k] for k in ("id", "reason", "approved_by", "expires")} if w else None
        if outcome not in ("fail", "waived"):
            remediation = None
        evidence = []
        for expr, value in res.evidence:
            if type(expr) is not str:
                plain = False
                break
            key = (expr, id(value))
            e = shared_evidence.get(key)
            if e is None:
                e = shared_evidence[key] = trusted_evidence(expr, value)
            evidence.append(e)
        if (plain and type(subject) is str and type(outcome) is str and (message is None or type(message) is str)
                and (location is None or type(location) is str) and (note is None or type(note) is str)):
            f = trusted_finding({
                "rule": rule_id, "subject": subject, "outcome": outcome, "severity": severity,
                "enforcement": enforcement, "message": message, "evidence": evidence, "waiver": waiver,
                "location": location, "remediation": remediation, "note": note})
        else:  # not what the evaluators make: validated (and refused) as ever
            f = Finding(
                rule=rule_id, subject=subject, outcome=outcome, severity=severity, enforcement=enforcement,
                message=message, evidence=[Evidence(expr=k, value=v) for k, v in res.evidence], waiver=waiver,
                location=location, remediation=remediation, note=note)
        findings.append(f)
        if outcome == "fail":
            first_fails.setdefault(rule_id, f)
    summary = {}
    totals = {o: 0 for o in ("pass", "fail", "error", "waived", "not_applicable")}
    for rule in sorted(program.rules, key=lambda r: r.id):
        counts = evaluation.counts.get(rule.id, {})
        c = {o: int(counts.get(o, 0)) for o in totals}
        for o in totals:
            totals[o] += c[o]
        summary[rule.id] = RuleSummary(
            title=rule.meta_value("title"), severity=severity_of(rule), enforcement=enforcement_of(rule),
            tags=list(rule.meta_value("tags", ())), location=str(rule.span), counts=c,
            description=rule.meta_value("description"), remediation=rule.remediation, ref=rule.meta_value("ref"))
    blocking = any(is_blocking(f, fail_on) for f in first_fails.values())
    ok, computed = helper.result() if asked else (False, None)
    rollup, named = computed if ok else rollups.compute_with_subjects(data.snapshot.projects, evaluation.passes,
                                                                       fails, ids)
    plain_ids = all(type(pid) is str for pid in named)
    report = Report(
        tool_version=__version__, as_of=as_of.isoformat(), blocking=blocking, summary=summary, totals=totals,
        findings=[], waivers=evaluation.waivers, params=program.effective_params(),
        data=DataSummary(sources=data.files, records=data.records, rejected=data.rejected), problems=problems,
        rollups=rollup, subjects={} if plain_ids else named,
    )
    # The two big fields are set after validation, which would only copy them: the findings
    # are `Finding`s, the subjects plain dicts keyed by project id (`rollups.subjects`).
    report.findings = findings
    if plain_ids:
        report.subjects = named
    return report


def check_fail_on(fail_on: str | None) -> str | None:
    """Validate a `--fail-on` severity (UsageError naming the valid ones)."""
    if fail_on is None or fail_on in SEVERITIES:
        return fail_on
    from .diagnostics import did_you_mean

    hint = did_you_mean(fail_on, SEVERITIES)
    raise UsageError(f"unknown severity `{fail_on}` for fail_on" + (f"; {hint}" if hint else "") +
                     f" (severities, lowest first: {', '.join(SEVERITIES)})")


def is_blocking(finding: Finding, fail_on: str | None = None) -> bool:
    """Does this finding block the run? An unwaived failure of a `soft` or `hard` rule does;
    with `fail_on`, a `soft` one only at or above that severity. `advisory` never blocks,
    `hard` always does (it cannot be waived, and no threshold lowers it)."""
    if finding.outcome != "fail" or finding.enforcement not in BLOCKING:
        return False
    if fail_on is None or finding.enforcement == "hard":
        return True
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return rank.get(finding.severity, len(SEVERITIES)) >= rank[check_fail_on(fail_on)]


def exit_code(report: Report, fail_on: str | None = None) -> int:
    """SPEC 5: 3 evaluation errors, 1 an unwaived blocking failure, else 0.

    `fail_on` (a severity) blocks only on `soft` failures at or above it (see `is_blocking`);
    without it the report's own `blocking` decides."""
    if any(f.outcome == "error" for f in report.findings):
        return 3
    blocking = report.blocking if fail_on is None else any(is_blocking(f, fail_on) for f in report.findings)
    return 1 if blocking else 0


def audit_text(
    text: str,
    data: dict[str, list[dict]],
    as_of: dt.date | str,
    *,
    session: Session | None = None,
    include_passes: bool = True,
    evaluator: object | None = None,
    name: str = "<policy>",
) -> Report:
    """Check one policy text and audit inline data with it (tests and docs use this).

    `data` holds raw records per collection, validated exactly as files are.
    Raises PolicyError if the policy does not check.
    """
    from .load import load_collections

    session = session or Session.create()
    program, diags = check_text(text, session, name)
    if program is None:
        raise PolicyError(diags)
    loaded = load_collections(data, extension=session.extension)
    day = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return audit(program, loaded, day, include_passes=include_passes, evaluator=evaluator)
