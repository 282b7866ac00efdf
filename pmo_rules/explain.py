"""`pmo-rules explain RULE SUBJECT`: one rule's evaluation for one subject, step by step.

The explanation walks the rule's AST and asks the reference interpreter
(`evaluate.reference.evaluate`) for the value of every sub-expression, in the order the
interpreter evaluates them: the `where` scope, each `let`, each `require` until the first
that does not hold. `and`, `or` and `implies` operands that the interpreter skips are shown
as "not evaluated"; a sub-expression that cannot be evaluated shows `error: ...`.
Literals are not listed (their value is what is written).

The outcome, message and evidence are not re-derived: they come from the reference
evaluator's own `evaluate_subject` for the same subject, with waivers applied exactly as
an audit applies them, so `explain` always prints the outcome the audit reports.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .diagnostics import did_you_mean
from .distance import distance
from .errors import UsageError
from .evaluate import Evaluation, Result, RunContext
from .evaluate.errors import EvalError
from .evaluate.reference import _Env, _waiver_matches, evaluate, evaluate_subject
from .evaluate.waivers import apply_waivers
from .fmt import expr_text
from .program import Program, enforcement_of, severity_of
from .values import DECIMAL_CONTEXT, display

NOT_EVALUATED = "not evaluated"
ITEM_LIMIT = 10

__all__ = ["Explanation", "Node", "Step", "explain", "find_rule", "find_subject"]


@dataclass
class Node:
    """One evaluated sub-expression: its text, value (or error, or not evaluated) and parts."""

    text: str
    value: Any = None
    error: str | None = None
    evaluated: bool = True
    children: list[Node] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # comprehension items, metric inputs
    literal: bool = False  # kept for the tree's shape (distance), never printed
    plain: bool = False  # a remark printed as it is (`... 3 more items not listed`)

    @property
    def shown(self) -> str:
        if not self.evaluated:
            return NOT_EVALUATED
        if self.error is not None:
            return f"error: {self.error}"
        return show_value(self.value)

    def lines(self, indent: str = "") -> list[str]:
        if self.plain:
            return [indent + self.text]
        shown_children = [c for c in self.children if not c.literal]
        sep = " -> " if (shown_children or self.notes) and self.evaluated else " = "
        if not self.evaluated:
            sep = ": "
        out = [f"{indent}{self.text}{sep}{self.shown}"]
        for c in self.children:
            if not c.literal:
                out.extend(c.lines(indent + "    "))
        for n in self.notes:
            out.append(f"{indent}    {n}")
        return out

    def find(self, text: str) -> Node | None:
        if self.text == text:
            return self
        for c in self.children:
            hit = c.find(text)
            if hit is not None:
                return hit
        return None


@dataclass
class Step:
    kind: str  # where | let | require
    label: str  # the statement as written canonically
    node: Node | None  # None when the step was not reached
    distance: str | None = None


@dataclass
class Explanation:
    rule: ast.Rule
    subject_id: str
    collection: str
    as_of: dt.date
    steps: list[Step]
    result: Result

    @property
    def outcome(self) -> str:
        return self.result.outcome

    def render(self) -> str:
        r = self.rule
        title = r.meta_value("title")
        out = [f"rule {r.id}" + (f": {title}" if title else ""),
               f"  at {r.span}  (severity {severity_of(r)}, enforcement {enforcement_of(r)})",
               f"subject {self.subject_id} in {self.collection}, as of {self.as_of.isoformat()}", ""]
        fc = r.for_clause
        assert fc is not None
        out.append(f"scope: for {fc.var} in {expr_text(fc.collection)}" + ("" if fc.where else "  (every item)"))
        for step in self.steps:
            if step.kind == "where":
                out.extend(_step_lines("where", step))
            elif step.kind == "let":
                out.extend(_step_lines(f"let {step.label} =", step))
            else:
                out.extend(_step_lines("require", step))
            if step.distance:
                out.append(f"    distance: {step.distance}")
        res = self.result
        out.append("")
        out.append(f"outcome: {res.outcome}")
        if res.message:
            out.append(f"message: {res.message}")
        if res.location and res.outcome in ("fail", "error", "waived"):
            out.append(f"at: {res.location}")
        if res.waiver:
            out.append(f"waiver: {res.waiver}")
        if res.note:
            out.append(f"note: {res.note}")
        if res.evidence:
            out.append("evidence:")
            for k, v in res.evidence:
                out.append(f"    {k} = {show_value(v)}")
        return "\n".join(out) + "\n"


def _step_lines(head: str, step: Step) -> list[str]:
    if step.node is None:
        return [f"{head} {step.label}: {NOT_EVALUATED}"]
    lines = step.node.lines("")
    return [f"{head} {lines[0]}", *lines[1:]]


def show_value(v: Any) -> str:
    """A value as explain prints it: text quoted, records by their id, exact numbers."""
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, dict):
        return label(v)
    if isinstance(v, list):
        n = len(v)
        if any(isinstance(x, dict) for x in v):
            return f"a list of {n} record{'s' if n != 1 else ''}"
        text = display(v)
        return text if n <= 5 else f"{text} ({n} items)"
    return display(v)


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def label(record: dict, snapshot: Any = None) -> str:
    """A record as explain names it: its id or name, else its scalar fields, shortened."""
    for key in ("id", "name"):
        if isinstance(record.get(key), str):
            return record[key]
    sid = getattr(snapshot, "_ids", {}).get(id(record)) if snapshot is not None else None
    if sid:
        return sid
    parts = []
    for k, v in record.items():
        if k == "project" and isinstance(v, dict):
            parts.append(f"project: {label(v)}")
        elif not isinstance(v, (dict, list)):
            parts.append(f"{k}: {_quote(v) if isinstance(v, str) else display(v)}")
    text = "{" + ", ".join(parts) + "}"
    return text if len(text) <= 80 else text[:76] + "...}"


# ------------------------------------------------------------------ lookups --


def find_rule(program: Program, name: str) -> ast.Rule:
    rules = program.rule_by_id
    if name in rules:
        return rules[name]
    short = [r for r in program.rules if r.name == name]
    if len(short) == 1:
        return short[0]
    if len(short) > 1:
        raise UsageError(f"rule `{name}` is ambiguous: " + ", ".join(sorted(r.id for r in short)))
    hint = did_you_mean(name, list(rules) + [r.name for r in program.rules])
    raise UsageError(f"unknown rule `{name}`" + (f"; {hint}" if hint else "") +
                     " (rules are named PACKAGE.NAME, e.g. `governance.sponsor-assigned`)")


def find_subject(snapshot: Any, rule: ast.Rule, subject: str) -> tuple[str, dict]:
    fc = rule.for_clause
    assert fc is not None and isinstance(fc.collection, ast.Name)
    coll = fc.collection.name
    records = snapshot.collection(coll)
    ids = []
    for rec in records:
        sid = snapshot.subject_id(rec)
        if sid == subject:
            return coll, rec
        ids.append(sid)
    hint = did_you_mean(subject, ids)
    raise UsageError(f"no subject `{subject}` in `{coll}` (the collection of rule {rule.id})" +
                     (f"; {hint}" if hint else f"; {len(ids)} subject(s) there" +
                      (f", e.g. {', '.join(ids[:3])}" if ids else "")))


# ----------------------------------------------------------------- walking --


class _Walker:
    """Evaluate sub-expressions one by one with the reference interpreter."""

    def __init__(self, env: _Env):
        self.env = env

    def value(self, e: ast.Expr) -> tuple[Any, str | None]:
        saved = self.env.recording
        self.env.recording = False
        try:
            return evaluate(e, self.env), None
        except EvalError as exc:
            return None, exc.message
        finally:
            self.env.recording = saved

    def node(self, e: ast.Expr) -> Node:
        if isinstance(e, ast.Literal):
            return Node(expr_text(e), e.value, literal=True)
        value, err = self.value(e)
        n = Node(expr_text(e), value, err)
        n.children = self.children(e)
        if isinstance(e, ast.Comprehension):
            n.children.extend(self.items(e))
        if isinstance(e, ast.Call):
            n.notes = self.metric_inputs(e)
        return n

    @staticmethod
    def skipped(e: ast.Expr) -> Node:
        return Node(expr_text(e), evaluated=False, literal=isinstance(e, ast.Literal))

    def children(self, e: ast.Expr) -> list[Node]:
        """Operand nodes, in evaluation order; operands after an error were never reached."""
        if isinstance(e, ast.Binary) and e.op in ("and", "or", "implies"):
            left = self.node(e.left)
            stop = {"and": False, "or": True, "implies": False}[e.op]
            decided = left.error is not None or left.value is stop
            return [left, self.skipped(e.right) if decided else self.node(e.right)]
        if isinstance(e, ast.Binary) and e.op == "??":
            left = self.node(e.left)
            needed = left.error is None and left.value is None
            return [left, self.node(e.right) if needed else self.skipped(e.right)]
        operands: list[ast.Expr] = []
        if isinstance(e, (ast.Binary, ast.Compare)):
            operands = [e.left, e.right]
        elif isinstance(e, (ast.Unary, ast.IsPresent)):
            operands = [e.operand]
        elif isinstance(e, ast.Call):
            operands = list(e.args)
        elif isinstance(e, ast.Comprehension):
            operands = [e.collection]
        elif isinstance(e, ast.ListLit):
            operands = list(e.items)
        elif isinstance(e, ast.ObjectLit):
            operands = list(e.values)
        elif isinstance(e, ast.Index):
            operands = ([] if _is_path(e.obj) else [e.obj]) + [e.key]
        elif isinstance(e, ast.Attr):
            operands = [] if _is_path(e.obj) else [e.obj]
        out: list[Node] = []
        failed = False
        for x in operands:
            c = self.skipped(x) if failed else self.node(x)
            out.append(c)
            failed = failed or c.error is not None
        return out

    def items(self, e: ast.Comprehension) -> list[Node]:
        """Per-item values of a comprehension (up to ITEM_LIMIT selected items), stopping where
        the interpreter stops; the item that decides (or fails) is explained in full."""
        env = self.env
        coll, err = self.value(e.collection)
        if err is not None or not isinstance(coll, list):
            return []
        out: list[Node] = []
        had = e.var in env.vars
        saved = env.vars.get(e.var)
        shown = 0
        snapshot = env.snapshot
        element = expr_text(e.element)
        try:
            for i, item in enumerate(coll):
                env.vars[e.var] = item
                name = f"{e.var} = {label(item, snapshot) if isinstance(item, dict) else show_value(item)}"
                if e.where is not None:
                    w, werr = self.value(e.where)
                    if werr is not None:
                        n = Node(f"{name}: where {expr_text(e.where)}", None, werr)
                        n.children = self.node(e.where).children
                        out.append(n)
                        break
                    if w is not True:
                        continue  # items outside the `where` are not listed
                if shown >= ITEM_LIMIT:
                    more = 1 + sum(1 for x in coll[i + 1:] if self._selected(e, x))
                    out.append(Node(f"... {more} more item(s) not listed", plain=True))
                    break
                shown += 1
                v, verr = self.value(e.element)
                n = Node(f"{name}: {element}", v, verr)
                deciding = verr is not None or (
                    e.agg in ("all", "any", "none") and (v is False if e.agg == "all" else v is True))
                if deciding:
                    n.children = self.node(e.element).children
                out.append(n)
                if deciding:
                    rest = len(coll) - i - 1
                    if rest and verr is None:
                        out.append(Node(f"the {rest} later item(s)", evaluated=False))
                    break
        finally:
            if had:
                env.vars[e.var] = saved
            else:
                env.vars.pop(e.var, None)
        return out

    def _selected(self, e: ast.Comprehension, item: Any) -> bool:
        if e.where is None:
            return True
        self.env.vars[e.var] = item
        return self.value(e.where)[0] is True

    def metric_inputs(self, e: ast.Call) -> list[str]:
        spec = self.env.functions.get(e.func)
        if spec is None or spec.kind != "metric" or not spec.inputs:
            return []
        notes = []
        for a in e.args:
            if not isinstance(a, ast.Name):
                continue
            rec, err = self.value(a)
            if not isinstance(rec, dict):
                continue
            for path in spec.inputs:
                v: Any = rec
                for k in path.split("."):
                    v = v.get(k) if isinstance(v, dict) else None
                notes.append(f"{a.text}.{path} = {show_value(v)}")
        return notes


def _is_path(e: ast.Expr) -> bool:
    if isinstance(e, ast.Name):
        return True
    if isinstance(e, ast.Attr):
        return _is_path(e.obj)
    if isinstance(e, ast.Index):
        return isinstance(e.key, ast.Literal) and _is_path(e.obj)
    return False


def _deciding_compare(n: Node, e: ast.Expr) -> tuple[ast.Compare, Node] | None:
    """The comparison that made a condition false: itself, or the false operand of `and`."""
    if isinstance(e, ast.Compare) and n.value is False:
        return e, n
    if isinstance(e, ast.Binary) and e.op == "and" and n.value is False:
        for sub, child in zip((e.left, e.right), n.children):
            if child.evaluated and child.error is None and child.value is False:
                return _deciding_compare(child, sub)
    return None


# ------------------------------------------------------------------ explain --


def explain(program: Program, snapshot: Any, rule_name: str, subject: str, as_of: dt.date) -> Explanation:
    rule = find_rule(program, rule_name)
    coll, record = find_subject(snapshot, rule, subject)
    fc = rule.for_clause
    assert fc is not None
    params = program.params.get(rule.package, {})
    run = RunContext(snapshot, as_of)
    steps: list[Step] = []
    with decimal.localcontext(DECIMAL_CONTEXT):
        env = _Env(program, params, run)
        env.vars[fc.var] = record
        walker = _Walker(env)
        reached = True
        if fc.where is not None:
            n = walker.node(fc.where)
            steps.append(Step("where", expr_text(fc.where), n))
            reached = n.error is None and n.value is True
        for let in rule.lets:
            if not reached:
                steps.append(Step("let", let.name, None))
                continue
            n = walker.node(let.expr)
            steps.append(Step("let", let.name, n))
            if n.error is not None:
                reached = False
            else:
                env.vars[let.name] = n.value
        for req in rule.requires:
            if not reached:
                steps.append(Step("require", expr_text(req.cond), None))
                continue
            n = walker.node(req.cond)
            step = Step("require", expr_text(req.cond), n)
            steps.append(step)
            if n.error is not None or n.value is not True:
                reached = False
                hit = _deciding_compare(n, req.cond) if n.error is None else None
                if hit is not None:
                    cmp_e, cmp_n = hit
                    left, right = cmp_n.children[0], cmp_n.children[1]
                    try:
                        step.distance = distance(cmp_e.op, cmp_e.left, left.value, cmp_e.right, right.value, env)
                    except Exception:  # noqa: BLE001 - a hint must never break an explanation
                        step.distance = None
        result = _outcome(program, rule, record, run)
    return Explanation(rule, subject, coll, as_of, steps, result)


def _outcome(program: Program, rule: ast.Rule, record: dict, run: RunContext) -> Result:
    """The outcome exactly as an audit gives it: the reference evaluator, then waivers."""
    env = _Env(program, program.params.get(rule.package, {}), run)
    res = evaluate_subject(rule, record, env)
    if res.outcome == "fail":
        ev = Evaluation(results=[res], counts={rule.id: Counter({"fail": 1})})
        apply_waivers(program, run.snapshot, run.as_of, ev,
                      lambda w, r, s: _waiver_matches(program, run, w, r, s))
    return res

