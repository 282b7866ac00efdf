"""The examples in docs/language.md and README.md are real.

- every ```pmo block is a complete policy file that parses and checks with no error;
- every ```pmo-error block gives diagnostics, and the ```text block right after it is
  exactly what `pmo-rules check example.pmo` prints for it;
- README's first screen gives the two commands that work on a fresh clone.

After a deliberate change to a diagnostic, refresh the expected outputs with
`python tests/test_docs.py --update` and review the diff.

One line is compared loosely: the `= functions: ...` list of an unknown-function error
names every function of every installed plugin, so it grows whenever a plugin adds one.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pmo_rules import api

ROOT = Path(__file__).resolve().parents[1]
DOC_FILES = (ROOT / "docs" / "language.md", ROOT / "README.md")
ERROR_FILE_NAME = "example.pmo"  # the name the expected outputs were captured with

INSTALL_AND_AUDIT = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && pmo-rules audit"
)
INSTALL_AND_TEST = (
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' "
    "&& python -m pytest -q"
)

_FENCE = re.compile(r"^```([A-Za-z0-9_-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    start: int  # offsets of the body in the file, for --update
    end: int

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def blocks(path: Path) -> list[Block]:
    doc = path.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(doc):
        line = doc.count("\n", 0, m.start()) + 1
        out.append(Block(path, line, m.group(1), m.group(2), m.start(2), m.end(2)))
    return out


def all_blocks() -> list[Block]:
    return [b for p in DOC_FILES if p.exists() for b in blocks(p)]


def error_pairs() -> list[tuple[Block, Block | None]]:
    """Each ```pmo-error block with the block that follows it (its expected output)."""
    out = []
    for p in DOC_FILES:
        if not p.exists():
            continue
        bs = blocks(p)
        for i, b in enumerate(bs):
            if b.lang == "pmo-error":
                out.append((b, bs[i + 1] if i + 1 < len(bs) else None))
    return out


_FUNCTION_LIST = re.compile(r"^  = functions: .*$", re.M)


def comparable(output: str) -> str:
    """Output with the installation-dependent list of functions elided."""
    return _FUNCTION_LIST.sub("  = functions: ...", output.rstrip("\n"))


def render_errors(text: str, session: api.Session) -> tuple[int, str]:
    """(number of errors, the text `pmo-rules check example.pmo` prints on standard error)."""
    _, diags = api.check_text(text, session, ERROR_FILE_NAME)
    return len(diags.errors), diags.render()


@pytest.fixture(scope="module")
def session() -> api.Session:
    return api.Session.create()


POLICY_BLOCKS = [b for b in all_blocks() if b.lang == "pmo"]
ERROR_PAIRS = error_pairs()


def test_docs_have_examples() -> None:
    assert len(POLICY_BLOCKS) >= 10
    assert len(ERROR_PAIRS) >= 17
    assert any(b.path.name == "README.md" for b in POLICY_BLOCKS), (
        "README's tutorial policy is a ```pmo block"
    )


@pytest.mark.parametrize("block", POLICY_BLOCKS, ids=[b.id for b in POLICY_BLOCKS])
def test_policy_example_checks(block: Block, session: api.Session) -> None:
    assert block.text.lstrip().startswith("package "), f"{block.id}: a ```pmo block is a whole file"
    program, diags = api.check_text(block.text, session, block.id)
    assert not diags.errors, f"{block.id}:\n{diags.render()}"
    assert program is not None


@pytest.mark.parametrize("pair", ERROR_PAIRS, ids=[b.id for b, _ in ERROR_PAIRS])
def test_error_example_output(pair: tuple[Block, Block | None], session: api.Session) -> None:
    block, expected = pair
    n_errors, rendered = render_errors(block.text, session)
    assert n_errors > 0, f"{block.id}: the example is supposed to be an error but checks cleanly"
    assert expected is not None and expected.lang == "text", (
        f"{block.id}: a ```pmo-error block must be followed by a ```text block with the output"
    )
    assert comparable(expected.text) == comparable(rendered), (
        f"{block.id}: the documented output differs from the tool's (run `python tests/test_docs.py --update`)"
    )


def test_readme_first_screen_has_the_two_commands() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:25])
    assert INSTALL_AND_AUDIT in first_screen
    assert INSTALL_AND_TEST in first_screen


def test_documented_param_errors_are_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `--param` errors quoted in docs/language.md section 2."""
    from click.testing import CliRunner

    from pmo_rules.cli import main

    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    (tmp_path / "governance.pmo").write_text(
        "package governance\n\nparam stale_after = 14d\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    for arg in ("governance.stale_after=14", "governance.stale_aftr=21d"):
        result = CliRunner().invoke(main, ["check", "governance.pmo", "--param", arg])
        assert result.exit_code == 2
        quoted = f"$ pmo-rules check governance.pmo --param {arg}\n"
        assert quoted in doc
        line = doc.split(quoted, 1)[1].splitlines()[0]
        assert line in result.output


def _update() -> int:
    """Rewrite each ```text block after a ```pmo-error block with the tool's real output."""
    session = api.Session.create()
    changed = 0
    for path in DOC_FILES:
        if not path.exists():
            continue
        doc = path.read_text(encoding="utf-8")
        bs = blocks(path)
        edits = []
        for i, b in enumerate(bs):
            if b.lang != "pmo-error":
                continue
            n_errors, rendered = render_errors(b.text, session)
            if n_errors == 0:
                print(f"{b.id}: no error any more; fix the example by hand", file=sys.stderr)
                continue
            nxt = bs[i + 1] if i + 1 < len(bs) else None
            if nxt is None or nxt.lang != "text":
                print(f"{b.id}: no ```text block follows; add one", file=sys.stderr)
                continue
            if comparable(nxt.text) != comparable(rendered):
                edits.append((nxt.start, nxt.end, rendered + "\n"))
        for start, end, new in sorted(edits, reverse=True):
            doc = doc[:start] + new + doc[end:]
        if edits:
            path.write_text(doc, encoding="utf-8")
            changed += len(edits)
            print(f"{path.relative_to(ROOT)}: updated {len(edits)} output(s)")
    return 0 if changed >= 0 else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        sys.exit(_update())
    print("usage: python tests/test_docs.py --update", file=sys.stderr)
    sys.exit(2)
