"""Make plugin managers: no global one, so every test and every run gets its own.

Entry points are iterated here rather than by pluggy so that each `ep.load()` is guarded:
a plugin that fails to import is named (with its distribution) and skipped, not fatal.
Problems are appended to the `problems` list passed in (the session shows them); a name in
`PMO_RULES_DISABLE_PLUGINS` (comma-separated entry-point or `extra` names) is blocked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any, Literal

import pluggy

from . import hookspecs
from .errors import PluginError

PROJECT = "pmo_rules"
BUILTIN_DIST = "pmo-rules"
DISABLE_ENV = "PMO_RULES_DISABLE_PLUGINS"

hookimpl = pluggy.HookimplMarker(PROJECT)


def disabled_plugins() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {p.strip() for p in raw.replace(";", ",").split(",") if p.strip()}


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering which distribution each entry-point plugin came from
    (pluggy records that only when it loads the entry points itself)."""

    def __init__(self, project_name: str = PROJECT) -> None:
        super().__init__(project_name)
        self.dists: dict[str, str | None] = {}


def make_plugin_manager(
    *,
    entry_points_: Literal["all", "builtin", "none"] = "all",
    extra: Iterable[tuple[str, Any]] = (),
    problems: list[PluginError] | None = None,
) -> PluginManager:
    pm = PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = disabled_plugins()
    for name in blocked:
        pm.set_blocked(name)
    problems = problems if problems is not None else []
    if entry_points_ != "none":
        eps = sorted(entry_points(group=PROJECT), key=lambda e: e.name)
        if not eps and entry_points_ == "builtin":
            raise PluginError("pmo-rules", "pmo-rules is not installed (no entry points); run `pip install -e .`")
        for ep in eps:
            dist = ep.dist.name if ep.dist is not None else None
            if entry_points_ == "builtin" and dist not in (BUILTIN_DIST, "pmo_rules"):
                continue
            if ep.name in blocked or pm.is_registered(ep.name) or pm.get_plugin(ep.name) is not None:
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
                pm.dists[ep.name] = dist
            except Exception as exc:  # noqa: BLE001 - name the plugin, keep going
                problems.append(PluginError(ep.name, f"failed to load: {type(exc).__name__}: {exc}", dist))
    for name, plugin in extra:
        if name in blocked:
            continue
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001
            problems.append(PluginError(name, f"failed to register: {exc}"))
    problems.extend(unknown_hooks(pm))
    return pm


def unknown_hooks(pm: pluggy.PluginManager) -> list[PluginError]:
    """`pm.check_pending()`, but naming every plugin with a misspelt hook (not just the first)."""
    from .diagnostics import did_you_mean

    specs = [n for n in dir(hookspecs) if n.startswith(f"{PROJECT}_")]
    out: list[PluginError] = []
    for name in list(vars(pm.hook)):
        if name.startswith("_"):
            continue
        caller = getattr(pm.hook, name)
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                hint = did_you_mean(name, specs)
                out.append(PluginError(impl.plugin_name, f"implements unknown hook `{name}`" +
                                       (f"; {hint}" if hint else f" (hooks: {', '.join(specs)})")))
    return out
