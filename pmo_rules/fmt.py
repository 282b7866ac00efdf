"""`pmo-rules fmt`: print a policy file in its canonical form, keeping every comment.

The canonical form is printed from the AST, so formatting can never change what a file
means (the tests check that `parse(fmt(x))` equals `parse(x)` up to spans):

- `package` line, a blank line, the params (one per line), then one blank line between
  declarations; rule, waiver and test bodies are indented 4 spaces;
- a rule body in the fixed order: metadata, `for`, `let`s, `require`s, `message`,
  `remediation` (statements of one kind keep their order);
- expressions with canonical spacing and the fewest parentheses; literals, strings and
  message templates exactly as written (`250k`, `20%`, `14d`, `"^PRJ-\\d{6}$"`);
- lines longer than 100 characters are broken: `else "..."` on its own line (indent 8),
  a long `where` on its own line (indent 8) with its conditions broken before
  `and`/`or` and aligned under the first, comprehensions before `for`/`where`, lists and
  objects after a `,`, aligned under their first item.

Comments are found by a small scanner (a `#` outside a string) and re-attached: a comment
on its own line stays before the statement or declaration that follows it (with the
blank lines around it), a comment after code stays at the end of that statement's line.
A comment inside a multi-line statement moves to just before it. Blank lines between
statements and between params are kept (at most one).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lark import Token, Tree

from . import ast
from .diagnostics import Diagnostic
from .grammar import parser
from .parse import parse_text
from .source import Span, decode_policy_bytes, normalise_newlines

WIDTH = 100
INDENT = "    "

__all__ = ["FormatError", "WIDTH", "expr_text", "format_bytes", "format_text", "layout", "scan_comments"]


class FormatError(Exception):
    """The text does not parse; it cannot be formatted. Carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("; ".join(f"{d.span}: {d.message}" if d.span else d.message for d in diagnostics))


# ===================================================================== comments ==


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int
    text: str  # from `#` to the end of the line, trailing white space removed
    own_line: bool  # nothing but white space before it on its line


def scan_comments(text: str) -> list[Comment]:
    """Every `#` comment outside a string, in order. Strings are single-line `"..."`."""
    out: list[Comment] = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        i, n = 0, len(line)
        in_str = False
        while i < n:
            c = line[i]
            if in_str:
                if c == "\\":
                    i += 2
                    continue
                if c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "#":
                out.append(Comment(lineno, i + 1, line[i:].rstrip(), not line[:i].strip()))
                break
            i += 1
    return out


# ================================================================== expressions ==


def _prec(e: ast.Expr) -> int:
    return ast._prec(e)


def _key_text(k: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
        return k
    body = k.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{body}"'


def _is_coalesce(e: ast.Expr) -> bool:
    return isinstance(e, ast.Binary) and e.op == "??"


def _needs(e: ast.Expr, min_prec: int, parent: str = "") -> bool:
    """Parentheses needed by precedence, or kept for readers where the precedence is easy
    to misread: `(a ?? 0) > 0` rather than `a ?? 0 > 0`, `(a and b) or c`."""
    if _prec(e) < min_prec:
        return True
    if not isinstance(e, ast.Binary):
        return False
    if e.op == "??":
        return parent not in ("", "and", "or", "implies", "??")
    return e.op == "and" and parent == "or"


def _wrap(e: ast.Expr, min_prec: int, parent: str = "") -> str:
    t = expr_text(e)
    return f"({t})" if _needs(e, min_prec, parent) else t


def expr_text(e: ast.Expr) -> str:
    """Canonical one-line source of an expression, with the fewest parentheses.

    The same as `Expr.text` (the evidence key), except where that text would not parse
    back to the same tree: a comprehension's collection is parenthesised when it is not
    a plain operand (the grammar reads it at `+ -` level), and object keys that need
    quoting keep their backslashes.
    """
    t = type(e)
    if t is ast.Literal:
        return e.source  # type: ignore[attr-defined]
    if t is ast.Name:
        return e.name  # type: ignore[attr-defined]
    if t is ast.Today:
        return "today"
    if t is ast.ListLit:
        return "[" + ", ".join(expr_text(i) for i in e.items) + "]"  # type: ignore[attr-defined]
    if t is ast.ObjectLit:
        return "{" + ", ".join(f"{_key_text(k)}: {expr_text(v)}"
                               for k, v in zip(e.keys, e.values)) + "}"  # type: ignore[attr-defined]
    if t is ast.Attr:
        return f"{_wrap(e.obj, 13)}.{e.name}"  # type: ignore[attr-defined]
    if t is ast.Index:
        return f"{_wrap(e.obj, 13)}[{expr_text(e.key)}]"  # type: ignore[attr-defined]
    if t is ast.Unary:
        if e.op == "not":  # type: ignore[attr-defined]
            return f"not {_wrap(e.operand, 4, 'not')}"  # type: ignore[attr-defined]
        return f"-{_wrap(e.operand, 12)}"  # type: ignore[attr-defined]
    if t is ast.Binary or t is ast.Compare:
        parts = _chain(e)
        out = _wrap_part(parts[0])
        for op, x, par in parts[1:]:
            out += f" {op} " + (f"({expr_text(x)})" if par else expr_text(x))
        return out
    if t is ast.IsPresent:
        return f"{_wrap(e.operand, 6, 'is')} is {'missing' if e.negated else 'present'}"  # type: ignore[attr-defined]
    if t is ast.Call:
        return f"{e.func}({', '.join(expr_text(a) for a in e.args)})"  # type: ignore[attr-defined]
    if t is ast.Comprehension:
        return _comp_head(e) + " " + _comp_for(e) + (  # type: ignore[arg-type]
            f" where {expr_text(e.where)}" if e.where is not None else "") + ")"  # type: ignore[attr-defined]
    raise TypeError(f"not an expression: {e!r}")  # pragma: no cover


def _wrap_part(part: tuple[str | None, ast.Expr, bool]) -> str:
    _, x, par = part
    return f"({expr_text(x)})" if par else expr_text(x)


def _chain(e: ast.Expr) -> list[tuple[str | None, ast.Expr, bool]]:
    """A binary operator chain as (operator, operand, needs parentheses) triples."""
    if isinstance(e, ast.Compare):
        return [(None, e.left, _needs(e.left, 6, "compare")), (e.op, e.right, _needs(e.right, 6, "compare"))]
    assert isinstance(e, ast.Binary)
    p = ast.PRECEDENCE[e.op]
    if e.op in ("??", "implies"):  # right-associative: a ?? (b ?? c)
        items: list[tuple[str | None, ast.Expr]] = [(None, e.left)]
        cur: ast.Expr = e.right
        while isinstance(cur, ast.Binary) and cur.op == e.op:
            items.append((e.op, cur.left))
            cur = cur.right
        items.append((e.op, cur))
        return [(op, x, _needs(x, p if i == len(items) - 1 else p + 1, e.op)) for i, (op, x) in enumerate(items)]
    ops = {"+": ("+", "-"), "-": ("+", "-"), "*": ("*", "/"), "/": ("*", "/")}.get(e.op, (e.op,))
    rest: list[tuple[str | None, ast.Expr]] = []
    cur = e
    while isinstance(cur, ast.Binary) and cur.op in ops:  # left-associative: (a - b) + c
        rest.append((cur.op, cur.right))
        cur = cur.left
    items = [(None, cur)] + list(reversed(rest))
    return [(op, x, _needs(x, p if i == 0 else p + 1, e.op)) for i, (op, x) in enumerate(items)]


def _comp_head(e: ast.Comprehension) -> str:
    return f"{e.agg}({expr_text(e.element)}"


def _comp_for(e: ast.Comprehension) -> str:
    return f"for {e.var} in {_wrap(e.collection, 7)}"


# --------------------------------------------------------------------- layout --


def layout(e: ast.Expr, prefix: str, suffix: str = "", parens: bool = False) -> list[str]:
    """Lines printing `prefix + e + suffix`, broken where a line would exceed WIDTH.

    Continuation lines align under the start of the piece they continue. Only white space
    is ever inserted, between tokens, so the lines always parse to the same tree.
    """
    text = expr_text(e)
    if parens:
        text = f"({text})"
    one = prefix + text + suffix
    if len(one) <= WIDTH:
        return [one]
    if parens:
        return layout(e, prefix + "(", ")" + suffix)
    if isinstance(e, ast.Compare):
        (_, left, lpar), (op, right, rpar) = _chain(e)
        ltext = f"({expr_text(left)})" if lpar else expr_text(left)
        inside = layout(right, f"{prefix}{ltext} {op} ", suffix, rpar)
        if _fits(inside):
            return inside
        before = _layout_chain(_chain(e), prefix, suffix)
        return before if _fits(before) else inside
    if isinstance(e, ast.Binary):
        return _layout_chain(_chain(e), prefix, suffix)
    if isinstance(e, ast.Comprehension):
        return _layout_comprehension(e, prefix, suffix)
    if isinstance(e, ast.ListLit) and e.items:
        return _layout_items("[", [("", x) for x in e.items], "]", prefix, suffix)
    if isinstance(e, ast.ObjectLit) and e.keys:
        return _layout_items("{", [(f"{_key_text(k)}: ", v) for k, v in zip(e.keys, e.values)], "}",
                             prefix, suffix)
    if isinstance(e, ast.Call) and e.args:
        head = ", ".join(expr_text(a) for a in e.args[:-1])
        return layout(e.args[-1], f"{prefix}{e.func}(" + (head + ", " if head else ""), ")" + suffix)
    if isinstance(e, ast.IsPresent):
        word = " is missing" if e.negated else " is present"
        return layout(e.operand, prefix, word + suffix, _needs(e.operand, 6, "is"))
    if isinstance(e, ast.Unary) and e.op == "not":
        return layout(e.operand, prefix + "not ", suffix, _needs(e.operand, 4, "not"))
    return [one]


def _fits(lines: list[str]) -> bool:
    return all(len(line) <= WIDTH for line in lines)


def _layout_chain(parts: list[tuple[str | None, ast.Expr, bool]], prefix: str, suffix: str) -> list[str]:
    """Greedy fill, breaking before an operator; continuation aligned under the first operand."""
    ind = " " * len(prefix)
    lines: list[str] = []
    _, first, par = parts[0]
    sub = layout(first, prefix, "", par)
    lines.extend(sub[:-1])
    cur = sub[-1]
    n = len(parts)
    for i in range(1, n):
        op, x, par = parts[i]
        tail = suffix if i == n - 1 else ""
        piece = f" {op} " + (f"({expr_text(x)})" if par else expr_text(x))
        if len(cur) + len(piece) + len(tail) <= WIDTH:
            cur += piece + tail
            continue
        lines.append(cur)
        sub = layout(x, f"{ind}{op} ", tail, par)
        lines.extend(sub[:-1])
        cur = sub[-1]
    lines.append(cur)
    return lines


def _layout_comprehension(e: ast.Comprehension, prefix: str, suffix: str) -> list[str]:
    ind = " " * (len(prefix) + len(e.agg) + 1)
    head = prefix + _comp_head(e)
    forp = _comp_for(e)
    close = ")" + suffix
    if e.where is None:
        return layout(e.element, prefix + e.agg + "(", "") + [ind + forp + close]
    first = head + " " + forp
    if len(first) <= WIDTH:
        return [first] + layout(e.where, ind + "where ", close)
    return layout(e.element, prefix + e.agg + "(", "") + [ind + forp] + layout(e.where, ind + "where ", close)


def _layout_items(open_: str, items: list[tuple[str, ast.Expr]], close: str, prefix: str,
                  suffix: str) -> list[str]:
    """Greedy fill of list items or object fields, breaking after `,`, aligned after the bracket."""
    ind = " " * (len(prefix) + 1)
    lines: list[str] = []
    cur = prefix + open_
    broke = False
    n = len(items)
    for i, (kp, x) in enumerate(items):
        tail = close + suffix if i == n - 1 else ","
        piece = kp + expr_text(x)
        sep = "" if i == 0 else " "
        if len(cur) + len(sep) + len(piece) + len(tail) <= WIDTH and not broke:
            cur += sep + piece + tail
            continue
        if i > 0:
            lines.append(cur)
            start = ind
        else:
            start = cur
        sub = layout(x, start + kp, tail)
        lines.extend(sub[:-1])
        cur = sub[-1]
        broke = len(sub) > 1  # an item printed over several lines: the next starts a line
    lines.append(cur)
    return lines


# ================================================================== documents ==


BLANK = None  # a blank line in a unit's leading comment sequence


@dataclass
class _Unit:
    """One printed statement (or header/closer line) and where it came from."""

    first: tuple[int, int]  # source (line, column) of its first token
    last_line: int  # source line of its last token
    lines: list[str]  # printed, indented
    cindent: str  # indentation of comments printed before it
    kind: str = "stmt"  # stmt | first | closer | decl
    leading: list[str | None] = field(default_factory=list)
    inner: list[str] = field(default_factory=list)  # comments from inside its source lines
    trailing: str | None = None


def _tok_pos(tok: Token) -> tuple[int, int]:
    return (tok.line or 1, tok.column or 1)


def _meta_range(tree: Tree) -> tuple[tuple[int, int], int]:
    return (tree.meta.line, tree.meta.column), tree.meta.end_line


def _first_token(tree: Tree, type_: str) -> Token:
    for c in tree.children:
        if isinstance(c, Token) and c.type == type_:
            return c
    raise AssertionError(type_)  # pragma: no cover


class _Printer:
    def __init__(self, text: str, module: ast.Module, tree: Tree):
        self.text = text
        self.module = module
        self.tree = tree
        self.lines = text.split("\n")
        self.units: list[_Unit] = []

    def unit(self, first: tuple[int, int], last_line: int, lines: list[str], cindent: str,
             kind: str = "stmt") -> _Unit:
        u = _Unit(first, last_line, lines, cindent, kind)
        self.units.append(u)
        return u

    # ---------------------------------------------------------------- building --

    def build(self) -> list[list[_Unit]]:
        """The document: a list of sections (lists of units) in output order."""
        items = self.tree.children
        pkg = items[0]
        first, last = _meta_range(pkg)
        pkg_unit = self.unit(first, last, [f"package {self.module.package}"], "", "decl")
        params: list[_Unit] = []
        decls: list[list[_Unit]] = []
        counters = {"param_decl": 0, "rule_decl": 0, "waiver_decl": 0, "test_decl": 0}
        for item in items[1:]:
            if not isinstance(item, Tree):
                continue
            i = counters[item.data]
            counters[item.data] += 1
            if item.data == "param_decl":
                params.append(self.param(item, self.module.params[i]))
            elif item.data == "rule_decl":
                decls.append(self.rule(item, self.module.rules[i]))
            elif item.data == "waiver_decl":
                decls.append(self.waiver(item, self.module.waivers[i]))
            else:
                decls.append(self.test(item, self.module.tests[i]))
        for j, p in enumerate(params):
            p.kind = "first" if j == 0 else "stmt"
        sections: list[list[_Unit]] = [[pkg_unit]]
        if params:
            sections.append(params)
        sections.extend(decls)
        return sections

    def param(self, tree: Tree, p: ast.Param) -> _Unit:
        first, last = _meta_range(tree)
        desc = tree.children[4]
        line = f"param {p.name} = {p.default.source}" + (f" {desc.value}" if desc is not None else "")
        return self.unit(first, last, [line], "")

    def _block(self, tree: Tree, header: str, body: list[_Unit]) -> list[_Unit]:
        kw_tok = tree.children[0]
        lbrace = _first_token(tree, "LBRACE")
        rbrace = _first_token(tree, "RBRACE")
        head = _Unit(_tok_pos(kw_tok), lbrace.line or 1, [header + " {"], "", "decl")
        close = _Unit(_tok_pos(rbrace), rbrace.line or 1, ["}"], INDENT, "closer")
        self.units.append(head)
        self.units.append(close)
        for j, u in enumerate(body):
            if j == 0:
                u.kind = "first"
        return [head, *body, close]

    def rule(self, tree: Tree, rule: ast.Rule) -> list[_Unit]:
        stmts = [st for st in tree.children if isinstance(st, Tree)]
        assert len(stmts) == len(rule.statements)
        body = []
        for st, node in zip(stmts, rule.statements):
            body.append((_RULE_ORDER[st.data], self.rule_stmt(st, node)))
        body.sort(key=lambda x: x[0])  # stable: statements of one kind keep their order
        return self._block(tree, f"rule {rule.name}", [u for _, u in body])

    def rule_stmt(self, st: Tree, node: object) -> _Unit:
        first, last = _meta_range(st)
        kw = str(st.children[0].value)
        if st.data == "meta_stmt":
            rest = st.children[1:]
            if kw == "tags":
                value = ", ".join(str(t.value) for t in rest if t.type == "STRING")
            else:
                value = str(rest[0].value)
            lines = [f"{INDENT}{kw} {value}"]
        elif st.data == "for_stmt":
            assert isinstance(node, ast.ForClause)
            lines = self.for_lines(node)
        elif st.data == "let_stmt":
            assert isinstance(node, ast.Let)
            lines = layout(node.expr, f"{INDENT}let {node.name} = ")
        elif st.data == "require_stmt":
            assert isinstance(node, ast.Require)
            lines = self.require_lines(node)
        elif st.data == "message_stmt":
            lines = [f"{INDENT}message {st.children[1].value}"]
        else:
            lines = [f"{INDENT}remediation {st.children[1].value}"]
        return self.unit(first, last, lines, INDENT)

    def for_lines(self, fc: ast.ForClause) -> list[str]:
        head = f"{INDENT}for {fc.var} in {expr_text(fc.collection)}"
        if fc.where is None:
            return layout(fc.collection, f"{INDENT}for {fc.var} in ")
        one = f"{head} where {expr_text(fc.where)}"
        if len(one) <= WIDTH:
            return [one]
        return layout(fc.collection, f"{INDENT}for {fc.var} in ") + layout(fc.where, INDENT * 2 + "where ")

    def require_lines(self, req: ast.Require) -> list[str]:
        prefix = f"{INDENT}require "
        if req.otherwise is None:
            return layout(req.cond, prefix)
        one = f"{prefix}{expr_text(req.cond)} else {req.otherwise.source}"
        if len(one) <= WIDTH:
            return [one]
        return layout(req.cond, prefix) + [f"{INDENT * 2}else {req.otherwise.source}"]

    def waiver(self, tree: Tree, w: ast.Waiver) -> list[_Unit]:
        body = []
        for st in tree.children:
            if not isinstance(st, Tree):
                continue
            first, last = _meta_range(st)
            kw = str(st.children[0].value)
            if st.data == "waiver_where":
                assert w.where is not None
                lines = layout(w.where, f"{INDENT}subjects where ")
            elif st.data == "waiver_subjects":
                lines = [f"{INDENT}subjects " + ", ".join(str(t.value) for t in st.children[1:]
                                                         if isinstance(t, Token) and t.type == "STRING")]
            else:
                lines = [f"{INDENT}{kw} {st.children[1].value}"]
            body.append(self.unit(first, last, lines, INDENT))
        return self._block(tree, f"waiver {w.name}", body)

    def test(self, tree: Tree, t: ast.Test) -> list[_Unit]:
        body: list[tuple[int, list[_Unit]]] = []
        gi = 0
        for st in tree.children:
            if not isinstance(st, Tree):
                continue
            first, last = _meta_range(st)
            if st.data == "given_stmt":
                g = t.givens[gi]
                gi += 1
                body.append((0, self.given(st, g)))
            elif st.data == "given_file":
                gi += 1
                body.append((0, [self.unit(first, last, [f"{INDENT}given {st.children[1].value}"], INDENT)]))
            elif st.data == "as_of_stmt":
                body.append((1, [self.unit(first, last, [f"{INDENT}as_of {st.children[1].value}"], INDENT)]))
            else:
                rule_tok, outcome_tok, subj_tok = st.children[1], st.children[2], st.children[4]
                line = f"{INDENT}expect {rule_tok.value} {outcome_tok.value} for {subj_tok.value}"
                body.append((2, [self.unit(first, last, [line], INDENT)]))
        body.sort(key=lambda x: x[0])
        flat = [u for _, us in body for u in us]
        return self._block(tree, f"test {t.name}", flat)

    def given(self, st: Tree, g: ast.Given) -> list[_Unit]:
        first, last = _meta_range(st)
        assert g.expr is not None
        prefix = f"{INDENT}given {g.collection} = "
        e = g.expr
        one = layout(e, prefix)
        if not (isinstance(e, ast.ListLit) and e.items) or (
                len(one) == 1 and not self._comments_inside(first[0], last)):
            return [self.unit(first, last, one, INDENT)]
        # A long list (or one with comments among its items): one item per line, so that
        # each item keeps its comments; `]` closes the last item's line.
        head = self.unit(first, e.span.line, [prefix + "["], INDENT)
        out = [head]
        n = len(e.items)
        for i, item in enumerate(e.items):
            tail = "," if i < n - 1 else "]"
            last_line = e.span.end_line if i == n - 1 else item.span.end_line
            out.append(self.unit((item.span.line, item.span.column), last_line,
                                 layout(item, INDENT * 2, tail), INDENT * 2, "first" if i == 0 else "stmt"))
        return out

    def _comments_inside(self, first_line: int, last_line: int) -> bool:
        for c in self.comments:
            if first_line <= c.line <= last_line and not (c.line == last_line and not c.own_line):
                return True
        return False

    # ---------------------------------------------------------------- comments --

    def attach(self, comments: list[Comment]) -> list[str | None]:
        """Give each comment to a unit; return the comments left for the end of the file."""
        units = sorted(self.units, key=lambda u: u.first)
        starts = [u.first for u in units]
        gaps: dict[int, list[Comment]] = {}
        tail: list[Comment] = []
        for c in comments:
            pos = (c.line, c.column)
            k = bisect.bisect_right(starts, pos)  # units[:k] start before the comment
            container = None
            for u in reversed(units[:k]):
                if u.first[0] <= c.line <= u.last_line:
                    container = u
                    break
            if container is not None and not c.own_line and c.line == container.last_line:
                container.trailing = c.text
            elif container is not None and (not c.own_line or container.first[0] < c.line < container.last_line):
                container.inner.append(c.text)
            elif k < len(units):
                gaps.setdefault(k, []).append(c)
            else:
                tail.append(c)
        for k, cs in gaps.items():
            u = units[k]
            u.leading = self._sequence([c.line for c in cs], [c.text for c in cs],
                                       u.first[0] if self._starts_line(u) else None)
        if tail:
            return self._sequence([c.line for c in tail], [c.text for c in tail], None)
        return []

    def _blank(self, line: int) -> bool:
        return 1 <= line <= len(self.lines) and not self.lines[line - 1].strip()

    def _sequence(self, lines: list[int], texts: list[str], unit_line: int | None) -> list[str | None]:
        seq: list[str | None] = []
        for ln, t in zip(lines, texts):
            if self._blank(ln - 1):
                seq.append(BLANK)
            seq.append(t)
        if unit_line is not None and self._blank(unit_line - 1):
            seq.append(BLANK)
        return seq

    def _starts_line(self, u: _Unit) -> bool:
        line, col = u.first
        return not self.lines[line - 1][: col - 1].strip()

    def blank_only(self) -> None:
        """Units with no comments before them still keep a blank line written before them."""
        for u in self.units:
            if not u.leading and self._starts_line(u) and self._blank(u.first[0] - 1):
                u.leading = [BLANK]

    # ---------------------------------------------------------------- printing --

    def render(self) -> str:
        self.comments = scan_comments(self.text)
        sections = self.build()
        tail = self.attach(self.comments)
        self.blank_only()
        out: list[str] = []
        for si, section in enumerate(sections):
            if si > 0:
                out.append("")
            for u in section:
                self._emit(u, out)
        if tail:
            seq = list(tail)
            while seq and seq[-1] is BLANK:
                seq.pop()
            for item in seq:
                out.append("" if item is BLANK else item)
        # Collapse blank runs (blank lines never occur inside a printed statement).
        final: list[str] = []
        for line in out:
            if line == "" and (not final or final[-1] == ""):
                continue
            final.append(line)
        while final and final[-1] == "":
            final.pop()
        return "\n".join(final) + "\n"

    def _emit(self, u: _Unit, out: list[str]) -> None:
        seq = list(u.leading)
        if u.kind in ("first", "decl"):
            while seq and seq[0] is BLANK:
                seq.pop(0)
        if u.kind == "closer":
            while seq and seq[-1] is BLANK:
                seq.pop()
            if all(x is BLANK for x in seq):
                seq = []
        for item in seq:
            out.append("" if item is BLANK else u.cindent + item)
        for text in u.inner:
            out.append(u.cindent + text)
        lines = list(u.lines)
        if u.trailing is not None:
            lines[-1] = lines[-1] + "  " + u.trailing
        out.extend(lines)


_RULE_ORDER = {"meta_stmt": 0, "for_stmt": 1, "let_stmt": 2, "require_stmt": 3, "message_stmt": 4,
               "remediation_stmt": 5}


# ================================================================== entry points ==


def format_text(text: str, name: str = "<policy>") -> str:
    """The canonical form of one policy file's text; raises FormatError if it does not parse."""
    text = normalise_newlines(text)
    module, diags = parse_text(text, name)
    errors = [d for d in diags if d.severity == "error"]
    if module is None or errors:
        raise FormatError(errors or diags or [Diagnostic("syntax", "the file could not be read",
                                                         Span(name, 1, 1, 1, 2))])
    tree = parser().parse(text, start="start")
    return _Printer(text, module, tree).render()


def format_bytes(data: bytes, name: str) -> str:
    text, bad = decode_policy_bytes(data)
    if bad:
        line, col, problem = bad
        raise FormatError([Diagnostic("bad-encoding", f"{problem}: policy files must be UTF-8 text",
                                      Span(name, line, col, line, col + 1))])
    return format_text(text, name)


def policy_paths(paths: list[Path], on_missing: Callable[[Path], None]) -> list[Path]:
    """`.pmo` files named or found (recursively) under folders, in a stable order."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(p.rglob("*.pmo")))
        elif p.is_file():
            out.append(p)
        else:
            on_missing(p)
    return list(dict.fromkeys(out))
