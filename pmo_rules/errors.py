"""Exceptions that cross stage boundaries; the CLI maps each to a message and exit code."""

from __future__ import annotations

from .diagnostics import DiagnosticList


class PmoError(Exception):
    """Base class: anything the user caused and can fix. Rendered without a traceback."""

    exit_code = 2


class PolicyError(PmoError):
    """Policies failed to parse or check; carries every diagnostic found."""

    def __init__(self, diagnostics: DiagnosticList):
        self.diagnostics = diagnostics
        super().__init__(diagnostics.render())


class UsageError(PmoError):
    exit_code = 2


class DataError(PmoError):
    """Input data could not be read at all (records that merely fail validation are quarantined)."""

    exit_code = 2


class PluginError(PmoError):
    """A plugin failed to load or raised; names the plugin and, where known, its distribution."""

    exit_code = 2

    def __init__(self, plugin: str, message: str, dist: str | None = None):
        self.plugin = plugin
        self.dist = dist
        where = f"plugin `{plugin}`" + (f" (from {dist})" if dist else "")
        super().__init__(f"{where}: {message}")
