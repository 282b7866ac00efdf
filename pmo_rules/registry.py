"""Typed registries of what plugins provide, filled through `register` callbacks.

The core validates each registration, refuses a name two plugins both claim (naming
both), and keeps the providing plugin's name for `pmo-rules plugins` and for errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
    """A data source: reads files with one of `extensions` (lower case, with the dot).

    ``load(path)`` returns raw records per collection (``{"projects": [...]}``), shaped like
    the JSON data; a record it cannot read may be a `BadRecord` (reported, not fatal). A
    collection may be an iterator instead of a list: it is then read while the records
    are validated, so that a large file's raw records are never all held at once.

    ``load_range(path, start, stop)``, optional, lets the core read a large file with two
    processes: it gives what ``load`` gives for the records between byte offsets `start`
    and `stop`, each offset moved on to a record boundary the source chooses (the same
    one for the same offset). So ranges that follow each other, ``load_range(p, 0, a)``,
    ``load_range(p, a, b)``, ... ``load_range(p, z, size)``, give, together and in that
    order, exactly the records and messages of ``load(p)``: messages counting lines count
    them from the start of the file, and every range gives the same collections. The core
    numbers the records of each range on from those before (`loadsplit`).
    """

    name: str
    extensions: tuple[str, ...]
    load: Callable[[Path], dict[str, list[dict] | Iterator[dict]]]
    description: str = ""
    plugin: str = ""
    load_range: Callable[[Path, int, int], dict[str, list[dict] | Iterator[dict]]] | None = None


@dataclass(frozen=True)
class FormatSpec:
    """A report format: ``render(report, options) -> str``; `extension` names output files.

    `render_parts(report, options) -> list[str]`, optional, gives the same text in pieces
    the CLI writes one after the other, so a very large report never exists as one string."""

    name: str
    render: Callable[..., str]
    extension: str
    description: str = ""
    plugin: str = ""
    render_parts: Callable[..., list[str]] | None = None


@dataclass(frozen=True)
class SchemaExtension:
    """A data-schema extension: `schema` has the shape of a `--schema-extension` file
    (``{"projects": {"properties": {...}}, "people": ..., "programs": ...}``)."""

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
        match = self.match_source(path)
        return match[0] if match else None

    def match_source(self, path: Path) -> tuple[SourceSpec, str] | None:
        """The source whose extension is the longest ending of the file name, and that
        extension: `x.jira.csv` goes to a source of `.jira.csv` before one of `.csv`."""
        name = path.name.lower()
        best: tuple[SourceSpec, str] | None = None
        for spec in self.sources.values():
            for ext in spec.extensions:
                e = ext.lower()
                if name.endswith(e) and len(name) > len(e) and (best is None or len(e) > len(best[1])):
                    best = (spec, e)
        return best


def _registrar(table: dict, kind: str, plugin: str, cls: type, problems: list[PluginError]
               ) -> Callable[[Any], None]:
    """The `register` callback one plugin gets: a refused registration is recorded as a
    problem naming the plugin, and the plugin's other registrations go on."""

    def register(item: Any) -> None:
        try:
            _admit(table, kind, plugin, cls, item)
        except PluginError as exc:
            problems.append(exc)

    return register


def _admit(table: dict, kind: str, plugin: str, cls: type, item: Any) -> None:
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
    _check_item(item, kind, plugin, table)
    table[item.name] = _with_plugin(item, plugin)


def _check_item(item: Any, kind: str, plugin: str, table: dict) -> None:
    """What the core relies on later, checked now so the error names the plugin."""
    what = f"{kind} `{item.name}`"
    call = {"function": "func", "source": "load", "format": "render"}[kind]
    if not callable(getattr(item, call)):
        raise PluginError(plugin, f"{what}: `{call}` must be callable")
    if isinstance(item, FunctionSpec):
        if not isinstance(item.params, tuple) or not all(isinstance(p, str) and p for p in item.params):
            raise PluginError(plugin, f"{what}: `params` must be a tuple of type names, e.g. (\"project\",)")
        if not isinstance(item.returns, str) or not item.returns:
            raise PluginError(plugin, f"{what}: `returns` must be a type name, e.g. \"number\"")
        if item.kind not in ("function", "metric"):
            raise PluginError(plugin, f"{what}: `kind` is {item.kind!r}; use \"function\" or \"metric\"")
    if isinstance(item, SourceSpec):
        if item.load_range is not None and not callable(item.load_range):
            raise PluginError(plugin, f"{what}: `load_range` must be callable or None")
        exts = item.extensions
        if not isinstance(exts, tuple) or not exts or not all(isinstance(e, str) and e.startswith(".") for e in exts):
            raise PluginError(plugin, f"{what}: `extensions` must be a tuple like (\".json\",)")
        for other in table.values():
            shared = sorted({e.lower() for e in exts} & {e.lower() for e in other.extensions})
            if shared:
                raise PluginError(plugin, f"{what} reads {', '.join(shared)} files, which source `{other.name}` "
                                          f"of plugin `{other.plugin}` already reads; disable one with "
                                          "PMO_RULES_DISABLE_PLUGINS")


def _with_plugin(item: Any, plugin: str) -> Any:
    import dataclasses

    return dataclasses.replace(item, plugin=plugin)


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every hook of every plugin, each inside its own guard."""
    reg = Registry()
    dists: dict[str, str | None] = getattr(pm, "dists", {})
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue  # blocked (PMO_RULES_DISABLE_PLUGINS)
        dist = dists.get(name)
        for p, d in pm.list_plugin_distinfo():
            if p is plugin:
                dist = getattr(d, "project_name", None) or getattr(d, "name", None)
        reg.plugins.append((name, dist))
    # NOTE: plugins are called in registration order (built-ins, then third-party plugins
    # by entry-point name, then `extra`), not in pluggy's LIFO order, and functions and
    # metrics share one name table: on a clash the plugin that came first keeps the name
    # and the newcomer is the one reported.
    order = {name: i for i, (name, _) in enumerate(pm.list_name_plugin())}
    groups = [
        (("pmo_rules_functions", "pmo_rules_metrics"), reg.functions, "function", FunctionSpec),
        (("pmo_rules_sources",), reg.sources, "source", SourceSpec),
        (("pmo_rules_formats",), reg.formats, "format", FormatSpec),
        (("pmo_rules_schema",), {}, "schema extension", SchemaExtension),
    ]
    for hook_names, table, kind, cls in groups:
        impls = sorted(((order.get(impl.plugin_name, len(order)), i, impl, hook_name)
                        for i, hook_name in enumerate(hook_names)
                        for impl in getattr(pm.hook, hook_name).get_hookimpls()),
                       key=lambda t: (t[0], t[1]))
        for _, _, impl, hook_name in impls:
            if cls is SchemaExtension:
                register = _schema_registrar(impl.plugin_name, reg)
            else:
                register = _registrar(table, kind, impl.plugin_name, cls, reg.problems)
            try:
                impl.function(register=register)
            except PluginError as exc:
                reg.problems.append(exc)
            except Exception as exc:  # noqa: BLE001 - a plugin's failure must not stop the run
                reg.problems.append(PluginError(impl.plugin_name, f"{hook_name} raised {type(exc).__name__}: {exc}"))
    return reg


def _schema_registrar(plugin: str, reg: Registry) -> Callable[[Any], None]:
    def register(ext: Any) -> None:
        if not isinstance(ext, SchemaExtension):
            reg.problems.append(PluginError(plugin, f"registered a {type(ext).__name__}, expected a SchemaExtension"))
        elif not ext.name or not isinstance(ext.name, str):
            reg.problems.append(PluginError(plugin, "registered a schema extension without a name"))
        else:
            # The documents are checked and merged by the session (`schema.extension`).
            reg.schema_extensions.append(_with_plugin(ext, plugin))

    return register


@dataclass(frozen=True)
class BadRecord:
    """What a source yields in place of a record it could not read (a broken JSON line)."""

    message: str
