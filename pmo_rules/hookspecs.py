"""Every hook a pmo-rules plugin can implement.

A plugin is a module (or object) with functions decorated by `pmo_rules.hookimpl`, made
known through the `pmo_rules` entry-point group. Built-in sources, functions, metrics and
formats are plugins of exactly this kind (`plugins/pmo_rules_builtins`).

Each hook receives a `register` callback instead of returning values, so the core can
validate what it is given, detect two plugins claiming the same name, and remember which
plugin provided what (`pmo-rules plugins` lists it). Hooks are called once per plugin
manager, when the registry is built (`registry.build_registry`); an exception raised by a
hook names the plugin and does not stop the other plugins from registering.

Every hook takes one argument, `register`, and returns nothing (its return value is
ignored); none is `firstresult`: every implementation is called, in registration order
(built-ins first). A registration the core refuses (a name another plugin already has, a
missing callable) is reported naming your plugin and skipped; `register` returns normally
and your other registrations go on. The plugin guide (`docs/plugins.md`) shows each hook
in use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import FormatSpec, FunctionSpec, SchemaExtension, SourceSpec

hookspec = pluggy.HookspecMarker("pmo_rules")


@hookspec
def pmo_rules_sources(register: Callable[[SourceSpec], None]) -> None:
    """Register data sources: readers that turn a file into portfolio collections.

    Called once when the registry is built. Call ``register(SourceSpec(...))`` for each
    source. A `SourceSpec` names the file extensions it reads (``(".json",)``) and a
    ``load(path) -> dict[str, list[dict]]`` that returns raw records per collection
    (``{"projects": [...], "people": [...]}``); records are validated by the core.
    ``load`` is then called for each data file with one of those extensions (a `--data`
    file, or a folder's ``projects.*``/``people.*``/``programs.*``); an exception it raises
    is reported naming the plugin and the file. Two sources may not claim one extension.
    """


@hookspec
def pmo_rules_functions(register: Callable[[FunctionSpec], None]) -> None:
    """Register functions callable from policies (`len`, `lower`, `days`, ...).

    Called once when the registry is built. Call ``register(FunctionSpec(...))`` with the
    function's name, parameter types, result type, unit and description; the checker uses
    the types, and `pmo-rules plugins --functions` prints the description. ``func`` is
    called during evaluation with language values (`Decimal`, `date`, `str`, `bool`,
    lists, record dicts); it is not called with a null argument unless ``null_ok``. If
    it raises, that (rule, subject) gets an `error` outcome naming the plugin.
    """


@hookspec
def pmo_rules_metrics(register: Callable[[FunctionSpec], None]) -> None:
    """Register metrics: functions of one subject record (`cpi(project)`).

    Called once when the registry is built. Call ``register(FunctionSpec(kind="metric",
    ...))``. A metric is computed at most once per subject and run; it returns ``None``
    when its inputs cannot give a meaningful value (a zero or missing denominator), which
    a policy then sees as null. ``inputs`` lists the record paths it reads, recorded as
    evidence when a finding depends on the metric.
    """


@hookspec
def pmo_rules_formats(register: Callable[[FormatSpec], None]) -> None:
    """Register report formats (`text`, `json`, ...).

    Called once when the registry is built. Call ``register(FormatSpec(...))`` with a
    ``render(report, options) -> str`` taking the `findings.Report` of an audit run.
    ``render`` is called after the audit, once per ``--format NAME`` given; ``extension``
    (``".txt"``) names the file when several formats are written with ``--output``.
    """


@hookspec
def pmo_rules_schema(register: Callable[[SchemaExtension], None]) -> None:
    """Register data-schema extensions: extra, typed fields on projects, people or programs.

    Called once when the registry is built. Call ``register(SchemaExtension(...))`` with
    a JSON Schema fragment per collection; the checker then knows the fields' types and
    loaded records are validated against them. The ``schema`` has the shape of a
    ``--schema-extension`` file (``{"projects": {"properties": {...}}}``); plugins'
    extensions are merged before the file's. An invalid one, or one giving a built-in
    field another type, is reported naming the plugin and left out.
    """
