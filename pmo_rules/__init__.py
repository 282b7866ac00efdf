"""pmo-rules: policy-as-code for Project Management Offices.

The pipeline, one module per stage: `parse` (text -> `ast`), `check` (names and types),
`evaluate` (subjects x rules -> `findings`), and report formats from plugins.
"""

from __future__ import annotations

from .pluginmanager import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
