"""Make the plugin importable from `src/` when it is not installed (a plain checkout)."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import pmo_rules_jira  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
