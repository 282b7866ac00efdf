"""The `pmo-rules` command: a click group; one module per command.

Commands parse options, call `pmo_rules.api`, render, and map outcomes to exit codes:
0 nothing blocking, 1 a blocking failure, 2 invalid policies, data or usage, 3 evaluation
errors. No traceback reaches a user unless `--debug` is given.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from .. import __version__
from ..errors import PmoError, PolicyError
from ..source import escaped


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            click.echo(exc.diagnostics.render(), err=True)
            ctx.exit(2)
        except PmoError as exc:
            click.echo("\n".join(escaped(line) for line in f"error: {exc}".split("\n")), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            else:
                click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                           "(run with --debug for the traceback, and please report it)", err=True)
            ctx.exit(3)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="pmo-rules")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Policy-as-code for Project Management Offices."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _register() -> None:
    """Every module in this package that defines `command` is a subcommand."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "common":
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        cmd = getattr(mod, "command", None)
        if isinstance(cmd, click.Command):
            main.add_command(cmd)


_register()

def entry() -> None:
    """The `pmo-rules` program: `main`, then, after a large run, a quick exit.

    Freeing a 100,000-project snapshot object by object takes longer than writing its
    report (1.3 s); the operating system reclaims a process's memory at once. So after a
    large run the process ends with `os._exit`, once its output is flushed (files and the
    audit trail are closed by then, worker processes joined). `main` itself, which tests
    call in-process through click's runner, always returns normally."""
    try:
        main()
    except SystemExit as exc:
        from . import common

        if not common.large_run:
            raise
        code = exc.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    entry()
