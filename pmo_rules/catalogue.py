"""`pmo-rules catalogue`: a Markdown catalogue of every rule, grouped by package.

For each rule: id, title, severity, enforcement, tags, the standard it implements (`ref`),
owner, description, the subject (collection, `for` variable and `where` scope), the checks
(`require`s), the params it uses with their defaults, and where it is defined. Packages
come in alphabetical order, rules in the order of their files; the output depends only on
the policy files (no dates, versions or absolute paths), so a committed catalogue can be
compared with a fresh one. `policies/README.md` is generated this way:

    pmo-rules catalogue policies --output policies/README.md
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import ast
from .check import check_modules
from .diagnostics import DiagnosticList
from .errors import PolicyError, UsageError
from .fmt import expr_text
from .parse import parse_file
from .program import enforcement_of, severity_of

REGENERATE = "pmo-rules catalogue policies --output policies/README.md"

__all__ = ["REGENERATE", "CatalogueEntry", "load_modules", "render_catalogue", "rule_params"]


@dataclass(frozen=True)
class CatalogueEntry:
    rule: ast.Rule
    file: str
    params: tuple[ast.Param, ...]


# ------------------------------------------------------------------ loading --


def load_modules(paths: list[Path], functions: dict | None = None) -> list[ast.Module]:
    """Parse (and, with `functions`, check) the policy files under `paths`.

    File names are relative to the folder given (or the bare file name), so the
    catalogue reads the same from any working directory. `*_test.pmo` files are skipped.
    """
    named: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*.pmo")):
                if not f.name.endswith("_test.pmo"):
                    named.append((f, f.relative_to(p).as_posix()))
        elif p.is_file():
            named.append((p, p.name))
        else:
            raise UsageError(f"{p}: no such policy file or folder")
    if not named:
        raise UsageError("no .pmo policy files found in " + ", ".join(str(p) for p in paths))
    diags = DiagnosticList()
    modules = []
    for f, name in named:
        module, source, file_diags = parse_file(f, name)
        diags.sources[name] = source
        diags.extend(file_diags)
        if module is not None:
            modules.append(module)
    if functions is not None and not diags.errors:
        _, check_diags, _ = check_modules(modules, functions, sources=diags.sources)
        diags.extend(check_diags)
    if diags.errors:
        raise PolicyError(diags)
    return modules


# ------------------------------------------------------------------ analysis --


def _walk(e: ast.Expr) -> Iterator[ast.Expr]:
    yield e
    if isinstance(e, (ast.Binary, ast.Compare)):
        yield from _walk(e.left)
        yield from _walk(e.right)
    elif isinstance(e, (ast.Unary, ast.IsPresent)):
        yield from _walk(e.operand)
    elif isinstance(e, ast.Attr):
        yield from _walk(e.obj)
    elif isinstance(e, ast.Index):
        yield from _walk(e.obj)
        yield from _walk(e.key)
    elif isinstance(e, ast.Call):
        for a in e.args:
            yield from _walk(a)
    elif isinstance(e, ast.Comprehension):
        yield from _walk(e.element)
        yield from _walk(e.collection)
        if e.where is not None:
            yield from _walk(e.where)
    elif isinstance(e, ast.ListLit):
        for i in e.items:
            yield from _walk(i)
    elif isinstance(e, ast.ObjectLit):
        for v in e.values:
            yield from _walk(v)


def _rule_exprs(rule: ast.Rule) -> Iterator[ast.Expr]:
    fc = rule.for_clause
    if fc is not None:
        yield fc.collection
        if fc.where is not None:
            yield fc.where
    for let in rule.lets:
        yield let.expr
    for req in rule.requires:
        yield req.cond
        if req.otherwise is not None:
            yield from _template_exprs(req.otherwise)
    if rule.message is not None:
        yield from _template_exprs(rule.message)


def _template_exprs(t: ast.Template) -> Iterator[ast.Expr]:
    for part in t.parts:
        if isinstance(part, ast.TemplateField):
            yield part.expr


def rule_params(rule: ast.Rule, params: dict[str, ast.Param]) -> tuple[ast.Param, ...]:
    """The package params a rule reads, in order of first use (local names shadow them)."""
    local = {let.name for let in rule.lets}
    if rule.for_clause is not None:
        local.add(rule.for_clause.var)
    used: list[str] = []
    for top in _rule_exprs(rule):
        for e in _walk(top):
            if isinstance(e, ast.Comprehension):
                local.add(e.var)
    for top in _rule_exprs(rule):
        for e in _walk(top):
            if isinstance(e, ast.Name) and e.name in params and e.name not in local and e.name not in used:
                used.append(e.name)
    return tuple(params[n] for n in used)


# ------------------------------------------------------------------ markdown --


def _code(text: str) -> str:
    if "`" not in text:
        return f"`{text}`"
    return f"`` {text} ``"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _para(text: str) -> str:
    """Plain text from a policy string, safe in Markdown (no HTML, no accidental markup)."""
    return re.sub(r"([\\`*<>\[\]|])", r"\\\1", text)


def _slug(text: str, seen: dict[str, int]) -> str:
    """The anchor GitHub gives a heading (lowercase, punctuation dropped, spaces to `-`)."""
    base = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base}-{n}"


def render_catalogue(modules: list[ast.Module]) -> str:
    by_package: dict[str, list[ast.Module]] = {}
    for m in modules:
        by_package.setdefault(m.package, []).append(m)
    packages = sorted(by_package)
    entries: dict[str, list[CatalogueEntry]] = {}
    for pkg in packages:
        params = {p.name: p for m in by_package[pkg] for p in m.params}
        entries[pkg] = [CatalogueEntry(r, m.file, rule_params(r, params))
                        for m in by_package[pkg] for r in m.rules]
    n_rules = sum(len(v) for v in entries.values())
    seen: dict[str, int] = {}
    anchors = {}
    for pkg in packages:
        anchors[pkg] = _slug(f"Package {pkg}", seen)
        for entry in entries[pkg]:
            anchors[entry.rule.id] = _slug(entry.rule.id, seen)

    out: list[str] = [
        "# Policy catalogue",
        "",
        f"<!-- Generated by `{REGENERATE}`. Do not edit by hand: edit the .pmo files and regenerate. -->",
        "",
        f"{n_rules} rule{'s' if n_rules != 1 else ''} in {len(packages)} package{'s' if len(packages) != 1 else ''}."
        " Severity is one of info, low, medium, high, critical; enforcement `hard` and `soft`"
        " failures block a run (exit 1) unless waived, `advisory` ones are reported only.",
        "",
        "## Contents",
        "",
    ]
    for pkg in packages:
        n = len(entries[pkg])
        out.append(f"- [Package {pkg}](#{anchors[pkg]}) ({n} rule{'s' if n != 1 else ''})")
        for entry in entries[pkg]:
            title = entry.rule.meta_value("title")
            out.append(f"  - [{entry.rule.id}](#{anchors[entry.rule.id]})" + (f": {_para(title)}" if title else ""))
    out.append("")
    for pkg in packages:
        out.extend(_package(pkg, by_package[pkg], entries[pkg]))
    return "\n".join(out).rstrip("\n") + "\n"


def _package(pkg: str, modules: list[ast.Module], entries: list[CatalogueEntry]) -> list[str]:
    files = ", ".join(f"[{m.file}]({m.file})" for m in modules)
    out = [f"## Package {pkg}", "", f"Defined in {files}.", ""]
    params = [p for m in modules for p in m.params]
    if params:
        out += ["| Param | Default | Description |", "|---|---|---|"]
        for p in params:
            out.append(f"| `{p.package}.{p.name}` | {_cell(_code(p.default.source))} | {_cell(_para(p.description or ''))} |")
        out.append("")
    for entry in entries:
        out.extend(_rule(entry))
    return out


def _rule(entry: CatalogueEntry) -> list[str]:
    r = entry.rule
    title = r.meta_value("title")
    out = [f"### {r.id}", ""]
    if title:
        out += [f"**{_para(title)}**", ""]
    description = r.meta_value("description")
    if description:
        out += [_para(description), ""]
    fc = r.for_clause
    subject = "-"
    if fc is not None:
        subject = f"{_code(expr_text(fc.collection))} (each as {_code(fc.var)})"
        if fc.where is not None:
            subject += f", where {_code(expr_text(fc.where))}"
    rows = [
        ("Id", _code(r.id)),
        ("Severity", severity_of(r)),
        ("Enforcement", enforcement_of(r)),
        ("Subject", subject),
    ]
    tags = r.meta_value("tags")
    if tags:
        rows.append(("Tags", ", ".join(_code(t) for t in tags)))
    ref = r.meta_value("ref")
    if ref:
        rows.append(("Standard", _para(ref)))
    owner = r.meta_value("owner")
    if owner:
        rows.append(("Owner", _para(owner)))
    if entry.params:
        rows.append(("Params", "; ".join(f"{_code(p.name)} = {_code(p.default.source)}" for p in entry.params)))
    rows.append(("Defined in", f"[{entry.file}:{r.span.line}]({entry.file}#L{r.span.line})"))
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {_cell(v)} |" for k, v in rows]
    out.append("")
    if r.requires:
        out.append("Requires:")
        out.append("")
        for req in r.requires:
            out.append(f"- {_code(expr_text(req.cond))}")
        out.append("")
    if r.remediation:
        out += [f"Remediation: {_para(r.remediation)}", ""]
    return out
