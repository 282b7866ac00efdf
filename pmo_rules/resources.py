"""Locate bundled files (grammar, policy library, sample data) in a wheel or a checkout.

In an installed wheel hatchling's force-include puts `grammar/` and `policies/` under
`pmo_rules/_bundled/`; in an editable install the package is imported from the source
tree, where they are siblings of the package directory.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def bundled(kind: str) -> Path:
    """`kind` is "grammar" or "policies"."""
    packaged = _PKG / "_bundled" / kind
    if packaged.is_dir():
        return packaged
    return _PKG.parent / kind


def sample_data() -> Path:
    return _PKG / "data" / "sample"
