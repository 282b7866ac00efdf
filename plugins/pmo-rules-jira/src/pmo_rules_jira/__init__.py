"""pmo-rules-jira: a pmo-rules data source for Jira "Export CSV" files.

Registered through the `pmo_rules` entry-point group as plugin `jira`, source `jira`,
for files named `*.jira.csv` (or `*.jira`). One export becomes `{"projects": [...]}`:
each Epic a project (or, without epics, each Jira project), its Risk issues the project's
`risks` and its other issues the project's `issues`. See README.md for the mapping.
"""

from __future__ import annotations

from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import SourceSpec

from .dates import parse_jira_date
from .mapping import to_collections
from .reader import JiraExport, JiraRow, parse_export, read_export

__version__ = "0.1.0"

EXTENSIONS = (".jira.csv", ".jira")

__all__ = ["EXTENSIONS", "JiraExport", "JiraRow", "load", "loads", "parse_export", "parse_jira_date",
           "read_export", "to_collections"]


def load(path: Path) -> dict[str, list]:
    """Read a Jira CSV export file into raw pmo-rules records (`{"projects": [...]}`)."""
    return to_collections(read_export(Path(path)))


def loads(text: str, label: str = "<jira>") -> dict[str, list]:
    """The same, from the text of an export."""
    return to_collections(parse_export(text, label))


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec(
        "jira", EXTENSIONS, load,
        "Jira \"Export CSV\" (*.jira.csv): each Epic (or, without epics, each Jira project) a project,"
        " Risk issues its risks, other issues its issues",
    ))
