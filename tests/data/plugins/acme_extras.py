"""A well-behaved third-party plugin: one function, `acme_double(number) -> number`."""

from __future__ import annotations

from pmo_rules import hookimpl
from pmo_rules.registry import FunctionSpec


def acme_double(x):
    return x * 2


@hookimpl
def pmo_rules_functions(register):
    register(FunctionSpec("acme_double", acme_double, ("number",), "number", "Twice the number.", unit="same"))
