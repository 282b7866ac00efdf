"""The checked program: what `check` hands to the evaluators.

Holds the parsed modules, the rules in a stable order, the effective parameter values
(defaults overridden by `--param` and the config file) and the function table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ast
from .registry import FunctionSpec
from .source import SourceFile

SEVERITIES = ("info", "low", "medium", "high", "critical")
ENFORCEMENTS = ("advisory", "soft", "hard")
OUTCOMES = ("pass", "fail", "error", "waived", "not_applicable")


@dataclass
class Program:
    modules: list[ast.Module]
    rules: list[ast.Rule]
    params: dict[str, dict[str, Any]]  # package -> name -> effective value
    waivers: list[ast.Waiver]
    tests: list[ast.Test]
    functions: dict[str, FunctionSpec]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    # Spans of `sum`s over durations: an empty one is `0d`, not 0 (SPEC 2.6).
    duration_sums: set = field(default_factory=set)

    @property
    def rule_by_id(self) -> dict[str, ast.Rule]:
        return {r.id: r for r in self.rules}

    def effective_params(self) -> dict[str, Any]:
        """`package.name` -> value, for reports."""
        return {f"{pkg}.{name}": v for pkg, ps in sorted(self.params.items()) for name, v in sorted(ps.items())}


def severity_of(rule: ast.Rule) -> str:
    return rule.meta_value("severity", "medium")


def enforcement_of(rule: ast.Rule) -> str:
    return rule.meta_value("enforcement", "soft")
