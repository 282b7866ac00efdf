"""Check parsed modules: an ordered, named list of stages, each adding diagnostics.

`check_modules` returns a `Program` the evaluators can run, plus every diagnostic found.
Stages run in order; later ones assume the earlier ones' facts (duplicate ids and params
are known before types are checked), but each collects all it finds rather than stopping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ast
from ..diagnostics import Diagnostic, did_you_mean, one_of
from ..program import ENFORCEMENTS, OUTCOMES, SEVERITIES, Program
from ..registry import FunctionSpec
from ..schema.typeenv import collections as schema_collections
from ..source import SourceFile
from ..types import ANY, BOOL, ListType, Type
from .params import ParamValueError, parse_param_value
from .typecheck import Scope, infer, type_of_value

METADATA_KEYS = ("title", "description", "severity", "enforcement", "tags", "owner", "ref")


@dataclass
class CheckContext:
    modules: list[ast.Module]
    functions: dict[str, FunctionSpec]
    collections: dict[str, ListType]
    overrides: dict[str, str]
    diags: list[Diagnostic]
    params: dict[str, dict[str, Any]]
    param_types: dict[str, dict[str, Type]]
    rules: dict[str, ast.Rule]
    usage_errors: list[str]
    duration_sums: set


    def error(self, code: str, message: str, span, hint: str | None = None, details: tuple[str, ...] = ()) -> None:
        self.diags.append(Diagnostic(code, message, span, details, hint))

    def scope(self, package: str) -> Scope:
        return Scope(self.collections, self.param_types.get(package, {}), self.params.get(package, {}),
                     self.functions, {}, self.diags, self.duration_sums)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[CheckContext], None]


# ------------------------------------------------------------------------ stages --


def collect_params(ctx: CheckContext) -> None:
    """Declared params, their overrides; must run before anything that reads params."""
    for m in ctx.modules:
        values = ctx.params.setdefault(m.package, {})
        types = ctx.param_types.setdefault(m.package, {})
        for p in m.params:
            if p.name in values:
                ctx.error("duplicate-param", f"param `{p.name}` is declared twice in package `{m.package}`", p.span)
                continue
            if p.name in ctx.collections:
                ctx.error("param-shadows-collection", f"param `{p.name}` has the name of a collection", p.span,
                          "choose another name: collections cannot be redefined")
                continue
            if p.default.kind == "null":
                ctx.error("bad-param", f"param `{p.name}` needs a default that is not null", p.default.span,
                          "the default gives the param its type")
            values[p.name] = p.default.value
            # A default the parser already rejected must not cascade into type errors.
            types[p.name] = ANY if p.default.kind == "invalid" else type_of_value(p.default.value)
    for key, text in ctx.overrides.items():
        pkg, _, name = key.rpartition(".")
        if not pkg or pkg not in ctx.params or name not in ctx.params[pkg]:
            known = [f"{k}.{n}" for k, ps in ctx.params.items() for n in ps]
            hint = did_you_mean(key, known)
            ctx.usage_errors.append(f"unknown param `{key}`" + (f"; {hint}" if hint else "") +
                                    (f" (params: {one_of(known)})" if known else " (no params are declared)"))
            continue
        try:
            ctx.params[pkg][name] = parse_param_value(text, ctx.params[pkg][name], key)
        except ParamValueError as exc:
            ctx.usage_errors.append(str(exc))


def collect_rules(ctx: CheckContext) -> None:
    seen_pkg_files: dict[str, str] = {}
    for m in ctx.modules:
        seen_pkg_files.setdefault(m.package, m.file)
        for r in m.rules:
            if r.id in ctx.rules:
                other = ctx.rules[r.id]
                ctx.error("duplicate-rule", f"rule `{r.id}` is defined twice", r.name_span,
                          details=(f"first defined at {other.span}",))
                continue
            ctx.rules[r.id] = r


def check_structure(ctx: CheckContext) -> None:
    """Each rule: metadata first, one `for`, `let`s, `require`s, then message, remediation."""
    order = {"meta": 0, "for": 1, "let": 2, "require": 3, "message": 4, "remediation": 5}
    for m in ctx.modules:
        for r in m.rules:
            last = -1
            last_name = ""
            fors = 0
            for st in r.statements:
                kind, span = _statement_kind(st)
                shown = st.key if isinstance(st, ast.Meta) else kind
                if kind == "for":
                    fors += 1
                    if fors > 1:
                        ctx.error("duplicate-for", f"rule `{r.name}` has more than one `for`", span,
                                  "a rule has exactly one subject; combine conditions with `and` in `where`")
                if kind in ("message", "remediation") and order[kind] == last:
                    ctx.error("duplicate-metadata", f"`{kind}` is given more than once in rule `{r.name}`", span)
                if order[kind] < last:
                    ctx.error("statement-order", f"`{shown}` cannot come after `{last_name}`", span,
                              "a rule body is: metadata, `for`, `let`s, `require`s, `message`, `remediation`")
                else:
                    last, last_name = order[kind], shown
            if r.for_clause is None:
                ctx.error("missing-for", f"rule `{r.name}` has no `for VAR in COLLECTION`", r.name_span,
                          "add e.g. `for project in projects` after the metadata")
            if not r.requires:
                ctx.error("missing-require", f"rule `{r.name}` has no `require`", r.name_span,
                          "add at least one `require CONDITION`")
            sev = r.meta.get("severity")
            if sev is not None and sev.value not in SEVERITIES:
                ctx.error("bad-severity", f"unknown severity `{sev.value}`", sev.value_span,
                          did_you_mean(sev.value, SEVERITIES), (f"severities: {', '.join(SEVERITIES)}",))
            enf = r.meta.get("enforcement")
            if enf is not None and enf.value not in ENFORCEMENTS:
                ctx.error("bad-enforcement", f"unknown enforcement `{enf.value}`", enf.value_span,
                          did_you_mean(enf.value, ENFORCEMENTS), (f"enforcement levels: {', '.join(ENFORCEMENTS)}",))


def _statement_kind(st: Any) -> tuple[str, Any]:
    if isinstance(st, ast.Meta):
        return "meta", st.span
    if isinstance(st, ast.ForClause):
        return "for", st.span
    if isinstance(st, ast.Let):
        return "let", st.span
    if isinstance(st, ast.Require):
        return "require", st.span
    if isinstance(st, ast.Template):
        return "message", st.span
    return "remediation", st[1]


def check_rule_types(ctx: CheckContext) -> None:
    for m in ctx.modules:
        for r in m.rules:
            fc = r.for_clause
            if fc is None:
                continue
            scope = ctx.scope(m.package)
            subject_t: Type
            if isinstance(fc.collection, ast.Name) and fc.collection.name in ctx.collections:
                subject_t = ctx.collections[fc.collection.name].elem
            else:
                names = list(ctx.collections)
                hint = did_you_mean(fc.collection.text, names)
                ctx.error("unknown-collection", f"`{fc.collection.text}` is not a collection", fc.collection.span,
                          hint, (f"collections: {', '.join(names)}",))
                from ..types import ANY
                subject_t = ANY
            if _binds_global(fc.var, scope):
                ctx.error("shadowed-name", f"`{fc.var}` is already a collection or param name", fc.var_span,
                          f"use a singular name, e.g. `for {fc.var.rstrip('s') or 'x'} in {fc.var}`"
                          if fc.var in ctx.collections else "choose another name")
            scope = scope.child(fc.var, subject_t)
            if fc.where is not None:
                _want_condition(infer(fc.where, scope), fc.where, scope, "the `where` scope")
            for let in r.lets:
                t = infer(let.expr, scope)
                if let.name in scope.locals or _binds_global(let.name, scope):
                    ctx.error("shadowed-name", f"`{let.name}` is already a name in this rule", let.name_span,
                              "choose another name for the `let`")
                scope = scope.child(let.name, t)
            for req in r.requires:
                _want_condition(infer(req.cond, scope), req.cond, scope, "`require`")
                if req.otherwise is not None:
                    _check_template(req.otherwise, scope)
            if r.message is not None:
                _check_template(r.message, scope)


def _binds_global(name: str, scope: Scope) -> bool:
    return name in scope.collections or name in scope.params


def _want_condition(t: Type, e: ast.Expr, scope: Scope, what: str) -> None:
    from ..types import NULL, is_any

    if not (t == BOOL or is_any(t)):
        hint = "compare it with something, e.g. `x > 0` or `x is present`"
        if t == NULL:
            hint = None
        scope.error("type-mismatch", f"{what} needs a true/false condition, but `{e.text}` is a {t}", e.span, hint)


def _check_template(t: ast.Template, scope: Scope) -> None:
    from ..types import NUMBER, is_any

    for part in t.parts:
        if isinstance(part, ast.TemplateField):
            ft = infer(part.expr, scope)
            if part.places is not None and not (ft == NUMBER or is_any(ft)):
                scope.error("bad-template", f"`:.{part.places}f` formats numbers, and `{part.expr.text}` is a {ft}",
                            part.spec_span or part.expr.span, "remove the format, or format a number")


def check_waivers(ctx: CheckContext) -> None:
    from ..program import enforcement_of

    for m in ctx.modules:
        for w in m.waivers:
            for key, val in (("rule", w.rule), ("reason", w.reason), ("approved_by", w.approved_by),
                             ("expires", w.expires)):
                if val is None and not (key == "expires" and w.expires_span is not None):
                    ctx.error("waiver-incomplete", f"waiver `{w.name}` has no `{key}`", w.span,
                              "a waiver needs `rule`, `subjects`, `reason`, `approved_by` and `expires`")
            if w.subjects is None and w.where is None:
                ctx.error("waiver-incomplete", f"waiver `{w.name}` has no `subjects`", w.span,
                          'name them (`subjects "PRJ-000123"`) or select them (`subjects where ...`)')
            if w.rule is None:
                continue
            rule = ctx.rules.get(w.rule)
            if rule is None:
                ctx.error("unknown-rule", f"waiver `{w.name}` names unknown rule `{w.rule}`", w.rule_span,
                          did_you_mean(w.rule, ctx.rules), (f"rules: {one_of(ctx.rules)}",))
                continue
            if enforcement_of(rule) == "hard":
                ctx.error("waiver-of-hard-rule", f"rule `{w.rule}` is `enforcement hard` and cannot be waived",
                          w.rule_span, "fix the finding, or change the rule's enforcement through policy review")
            if w.where is not None and rule.for_clause is not None:
                fc = rule.for_clause
                coll = fc.collection.name if isinstance(fc.collection, ast.Name) else ""
                if coll in ctx.collections:
                    scope = ctx.scope(rule.package).child(fc.var, ctx.collections[coll].elem)
                    _want_condition(infer(w.where, scope), w.where, scope, "a waiver's `subjects where`")


def check_tests(ctx: CheckContext) -> None:
    for m in ctx.modules:
        for t in m.tests:
            for g in t.givens:
                if g.collection is not None and g.collection not in ctx.collections:
                    ctx.error("unknown-collection", f"`given {g.collection}`: not a collection", g.span,
                              did_you_mean(g.collection, ctx.collections),
                              (f"collections: {', '.join(ctx.collections)}",))
            for e in t.expects:
                if e.rule not in ctx.rules:
                    ctx.error("unknown-rule", f"test `{t.name}` expects unknown rule `{e.rule}`", e.rule_span,
                              did_you_mean(e.rule, ctx.rules))
                if e.outcome not in OUTCOMES:
                    ctx.error("bad-outcome", f"unknown outcome `{e.outcome}`", e.outcome_span,
                              did_you_mean(e.outcome, OUTCOMES), (f"outcomes: {', '.join(OUTCOMES)}",))


CHECK_STAGES: tuple[Stage, ...] = (
    Stage("collect_params", collect_params),      # first: everything else reads params
    Stage("collect_rules", collect_rules),        # before waivers and tests, which name rules
    Stage("check_structure", check_structure),
    Stage("check_rule_types", check_rule_types),
    Stage("check_waivers", check_waivers),
    Stage("check_tests", check_tests),
)


def check_modules(
    modules: list[ast.Module],
    functions: dict[str, FunctionSpec],
    *,
    overrides: dict[str, str] | None = None,
    sources: dict[str, SourceFile] | None = None,
    collections: dict[str, ListType] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[Program, list[Diagnostic], list[str]]:
    """Run every stage. Returns (program, diagnostics, usage errors from overrides)."""
    ctx = CheckContext(modules, functions, collections or schema_collections(), dict(overrides or {}), [], {}, {}, {}, [], set())
    for stage in CHECK_STAGES:
        t0 = time.perf_counter()
        stage.run(ctx)
        if timings is not None:
            timings[stage.name] = time.perf_counter() - t0
    rules = [r for m in modules for r in m.rules if ctx.rules.get(r.id) is r]
    program = Program(
        modules=modules,
        rules=rules,
        params=ctx.params,
        waivers=[w for m in modules for w in m.waivers],
        tests=[t for m in modules for t in m.tests],
        functions=functions,
        sources=dict(sources or {}),
        duration_sums=ctx.duration_sums,
    )
    return program, ctx.diags, ctx.usage_errors
