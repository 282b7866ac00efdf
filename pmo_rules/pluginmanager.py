"""Make plugin managers: no global one, so every test and every run gets its own.

Entry points are iterated here rather than by pluggy so that each `ep.load()` is guarded:
a plugin that fails to import is named (with its distribution) and skipped, not fatal.
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


def make_plugin_manager(
    *,
    entry_points_: Literal["all", "builtin", "none"] = "all",
    extra: Iterable[tuple[str, Any]] = (),
    problems: list[PluginError] | None = None,
) -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
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
            except Exception as exc:  # noqa: BLE001 - name the plugin, keep going
                problems.append(PluginError(ep.name, f"failed to load: {type(exc).__name__}: {exc}", dist))
    for name, plugin in extra:
        if name in blocked:
            continue
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # noqa: BLE001
            problems.append(PluginError(name, f"failed to register: {exc}"))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        problems.append(PluginError(getattr(exc, "plugin", None).__class__.__name__ if getattr(exc, "plugin", None) else "?", str(exc)))
    return pm
