"""Typed registries of what plugins provide, filled through `register` callbacks.

The core validates each registration, refuses a name two plugins both claim (naming
both), and keeps the providing plugin's name for `pmo-rules plugins` and for errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from .errors import PluginError


@dataclass(frozen=True)
class FunctionSpec:
    """A function or metric callable from policies.

    ``params`` are type names per positional argument: ``number text bool date duration
    list record any`` or a record kind (``project person program``), alternatives joined
    by ``|``. ``returns`` is a type name, or ``"same"`` for the first argument's type.
    """

    name: str
    func: Callable[..., Any]
    params: tuple[str, ...]
    returns: str
    description: str
    unit: str | None = None
    min_args: int | None = None
    varargs: bool = False
    null_ok: bool = False
    kind: str = "function"  # function | metric
    inputs: tuple[str, ...] = ()
    plugin: str = ""
    # True: called as func(run, *args) with the run's `RunContext` (snapshot, as_of,
    # cache), for metrics that need the as-of date or an index over another collection.
    context: bool = False

    @property
    def signature(self) -> str:
        ps = list(self.params)
        if self.varargs:
            ps[-1] = ps[-1] + ", ..."
        return f"{self.name}({', '.join(ps)}) -> {self.returns}"


@dataclass(frozen=True)
class SourceSpec:
    name: str
    extensions: tuple[str, ...]
    load: Callable[[Path], dict[str, list[dict]]]
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class FormatSpec:
    name: str
    render: Callable[..., str]
    extension: str
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class SchemaExtension:
    name: str
    schema: dict[str, Any]
    plugin: str = ""


@dataclass
class Registry:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    sources: dict[str, SourceSpec] = field(default_factory=dict)
    formats: dict[str, FormatSpec] = field(default_factory=dict)
    schema_extensions: list[SchemaExtension] = field(default_factory=list)
    problems: list[PluginError] = field(default_factory=list)
    plugins: list[tuple[str, str | None]] = field(default_factory=list)

    def source_for(self, path: Path) -> SourceSpec | None:
        suffix = path.suffix.lower()
        for spec in self.sources.values():
            if suffix in spec.extensions:
                return spec
        return None


def _registrar(table: dict, kind: str, plugin: str, cls: type) -> Callable[[Any], None]:
    def register(item: Any) -> None:
        if not isinstance(item, cls):
            raise PluginError(plugin, f"registered a {type(item).__name__}, expected a {cls.__name__}")
        if not item.name or not isinstance(item.name, str):
            raise PluginError(plugin, f"registered a {kind} without a name")
        existing = table.get(item.name)
        if existing is not None:
            raise PluginError(
                plugin,
                f"{kind} `{item.name}` is already provided by plugin `{existing.plugin}`;"
                " two plugins cannot define the same name (disable one with PMO_RULES_DISABLE_PLUGINS)",
            )
        table[item.name] = _with_plugin(item, plugin)

    return register


def _with_plugin(item: Any, plugin: str) -> Any:
    import dataclasses

    return dataclasses.replace(item, plugin=plugin)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every hook of every plugin, each inside its own guard."""
    reg = Registry()
    for name, plugin in pm.list_name_plugin():
        dist = None
        for p, d in pm.list_plugin_distinfo():
            if p is plugin:
                dist = getattr(d, "project_name", None) or getattr(d, "name", None)
        reg.plugins.append((name, dist))
    calls = [
        ("pmo_rules_functions", reg.functions, "function", FunctionSpec),
        ("pmo_rules_metrics", reg.functions, "function", FunctionSpec),
        ("pmo_rules_sources", reg.sources, "source", SourceSpec),
        ("pmo_rules_formats", reg.formats, "format", FormatSpec),
    ]
    for hook_name, table, kind, cls in calls:
        hook = getattr(pm.hook, hook_name)
        for impl in reversed(hook.get_hookimpls()):
            register = _registrar(table, kind, impl.plugin_name, cls)
            try:
                impl.function(register=register)
            except PluginError as exc:
                reg.problems.append(exc)
            except Exception as exc:  # noqa: BLE001 - a plugin's failure must not stop the run
                reg.problems.append(PluginError(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}"))
    for impl in reversed(pm.hook.pmo_rules_schema.get_hookimpls()):
        def register_ext(ext: SchemaExtension, _p: str = impl.plugin_name) -> None:
            if not isinstance(ext, SchemaExtension):
                raise PluginError(_p, f"registered a {type(ext).__name__}, expected a SchemaExtension")
            reg.schema_extensions.append(_with_plugin(ext, _p))
        try:
            impl.function(register=register_ext)
        except PluginError as exc:
            reg.problems.append(exc)
        except Exception as exc:  # noqa: BLE001
            reg.problems.append(PluginError(impl.plugin_name, f"pmo_rules_schema raised {type(exc).__name__}: {exc}"))
    return reg


@dataclass(frozen=True)
class BadRecord:
    """What a source yields in place of a record it could not read (a broken JSON line)."""

    message: str
