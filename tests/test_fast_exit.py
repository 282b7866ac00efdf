"""After a large run, `pmo-rules` ends with `os._exit` (see `cli.entry`): nothing written may
be lost, and the exit code must be the command's."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
import pmo_rules.cli.audit as audit
audit.LARGE_RUN_RECORDS = {threshold}  # every run counts as large (or none does)
from pmo_rules.cli import entry
sys.argv = ["pmo-rules", "audit", "--as-of", "2026-11-26", "--format", "json", "--quiet", *{extra!r}]
entry()
"""


def _run(threshold: int, extra: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT.format(threshold=threshold, extra=extra)],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


def test_fast_exit_keeps_the_output_and_the_exit_code(tmp_path):
    normal = _run(10**9, [])
    fast = _run(1, [])
    assert normal.returncode == fast.returncode == 1  # the sample has blocking failures
    assert len(fast.stdout) > 10_000 and fast.stdout == normal.stdout
    out = tmp_path / "report.json"
    fast_file = _run(1, ["--output", str(out)])
    assert fast_file.returncode == 1
    assert out.read_text(encoding="utf-8") == normal.stdout


def test_usage_errors_still_exit_2_after_a_fast_exit_is_armed():
    fast = _run(1, ["--fail-on", "nonsense"])
    assert fast.returncode == 2 and "nonsense" in fast.stderr


def test_report_pieces_are_written_as_the_text_they_join_to(tmp_path):
    """`write_parts` joins and encodes 2,048 pieces at a time: none lost or doubled at a
    seam, every character encoded as UTF-8 (a piece may end inside a line)."""
    from pmo_rules.cli.common import write_parts

    big = "🚀" + "x" * 70_000  # written alone, not joined with its neighbours
    parts = [f"{i}é🚀\n" if i % 3 else f"{i}," for i in range(5000)] + ["", big, "end"]
    path = tmp_path / "out.json"
    write_parts(path, parts)
    assert path.read_bytes() == "".join(parts).encode("utf-8")
    write_parts(path, [])
    assert path.read_bytes() == b""
