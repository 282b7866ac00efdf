"""`pmo-rules fmt`: rewrite policy files in their canonical form (see `pmo_rules.fmt`).

Exit codes: 0 done (or, with `--check`, every file is already canonical); 1 with `--check`
or `--diff`, some file would change; 2 a file does not parse (it is reported with
file:line:col and left untouched) or a path does not exist.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from ..diagnostics import Diagnostic
from ..source import SourceFile, decode_policy_bytes


def _report(diags: list[Diagnostic], name: str, data: bytes) -> None:
    text, _ = decode_policy_bytes(data)
    source = SourceFile(name, text)
    for d in diags:
        click.echo(d.render(source), err=True)


@click.command("fmt")
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@click.option("--check", is_flag=True, help="Change nothing; list the files that would change and exit 1 if any.")
@click.option("--diff", "show_diff", is_flag=True, help="Change nothing; print what would change as a unified diff.")
def command(targets: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Format policy files (and folders of them) in place, keeping every comment.

    Use `-` to read a policy from standard input and print it formatted.
    """
    from ..fmt import FormatError, format_bytes, policy_paths  # only for this command

    status = 0
    missing: list[Path] = []
    if targets == ("-",):
        data = sys.stdin.buffer.read()
        try:
            out = format_bytes(data, "<stdin>")
        except FormatError as exc:
            _report(exc.diagnostics, "<stdin>", data)
            sys.exit(2)
        if check:
            sys.exit(0 if out.encode("utf-8") == data else 1)
        sys.stdout.write(out)
        return
    files = policy_paths([Path(t) for t in targets], missing.append)
    for m in missing:
        click.echo(f"error: {m}: no such policy file or folder", err=True)
        status = 2
    changed = 0
    for f in files:
        data = f.read_bytes()
        try:
            out = format_bytes(data, str(f))
        except FormatError as exc:
            _report(exc.diagnostics, str(f), data)
            status = 2
            continue
        new = out.encode("utf-8")
        if new == data:
            continue
        changed += 1
        if show_diff:
            old_text, _ = decode_policy_bytes(data)
            sys.stdout.writelines(difflib.unified_diff(
                old_text.splitlines(keepends=True), out.splitlines(keepends=True),
                fromfile=f"{f} (original)", tofile=f"{f} (formatted)"))
        elif check:
            click.echo(str(f))
        else:
            f.write_bytes(new)
            click.echo(f"formatted {f}", err=True)
    if (check or show_diff) and changed and status == 0:
        status = 1
    if not check and not show_diff and status == 0:
        click.echo(f"{changed} file(s) formatted, {len(files) - changed} unchanged", err=True)
    elif check and status == 0 and not changed:
        click.echo(f"{len(files)} file(s) already formatted", err=True)
    sys.exit(status)
