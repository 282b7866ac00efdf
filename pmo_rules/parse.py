"""Policy text -> `ast.Module`, with every lexical and syntax error as a `Diagnostic`.

Lark's errors never leave this module: they are translated into messages a PMO author
understands (what was expected, in words; `did you mean` for misspelt keywords). After a
syntax error the file is re-parsed declaration by declaration so that one broken rule
does not hide the errors in the others.
"""

from __future__ import annotations

import re
from pathlib import Path

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ast
from .diagnostics import Diagnostic, did_you_mean
from .grammar import keywords, parser
from .lexing import LexicalError, RawField, classify_numeric, split_template, unescape
from .source import SourceFile, Span, decode_policy_bytes, escaped
from .values import Duration

MAX_FILE_CHARS = 5_000_000
# Parsing costs about 50 us a token: 100,000 (a dozen times the whole bundled library)
# keeps the worst file to seconds, where 5,000,000 characters of `1,` took minutes.
MAX_TOKENS = 100_000
MAX_NESTING = 100
# Operators nest too (`not not ...`, `a + b + ...` builds a left-deep tree): every later
# stage walks expressions recursively, so a deeper expression is refused here, clearly.
MAX_EXPR_DEPTH = 200

RULE_STATEMENT_WORDS = (
    "title", "description", "severity", "enforcement", "tags", "owner", "ref",
    "for", "let", "require", "message", "remediation",
)
TOP_LEVEL_WORDS = ("package", "param", "rule", "waiver", "test")
WAIVER_WORDS = ("rule", "subjects", "reason", "approved_by", "expires")
TEST_WORDS = ("given", "as_of", "expect")

TERMINAL_WORDS = {
    "NAME": "a name",
    "RULE_ID": "a rule name",
    "QUALIFIED_ID": "a qualified rule name such as `governance.sponsor-assigned`",
    "STRING": 'a string in double quotes',
    "NUMERIC": "a number, date or duration",
    "COMP_OP": "a comparison (`==`, `<`, ...)",
    "COALESCE": "`??`", "EQ": "`=`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`",
    "SLASH": "`/`", "DOT": "`.`", "COMMA": "`,`", "COLON": "`:`", "LPAR": "`(`",
    "RPAR": "`)`", "LBRACKET": "`[`", "RBRACKET": "`]`", "LBRACE": "`{`", "RBRACE": "`}`",
    "$END": "the end of the file",
}
OPERATOR_TERMS = {"COMP_OP", "PLUS", "MINUS", "STAR", "SLASH", "COALESCE", "AND", "OR",
                  "IMPLIES", "IN", "NOT", "CONTAINS", "MATCHES", "IS", "DOT", "LBRACKET"}


class _Ctx:
    def __init__(self, source: SourceFile, package: str, diags: list[Diagnostic]):
        self.source = source
        self.file = source.name
        self.package = package
        self.diags = diags
        self.depth = 0

    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            return Span(self.file, node.line or 1, node.column or 1,
                        node.end_line or node.line or 1, node.end_column or (node.column or 1) + 1)
        m = node.meta
        if getattr(m, "empty", True):
            return Span(self.file, 1, 1, 1, 2)
        return Span(self.file, m.line, m.column, m.end_line, m.end_column)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, hint=hint))


# ----------------------------------------------------------------- entry points --


def parse_file(path: str | Path, display_name: str | None = None, *,
               partial: bool = False) -> tuple[ast.Module | None, SourceFile, list[Diagnostic]]:
    data = Path(path).read_bytes()
    name = display_name or str(path)
    from . import parsecache  # it reads this module's code to name what it keeps

    entry = parsecache.entry(data, name, partial)
    kept = parsecache.load(entry)
    if kept is not None:
        return kept[0], kept[1], []
    module, source, diags = parse_bytes(data, name, partial=partial)
    if module is not None and not diags:
        parsecache.store(entry, (module, source))
    return module, source, diags


def parse_bytes(data: bytes, name: str, *, partial: bool = False) -> tuple[ast.Module | None, SourceFile, list[Diagnostic]]:
    text, bad = decode_policy_bytes(data)
    source = SourceFile(name, text)
    if bad:
        line, col, problem = bad
        return None, source, [Diagnostic("bad-encoding", f"{problem}: policy files must be UTF-8 text",
                                         Span(name, line, col, line, col + 1),
                                         hint="save the file as UTF-8 without NUL characters")]
    module, diags = parse_text(text, name, partial=partial)
    return module, source, diags


def parse_text(text: str, name: str = "<policy>", *, partial: bool = False) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one policy file's text. Returns (module or None, diagnostics).

    With `partial`, a file with syntax errors still yields a module of the declarations
    that did parse, so the checker can report their errors too; such a module must only
    be checked, never run or reformatted.
    """
    source = SourceFile(name, text)
    diags: list[Diagnostic] = []
    if len(text) > MAX_FILE_CHARS:
        return None, [Diagnostic("too-large", f"policy file is larger than {MAX_FILE_CHARS:,} characters",
                                 Span(name, 1, 1, 1, 2))]
    size_error = _check_tokens(text, name)
    if size_error:
        return None, [size_error]
    depth_error = _check_nesting(text, name)
    if depth_error:
        return None, [depth_error]
    try:
        tree = parser().parse(text, start="start")
    except UnexpectedInput as exc:
        diags.append(_syntax_diagnostic(exc, source))
        items: list[Tree] = []
        diags.extend(_chunk_errors(text, source, first=exc, items=items))
        return (_partial_module(source, items, diags) if partial else None), diags
    except RecursionError:
        return None, [Diagnostic("too-deep", "the policy nests too deeply to read", Span(name, 1, 1, 1, 2))]
    ctx = _Ctx(source, "", diags)
    try:
        module = _module(ctx, tree)
    except _TooDeep as exc:
        return None, [exc.diagnostic()]
    except RecursionError:
        return None, [Diagnostic("too-deep", "the policy nests too deeply to read", Span(name, 1, 1, 1, 2))]
    return module, diags


def parse_expression(text: str, name: str = "<expr>", line: int = 1, column: int = 1) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse a lone expression (template fields, `--where` style input, tests)."""
    source = SourceFile(name, text)
    diags: list[Diagnostic] = []
    too_deep = _check_nesting(text, name)
    if too_deep is not None:
        return None, [Diagnostic(too_deep.code, too_deep.message, too_deep.span.shifted(line, column),
                                 too_deep.details, too_deep.hint)]
    try:
        tree = parser().parse(text, start="expr")
    except UnexpectedInput as exc:
        d = _syntax_diagnostic(exc, source)
        if d.span is not None:
            d = Diagnostic(d.code, d.message, d.span.shifted(line, column), d.details, d.hint)
        return None, [d]
    ctx = _Ctx(source, "", diags)
    try:
        expr = _expr(ctx, tree)
    except _TooDeep as exc:
        d = exc.diagnostic()
        return None, [Diagnostic(d.code, d.message, d.span.shifted(line, column), d.details, d.hint)]
    if line != 1 or column != 1:
        expr = _shift_expr(expr, line, column)
        diags[:] = [Diagnostic(d.code, d.message, d.span.shifted(line, column) if d.span else None, d.details, d.hint)
                    for d in diags]
    return expr, diags


# Never fewer tokens than the parser's lexer finds (`a.b-c` is five, a number one).
_ROUGH_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|\d[A-Za-z0-9_.%-]*|\S')


def _check_tokens(text: str, name: str) -> Diagnostic | None:
    count = 0
    for m in _ROUGH_TOKEN.finditer(text):
        count += 1 + (m.group().count("{") if text[m.start()] == '"' else 0)  # template fields parse too
        if count > MAX_TOKENS:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            return Diagnostic("too-large", f"policy file is too long: more than {MAX_TOKENS:,} names, numbers,"
                                           " strings and symbols", Span(name, line, col, line, col + 1),
                              hint="split the policies into several files")
    return None


def _check_nesting(text: str, name: str) -> Diagnostic | None:
    depth = 0
    line, col = 1, 0
    in_str = False
    in_comment = False
    prev = ""
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_str, in_comment = line + 1, 0, False, False
        elif in_comment:
            pass
        elif in_str:
            if ch == '"' and prev != "\\":
                in_str = False
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_str = True
        elif ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                return Diagnostic("too-deep", f"brackets nest more than {MAX_NESTING} levels deep",
                                  Span(name, line, col, line, col + 1), hint="split the expression with `let`")
        elif ch in ")]}":
            depth = max(0, depth - 1)
        prev = ch if prev != "\\" else ""
    return None


# ------------------------------------------------------------- syntax errors --

_DECL_START = re.compile(r"^(package|param|rule|waiver|test)\b", re.M)


def _partial_module(source: SourceFile, items: list[Tree], diags: list[Diagnostic]) -> ast.Module | None:
    m = re.search(r"^package\s+([A-Za-z_][A-Za-z0-9_]*)", source.text, re.M)
    if m is None:
        return None
    ctx = _Ctx(source, m.group(1), [])  # lexical problems were already reported
    line = source.text.count("\n", 0, m.start()) + 1
    pkg_span = Span(source.name, line, 1, line, len(m.group(0)) + 1)
    return ast.Module(source.name, ctx.package, pkg_span, *_declarations(ctx, items))


def _chunk_errors(text: str, source: SourceFile, first: UnexpectedInput,
                  items: list[Tree] | None = None) -> list[Diagnostic]:
    """Re-parse declaration by declaration to find errors after the first one."""
    starts = [m.start() for m in _DECL_START.finditer(text)]
    first_line = getattr(first, "line", 0) or 0
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        line_no = text.count("\n", 0, start) + 1
        chunk = "\n" * (line_no - 1) + text[start:end]
        chunk_last_line = line_no + text.count("\n", start, end)
        if line_no <= first_line <= chunk_last_line:
            continue
        try:
            tree = parser().parse(chunk, start="chunk")
        except UnexpectedInput as exc:
            out.append(_syntax_diagnostic(exc, source, chunk))
            continue
        except RecursionError:
            continue
        # The chunk parsed: still report its lexical problems (bad dates, units, templates).
        ctx = _Ctx(source, "", out)
        for item in tree.children:
            if isinstance(item, Tree) and item.data in _DECL_BUILDERS:
                try:
                    _DECL_BUILDERS[item.data](ctx, item)
                except _TooDeep as exc:
                    out.append(exc.diagnostic())
                    continue
                except RecursionError:
                    out.append(Diagnostic("too-deep", "this declaration nests too deeply to read", ctx.span(item)))
                    continue
                if items is not None:
                    items.append(item)
    return out


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    kw = keywords().get(tok.type)
    if kw:
        return f"keyword `{kw}`"
    value = str(tok.value)
    if len(value) > 30:
        value = value[:27] + "..."
    return f"`{escaped(value)}`"


def _describe_expected(expected: set[str]) -> str:
    kws = keywords()
    exp = set(expected)
    phrases: list[str] = []
    expr_start = {"NAME", "NUMERIC", "STRING", "LPAR"}
    if expr_start <= exp:
        phrases.append("an expression")
        exp -= expr_start | {"TRUE", "FALSE", "NULL", "TODAY", "MINUS", "NOT", "LBRACKET", "LBRACE"}
    ops = exp & OPERATOR_TERMS
    if len(ops) >= 5:
        phrases.append("an operator")
        exp -= OPERATOR_TERMS
    rule_stmts = {k for k, v in kws.items() if v in RULE_STATEMENT_WORDS}
    if len(exp & rule_stmts) >= 5:
        phrases.append("a rule statement (" + ", ".join(f"`{w}`" for w in RULE_STATEMENT_WORDS) + ")")
        exp -= rule_stmts
    top = {k for k, v in kws.items() if v in TOP_LEVEL_WORDS}
    if len(exp & top) >= 3:
        phrases.append("a declaration (`param`, `rule`, `waiver` or `test`)")
        exp -= top
    for term in sorted(exp):
        if term in kws:
            phrases.append(f"`{kws[term]}`")
        elif term in TERMINAL_WORDS:
            phrases.append(TERMINAL_WORDS[term])
        elif term.startswith("__ANON") or term.startswith("_"):
            continue
        else:
            phrases.append(term.lower())
    phrases = list(dict.fromkeys(phrases))
    if not phrases:
        return "something else"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _syntax_diagnostic(exc: UnexpectedInput, source: SourceFile, text: str | None = None) -> Diagnostic:
    name = source.name
    line = getattr(exc, "line", 1) or 1
    col = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        text = text if text is not None else source.text
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        span = Span(name, line, col, line, col + 1)
        if ch == '"':
            return Diagnostic("syntax", "this string is never closed", span,
                              hint='strings are written on one line: "like this"')
        if ch in "&|":
            word = "and" if ch == "&" else "or"
            return Diagnostic("syntax", f"unexpected character `{ch}`", span, hint=f"write `{word}`")
        if ch == "%":
            return Diagnostic("syntax", "unexpected `%`: there is no modulo operator", span,
                              hint="`%` only ends a percentage literal, as in `20%`")
        if ch == "!":
            return Diagnostic("syntax", "unexpected `!`", span, hint="write `not` or `!=`")
        if ch == "'":
            return Diagnostic("syntax", "unexpected `'`: strings use double quotes", span,
                              hint='write "text" instead of \'text\'')
        if ch == "\t" or ch.isspace():
            return Diagnostic("syntax", f"unexpected white space character U+{ord(ch):04X}", span,
                              hint="use ordinary spaces and line breaks")
        shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
        return Diagnostic("syntax", f"unexpected character `{shown}`", span,
                          hint=_expected_hint(set(getattr(exc, "allowed", set()) or set())))
    if isinstance(exc, UnexpectedEOF):
        last = source.text.rstrip("\n").split("\n")
        ln = len(last)
        cl = len(last[-1]) + 1 if last else 1
        return Diagnostic("syntax", "the file ends in the middle of a declaration",
                          Span(name, ln, cl, ln, cl + 1),
                          hint=f"expected {_describe_expected(set(exc.expected))}")
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = set(exc.accepts or exc.expected)
    if tok.type == "$END":
        lines = source.text.rstrip("\n").split("\n")
        ln = len(lines)
        cl = len(lines[-1]) + 1
        span = Span(name, ln, cl, ln, cl + 1)
    else:
        span = Span(name, tok.line or line, tok.column or col, tok.end_line or line,
                    tok.end_column or (tok.column or col) + len(str(tok.value)))
    return _explain_unexpected(tok, expected, span, source)


def _expected_hint(expected: set[str]) -> str | None:
    return f"expected {_describe_expected(expected)}" if expected else None


def _explain_unexpected(tok: Token, expected: set[str], span: Span, source: SourceFile) -> Diagnostic:
    kws = keywords()
    what = _describe_token(tok)
    exp_words = _describe_expected(expected)
    message = f"unexpected {what}; expected {exp_words}"
    hint = None
    value = str(tok.value)
    lines = source.text.split("\n")
    before = "\n".join(lines[: span.line - 1] + [source.line_text(span.line)[: max(span.column - 1, 0)]])
    before = re.sub(r"#[^\n]*", "", before).rstrip()
    if tok.type in ("PRESENT", "MISSING") and re.search(r"\.\s*is$", before):
        message = "a `.` must be followed by a field name"
        hint = f"write `x is {value}` without the `.` before `is`"
    elif before.endswith(".") and ("NAME" in expected or "TODAY" in expected) and tok.type != "NAME":
        message = f"a `.` must be followed by a field name, not {what}"
        hint = "write a path such as `project.budget.approved`, or remove the `.`"
    elif before.endswith(",") and tok.type in ("RPAR", "RBRACKET", "RBRACE"):
        message = "a trailing comma is not allowed"
        hint = "remove the last `,`"
    elif tok.type == "EQ" and "COMP_OP" in expected:
        hint = "use `==` to compare; `=` only appears in `param` and `let`"
    elif tok.type == "COMP_OP" and "COMP_OP" not in expected and ("AND" in expected or "RPAR" in expected or "REQUIRE" in expected):
        message = f"comparisons do not chain: unexpected {what}"
        hint = "write `a < x and x < b`"
    elif before.endswith(",") and tok.type not in ("STRING", "NAME", "NUMERIC") and "COMMA" not in expected:
        message = "a trailing comma is not allowed"
        hint = "remove the last `,`"
    elif tok.type in kws and ("NAME" in expected or "RULE_ID" in expected):
        message = f"`{kws[tok.type]}` is a reserved word and cannot be used as a name here"
        hint = "choose another name, e.g. `" + kws[tok.type] + "_value`"
    elif tok.type in ("NAME", "RULE_ID"):
        words = [kws[t] for t in expected if t in kws]
        if words:
            hint = did_you_mean(value, words)
        if hint is None and tok.type == "NAME" and "COMP_OP" in expected:
            hint = "an operator is missing between two values (is an `and` or a `.` missing?)"
        if hint is None and "LBRACE" in expected and tok.type in ("NAME", "RULE_ID"):
            hint = "a rule, waiver or test name is followed by `{`"
    elif tok.type == "STRING" and "COMMA" in expected:
        hint = "separate values with `,`"
    elif tok.type == "$END" and "RBRACE" in expected:
        message = "the file ends before a `}` closes the block"
        hint = "add the missing `}`"
    elif tok.type == "RBRACE" and "FOR" in expected:
        hint = "a rule needs `for VAR in COLLECTION` and at least one `require`"
    elif tok.type == "NUMERIC" and ("NAME" in expected or "RULE_ID" in expected):
        hint = "names start with a letter or `_`"
    return Diagnostic("syntax", message, span, hint=hint)


# ------------------------------------------------------------------ tree -> AST --


def _check_name(ctx: _Ctx, tok: Token, role: str) -> None:
    """Reserved words lex as names where no keyword fits; reject them in name positions."""
    word = str(tok.value)
    if word in set(keywords().values()):
        ctx.error("reserved-word", f"`{word}` is a reserved word and cannot be used as {role}",
                  ctx.span(tok), hint=f"choose another name, e.g. `{word}_value`")


def _tok(children: list, type_: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == type_]


def _trees(children: list) -> list[Tree]:
    return [c for c in children if isinstance(c, Tree)]


def _string(ctx: _Ctx, tok: Token) -> str:
    return unescape(str(tok.value)[1:-1])


def _module(ctx: _Ctx, tree: Tree) -> ast.Module:
    pkg_tree = tree.children[0]
    pkg_tok = _tok(pkg_tree.children, "NAME")[0]
    ctx.package = str(pkg_tok.value)
    items = [item for item in tree.children[1:] if isinstance(item, Tree)]
    return ast.Module(ctx.file, ctx.package, ctx.span(pkg_tok), *_declarations(ctx, items))


def _declarations(ctx: _Ctx, items: list[Tree]) -> tuple[tuple, tuple, tuple, tuple]:
    """(params, rules, waivers, tests) built from declaration trees, in file order."""
    out: dict[str, list] = {"param_decl": [], "rule_decl": [], "waiver_decl": [], "test_decl": []}
    for item in items:
        if item.data in _DECL_BUILDERS:
            out[item.data].append(_DECL_BUILDERS[item.data](ctx, item))
    return (tuple(out["param_decl"]), tuple(out["rule_decl"]), tuple(out["waiver_decl"]),
            tuple(out["test_decl"]))


def _param(ctx: _Ctx, tree: Tree) -> ast.Param:
    name_tok = tree.children[1]
    default_node = tree.children[3]
    desc_tok = tree.children[4]
    _check_name(ctx, name_tok, "a param name")
    if isinstance(default_node, Tree) and default_node.data == "negative_literal":
        lit = _numeric(ctx, default_node.children[1])
        if lit.kind in ("number", "duration"):
            value = Duration(-lit.value.days) if isinstance(lit.value, Duration) else -lit.value
            lit = ast.Literal(ctx.span(default_node), value, lit.kind, "-" + lit.source)
        else:
            ctx.error("bad-param", "only numbers and durations can be negative", ctx.span(default_node))
    else:
        lit = _literal(ctx, default_node)
    return ast.Param(ctx.span(tree), str(name_tok.value), lit,
                     _string(ctx, desc_tok) if desc_tok is not None else None, ctx.package)


def _rule(ctx: _Ctx, tree: Tree) -> ast.Rule:
    name_tok = tree.children[1]
    meta: dict[str, ast.Meta] = {}
    statements: list = []
    for_clause = None
    lets, requires = [], []
    message = None
    remediation = None
    for st in _trees(tree.children):
        kw = st.children[0]
        if st.data == "meta_stmt":
            key = str(kw.value)
            rest = st.children[1:]
            if key == "tags":
                value: object = tuple(_string(ctx, t) for t in rest if t.type == "STRING")
                vspan = _join(ctx.span(rest[0]), ctx.span(rest[-1]))
            elif rest[0].type == "NAME":
                value = str(rest[0].value)
                vspan = ctx.span(rest[0])
            else:
                value = _string(ctx, rest[0])
                vspan = ctx.span(rest[0])
            m = ast.Meta(ctx.span(st), key, value, vspan)
            statements.append(m)
            if key in meta:
                ctx.error("duplicate-metadata", f"`{key}` is given more than once in rule `{name_tok}`",
                          ctx.span(st), hint="keep one")
            else:
                meta[key] = m
        elif st.data == "for_stmt":
            var = st.children[1]
            _check_name(ctx, var, "a `for` variable")
            where = st.children[5]
            fc = ast.ForClause(ctx.span(st), str(var.value), ctx.span(var), _expr(ctx, st.children[3]),
                               _expr(ctx, where) if where is not None else None)
            statements.append(fc)
            if for_clause is None:
                for_clause = fc
        elif st.data == "let_stmt":
            var = st.children[1]
            _check_name(ctx, var, "a `let` name")
            let = ast.Let(ctx.span(st), str(var.value), ctx.span(var), _expr(ctx, st.children[3]))
            statements.append(let)
            lets.append(let)
        elif st.data == "require_stmt":
            els = st.children[3]
            req = ast.Require(ctx.span(st), _expr(ctx, st.children[1]),
                              _template(ctx, els) if els is not None else None)
            statements.append(req)
            requires.append(req)
        elif st.data == "message_stmt":
            t = _template(ctx, st.children[1])
            statements.append(t)
            if message is None:
                message = t
        elif st.data == "remediation_stmt":
            statements.append(("remediation", ctx.span(st)))
            if remediation is None:
                remediation = _string(ctx, st.children[1])
    return ast.Rule(ctx.span(tree), str(name_tok.value), ctx.package, ctx.span(name_tok), tuple(statements),
                    meta, for_clause, tuple(lets), tuple(requires), message, remediation)


def _join(a: Span, b: Span) -> Span:
    return Span(a.file, a.line, a.column, b.end_line, b.end_column)


def _waiver(ctx: _Ctx, tree: Tree) -> ast.Waiver:
    name_tok = tree.children[1]
    fields: dict[str, object] = {}
    statements = []
    for st in _trees(tree.children):
        statements.append((st.data, ctx.span(st)))
        if st.data in fields or (st.data in ("waiver_subjects", "waiver_where")
                                 and ("waiver_subjects" in fields or "waiver_where" in fields)):
            ctx.error("duplicate-field", f"waiver `{name_tok}` gives `{st.children[0]}` more than once",
                      ctx.span(st), hint="keep one")
            continue
        fields[st.data] = st
    def string_of(key: str) -> str | None:
        st = fields.get(key)
        return _string(ctx, st.children[1]) if st is not None else None
    rule_st = fields.get("waiver_rule")
    subj = fields.get("waiver_subjects")
    where = fields.get("waiver_where")
    exp = fields.get("waiver_expires")
    expires = None
    if exp is not None:
        lit = _numeric(ctx, exp.children[1])
        if lit.kind != "date":
            ctx.error("bad-waiver", "`expires` takes a date such as 2027-01-31", ctx.span(exp.children[1]))
        else:
            expires = lit.value
    return ast.Waiver(
        ctx.span(tree), str(name_tok.value), ctx.package,
        str(rule_st.children[1].value) if rule_st is not None else None,
        ctx.span(rule_st.children[1]) if rule_st is not None else None,
        tuple(_string(ctx, t) for t in subj.children if isinstance(t, Token) and t.type == "STRING") if subj is not None else None,
        _expr(ctx, where.children[2]) if where is not None else None,
        string_of("waiver_reason"), string_of("waiver_approved_by"), expires,
        ctx.span(exp) if exp is not None else None, tuple(statements),
    )


def _test(ctx: _Ctx, tree: Tree) -> ast.Test:
    name_tok = tree.children[1]
    givens, expects = [], []
    as_of = None
    for st in _trees(tree.children):
        if st.data == "given_stmt":
            givens.append(ast.Given(ctx.span(st), str(st.children[1].value), _expr(ctx, st.children[3]), None))
        elif st.data == "given_file":
            givens.append(ast.Given(ctx.span(st), None, None, _string(ctx, st.children[1])))
        elif st.data == "as_of_stmt":
            lit = _numeric(ctx, st.children[1])
            if lit.kind != "date":
                ctx.error("bad-test", "`as_of` takes a date such as 2026-11-26", ctx.span(st.children[1]))
            elif as_of is not None:
                ctx.error("duplicate-field", "`as_of` is given more than once", ctx.span(st))
            else:
                as_of = lit.value
        elif st.data == "expect_stmt":
            rule_tok, outcome_tok, subj_tok = st.children[1], st.children[2], st.children[4]
            expects.append(ast.Expect(ctx.span(st), str(rule_tok.value), ctx.span(rule_tok),
                                      str(outcome_tok.value), ctx.span(outcome_tok), _string(ctx, subj_tok)))
    return ast.Test(ctx.span(tree), str(name_tok.value), ctx.package, tuple(givens), as_of, tuple(expects))


# ----------------------------------------------------------------- expressions --

_DECL_BUILDERS = {
    "param_decl": lambda ctx, t: _param(ctx, t),
    "rule_decl": lambda ctx, t: _rule(ctx, t),
    "waiver_decl": lambda ctx, t: _waiver(ctx, t),
    "test_decl": lambda ctx, t: _test(ctx, t),
}


def _numeric(ctx: _Ctx, tok: Token) -> ast.Literal:
    span = ctx.span(tok)
    try:
        lit = classify_numeric(str(tok.value))
    except LexicalError as exc:
        ctx.error(exc.code, exc.message, span, hint=exc.hint)
        return ast.Literal(span, None, "invalid", str(tok.value))
    return ast.Literal(span, lit.value, lit.kind, str(tok.value))


def _literal(ctx: _Ctx, node: Tree | Token) -> ast.Literal:
    tok = node.children[0] if isinstance(node, Tree) else node
    span = ctx.span(tok)
    t = tok.type
    if t == "NUMERIC":
        return _numeric(ctx, tok)
    if t == "STRING":
        return ast.Literal(span, _string(ctx, tok), "text", str(tok.value))
    if t == "TRUE":
        return ast.Literal(span, True, "bool", "true")
    if t == "FALSE":
        return ast.Literal(span, False, "bool", "false")
    return ast.Literal(span, None, "null", "null")


_COMPARE_OPS = {"in_op": "in", "not_in_op": "not in", "contains_op": "contains", "matches_op": "matches"}
_LOGIC_OPS = {"implies_op": "implies", "or_op": "or", "and_op": "and", "coalesce_op": "??"}


class _TooDeep(Exception):
    def __init__(self, span: Span):
        super().__init__(span)
        self.span = span

    def diagnostic(self) -> Diagnostic:
        return Diagnostic("too-deep", f"this expression nests more than {MAX_EXPR_DEPTH} levels deep",
                          self.span, hint="split it into smaller parts with `let`")


def _expr(ctx: _Ctx, node: Tree | Token) -> ast.Expr:
    if isinstance(node, Tree) and node.data == "atom":  # `( expr )`: the bracket scan limits these
        return _expr(ctx, node.children[1])
    ctx.depth += 1
    try:
        if ctx.depth > MAX_EXPR_DEPTH:
            raise _TooDeep(ctx.span(node))
        return _expr_node(ctx, node)
    finally:
        ctx.depth -= 1


def _expr_node(ctx: _Ctx, node: Tree | Token) -> ast.Expr:
    if isinstance(node, Token):
        if node.type == "NAME":
            _check_name(ctx, node, "a name")
            return ast.Name(ctx.span(node), str(node.value))
        if node.type == "TODAY":
            return ast.Today(ctx.span(node))
        return _literal(ctx, node)
    data = node.data
    ch = node.children
    span = ctx.span(node)
    if data == "literal":
        return _literal(ctx, node)
    if data == "atom":  # `( expr )`
        return _expr(ctx, ch[1])
    if data == "name":
        _check_name(ctx, ch[0], "a name")
        return ast.Name(span, str(ch[0].value))
    if data == "today":
        return ast.Today(span)
    if data in _LOGIC_OPS:
        return ast.Binary(span, _LOGIC_OPS[data], _expr(ctx, ch[0]), _expr(ctx, ch[2]))
    if data == "arith":
        return ast.Binary(span, str(ch[1].value), _expr(ctx, ch[0]), _expr(ctx, ch[2]))
    if data == "not_op":
        return ast.Unary(span, "not", _expr(ctx, ch[1]))
    if data == "neg_op":
        operand = _expr(ctx, ch[1])
        return ast.Unary(span, "-", operand)
    if data == "compare":
        return ast.Compare(span, str(ch[1].value), _expr(ctx, ch[0]), _expr(ctx, ch[2]))
    if data in _COMPARE_OPS:
        return ast.Compare(span, _COMPARE_OPS[data], _expr(ctx, ch[0]), _expr(ctx, ch[-1]))
    if data == "present_op":
        return ast.IsPresent(span, _expr(ctx, ch[0]), False)
    if data == "missing_op":
        return ast.IsPresent(span, _expr(ctx, ch[0]), True)
    if data == "attr":
        name_node = ch[2]
        return ast.Attr(span, _expr(ctx, ch[0]), str(name_node.children[0].value))
    if data == "index":
        return ast.Index(span, _expr(ctx, ch[0]), _expr(ctx, ch[2]))
    if data == "call":
        fname = ch[0]
        args = tuple(_expr(ctx, c) for c in ch[2:-1] if c is not None and not (isinstance(c, Token) and c.type == "COMMA"))
        return ast.Call(span, str(fname.value), args, ctx.span(fname))
    if data == "comprehension":
        # NAME ( expr FOR NAME IN additive [WHERE expr] )
        agg, _, element, _, var, _, coll, _, where, _ = ch
        _check_name(ctx, var, "a comprehension variable")
        return ast.Comprehension(span, str(agg.value), _expr(ctx, element), str(var.value), _expr(ctx, coll),
                                 _expr(ctx, where) if where is not None else None, ctx.span(agg))
    if data == "list_lit":
        items = tuple(_expr(ctx, c) for c in ch[1:-1] if c is not None and not (isinstance(c, Token) and c.type == "COMMA"))
        return ast.ListLit(span, items)
    if data == "object_lit":
        keys, values = [], []
        for item in ch[1:-1]:
            if not isinstance(item, Tree):
                continue
            key_node = item.children[0]
            if isinstance(key_node, Token):
                key = _string(ctx, key_node)
            else:
                key = str(key_node.children[0].value)
            if key in keys:
                ctx.error("duplicate-key", f"key `{key}` appears twice in this object", ctx.span(item))
            keys.append(key)
            values.append(_expr(ctx, item.children[2]))
        return ast.ObjectLit(span, tuple(keys), tuple(values))
    raise AssertionError(f"unhandled grammar rule {data}")  # pragma: no cover


def _template(ctx: _Ctx, tok: Token) -> ast.Template:
    raw = str(tok.value)[1:-1]
    span = ctx.span(tok)
    try:
        raw_parts = split_template(raw)
    except LexicalError as exc:
        ctx.error(exc.code, exc.message, span, hint=exc.hint)
        return ast.Template(span, (unescape(raw),), str(tok.value))
    parts: list[str | ast.TemplateField] = []
    for p in raw_parts:
        if isinstance(p, str):
            parts.append(p)
            continue
        assert isinstance(p, RawField)
        col = span.column + 1 + p.expr_offset
        expr, diags = parse_expression(p.expr_text, ctx.file, span.line, col)
        for d in diags:
            ctx.diags.append(d)
        if expr is None:
            continue
        places = None
        spec_span = None
        if p.spec is not None:
            scol = span.column + 1 + p.spec_offset
            spec_span = Span(ctx.file, span.line, scol, span.line, scol + max(len(p.spec), 1))
            m = re.fullmatch(r"\.(\d{1,2})f", p.spec)
            if m is None:
                ctx.error("bad-template", f"unknown format `:{p.spec}` in a message field", spec_span,
                          hint="the only format is `{expr:.Nf}` (N decimal places), e.g. `{cpi(project):.2f}`")
            else:
                places = int(m.group(1))
        parts.append(ast.TemplateField(expr, places, spec_span))
    return ast.Template(span, tuple(parts), str(tok.value))


def _shift_expr(e: ast.Expr, line: int, column: int):
    """Move every span of an expression parsed from a template field into the file."""
    import dataclasses

    changes = {}
    for f in dataclasses.fields(e):
        v = getattr(e, f.name)
        if isinstance(v, Span):
            changes[f.name] = v.shifted(line, column)
        elif isinstance(v, ast.Expr):
            changes[f.name] = _shift_expr(v, line, column)
        elif isinstance(v, tuple) and v and isinstance(v[0], ast.Expr):
            changes[f.name] = tuple(_shift_expr(x, line, column) for x in v)
    return dataclasses.replace(e, **changes)
