"""A plugin that misspells a hook name (`pmo_rules_metric` for `pmo_rules_metrics`)."""

from pmo_rules import hookimpl


@hookimpl
def pmo_rules_metric(register):
    raise AssertionError("never called: there is no such hook")
