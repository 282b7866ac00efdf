"""Frozen AST nodes with source spans, built from the lark tree by `parse.py`.

Later stages (check, evaluate, fmt, explain) only ever see these nodes, never lark trees.
Each expression node also carries `text`: its canonical source form, used as the evidence
key (`cpi(project)`, `project.budget.actual_cost`) and in explanations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .source import Span

# ------------------------------------------------------------------ expressions --


@dataclass(frozen=True, slots=True)
class Expr:
    span: Span

    @property
    def text(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Any  # Decimal | str | bool | None | date | Duration
    kind: str  # number | text | bool | null | date | duration
    source: str  # the literal as written (`250k`, `14d`, `"x"`)

    @property
    def text(self) -> str:
        return self.source


@dataclass(frozen=True, slots=True)
class ListLit(Expr):
    items: tuple[Expr, ...]

    @property
    def text(self) -> str:
        return "[" + ", ".join(i.text for i in self.items) + "]"


@dataclass(frozen=True, slots=True)
class ObjectLit(Expr):
    keys: tuple[str, ...]
    values: tuple[Expr, ...]

    @property
    def text(self) -> str:
        return "{" + ", ".join(f"{_key(k)}: {v.text}" for k, v in zip(self.keys, self.values)) + "}"


@dataclass(frozen=True, slots=True)
class Name(Expr):
    name: str

    @property
    def text(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Today(Expr):
    @property
    def text(self) -> str:
        return "today"


@dataclass(frozen=True, slots=True)
class Attr(Expr):
    obj: Expr
    name: str

    @property
    def text(self) -> str:
        return f"{_wrap(self.obj, 13)}.{self.name}"


@dataclass(frozen=True, slots=True)
class Index(Expr):
    obj: Expr
    key: Expr

    @property
    def text(self) -> str:
        return f"{_wrap(self.obj, 13)}[{self.key.text}]"


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-" | "not"
    operand: Expr

    @property
    def text(self) -> str:
        if self.op == "not":
            return f"not {_wrap(self.operand, 4)}"
        return f"-{_wrap(self.operand, 12)}"


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # + - * / ?? and or implies
    left: Expr
    right: Expr

    @property
    def text(self) -> str:
        p = PRECEDENCE[self.op]
        right_assoc = self.op in ("??", "implies")
        lt = _wrap(self.left, p + 1 if right_assoc else p)
        rt = _wrap(self.right, p if right_assoc else p + 1)
        return f"{lt} {self.op} {rt}"


@dataclass(frozen=True, slots=True)
class Compare(Expr):
    op: str  # == != < <= > >= in "not in" contains matches
    left: Expr
    right: Expr

    @property
    def text(self) -> str:
        return f"{_wrap(self.left, 6)} {self.op} {_wrap(self.right, 6)}"


@dataclass(frozen=True, slots=True)
class IsPresent(Expr):
    operand: Expr
    negated: bool  # True for `is missing`

    @property
    def text(self) -> str:
        return f"{_wrap(self.operand, 6)} is {'missing' if self.negated else 'present'}"


@dataclass(frozen=True, slots=True)
class Call(Expr):
    func: str
    args: tuple[Expr, ...]
    name_span: Span

    @property
    def text(self) -> str:
        return f"{self.func}({', '.join(a.text for a in self.args)})"


@dataclass(frozen=True, slots=True)
class Comprehension(Expr):
    agg: str
    element: Expr
    var: str
    collection: Expr
    where: Expr | None
    agg_span: Span

    @property
    def text(self) -> str:
        w = f" where {self.where.text}" if self.where is not None else ""
        return f"{self.agg}({self.element.text} for {self.var} in {_wrap(self.collection, 7)}{w})"


# Binding strength used to print canonical text with the fewest parentheses.
PRECEDENCE = {
    "implies": 1, "or": 2, "and": 3, "not": 4, "compare": 5,
    "+": 7, "-": 7, "*": 8, "/": 8, "??": 9, "neg": 10,
}


def _prec(e: Expr) -> int:
    if isinstance(e, Binary):
        return PRECEDENCE[e.op]
    if isinstance(e, Unary):
        return 4 if e.op == "not" else 10
    if isinstance(e, (Compare, IsPresent)):
        return 5
    return 20


def _wrap(e: Expr, min_prec: int) -> str:
    return f"({e.text})" if _prec(e) < min_prec else e.text


def _key(k: str) -> str:
    import re

    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
        return k
    escaped = k.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + escaped + '"'


# -------------------------------------------------------------------- templates --


@dataclass(frozen=True, slots=True)
class TemplateField:
    expr: Expr
    places: int | None  # `{x:.2f}` -> 2
    spec_span: Span | None


@dataclass(frozen=True, slots=True)
class Template:
    span: Span
    parts: tuple[str | TemplateField, ...]
    source: str  # the string literal as written, quotes included


# ------------------------------------------------------------------- statements --


@dataclass(frozen=True, slots=True)
class Param:
    span: Span
    name: str
    default: Literal
    description: str | None
    package: str


@dataclass(frozen=True, slots=True)
class Meta:
    span: Span
    key: str  # title description severity enforcement tags owner ref
    value: Any  # str, or tuple[str, ...] for tags
    value_span: Span


@dataclass(frozen=True, slots=True)
class ForClause:
    span: Span
    var: str
    var_span: Span
    collection: Expr
    where: Expr | None


@dataclass(frozen=True, slots=True)
class Let:
    span: Span
    name: str
    name_span: Span
    expr: Expr


@dataclass(frozen=True, slots=True)
class Require:
    span: Span
    cond: Expr
    otherwise: Template | None


@dataclass(frozen=True, slots=True)
class Rule:
    span: Span
    name: str
    package: str
    name_span: Span
    statements: tuple[Any, ...]  # as written, in order, for the checker's order check
    meta: dict[str, Meta] = field(default_factory=dict, hash=False, compare=False)
    for_clause: ForClause | None = None
    lets: tuple[Let, ...] = ()
    requires: tuple[Require, ...] = ()
    message: Template | None = None
    remediation: str | None = None

    @property
    def id(self) -> str:
        return f"{self.package}.{self.name}"

    def meta_value(self, key: str, default: Any = None) -> Any:
        m = self.meta.get(key)
        return m.value if m is not None else default


@dataclass(frozen=True, slots=True)
class Waiver:
    span: Span
    name: str
    package: str
    rule: str | None
    rule_span: Span | None
    subjects: tuple[str, ...] | None
    where: Expr | None
    reason: str | None
    approved_by: str | None
    expires: Any  # date | None
    expires_span: Span | None
    statements: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Given:
    span: Span
    collection: str | None  # None for a data file
    expr: Expr | None
    file: str | None


@dataclass(frozen=True, slots=True)
class Expect:
    span: Span
    rule: str
    rule_span: Span
    outcome: str
    outcome_span: Span
    subject: str


@dataclass(frozen=True, slots=True)
class Test:
    span: Span
    name: str
    package: str
    givens: tuple[Given, ...]
    as_of: Any  # date | None
    expects: tuple[Expect, ...]


@dataclass(frozen=True, slots=True)
class Module:
    file: str
    package: str
    package_span: Span
    params: tuple[Param, ...]
    rules: tuple[Rule, ...]
    waivers: tuple[Waiver, ...]
    tests: tuple[Test, ...]
