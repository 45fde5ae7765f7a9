"""Run a server's own argument parser without starting the server.

Servers report bad flags in three different ways (argparse exits, click raises, getopt raises
GetoptError). These helpers turn each into :class:`ArgsRejected` carrying the parser's one-line
message, so ``prodserver`` can name the process and the fix before anything starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django_prodserver.errors import ArgsRejected

if TYPE_CHECKING:
    import click


def parse_argparse(
    parser: argparse.ArgumentParser, args: Sequence[str]
) -> argparse.Namespace | None:
    """Parse with argparse; its error message (not its usage text) becomes ArgsRejected.

    Returns None for ``--help`` / ``--version``: nothing is wrong, and the server prints them
    itself when it runs.
    """
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            return parser.parse_args(list(args))
    except SystemExit as exc:
        if exc.code in (0, None):
            return None
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit status {exc.code}"
        # argparse prefixes "prog: error: "; keep only what is wrong.
        raise ArgsRejected(message.split("error: ", 1)[-1]) from None


def parse_click(command: click.Command, prog: str, args: Sequence[str], **extra: Any) -> None:
    """Parse with a click command without invoking it."""
    import click

    try:
        # --help / --version print while parsing; the server prints them when it runs.
        with (
            contextlib.redirect_stdout(io.StringIO()),
            command.make_context(prog, list(args), **extra),
        ):
            pass
    except click.exceptions.Exit:
        pass  # --help / --version: nothing wrong with the flags
    except click.ClickException as exc:
        raise ArgsRejected(exc.format_message()) from None


def run_click(command: click.Command, prog: str, args: Sequence[str], **extra: Any) -> None:
    """Invoke a click command in this process; usage errors become ArgsRejected, not tracebacks."""
    import click

    try:
        status = command.main(args=list(args), prog_name=prog, standalone_mode=False, **extra)
        # Without standalone mode click returns a command's exit status instead of exiting
        # (Granian refusing its configuration returns 1): keep it, as the native command does.
        if isinstance(status, int) and status != 0:
            raise SystemExit(status)
    except click.exceptions.Abort:
        raise SystemExit(130) from None  # interrupted: the conventional 128 + SIGINT
    except click.ClickException as exc:
        raise ArgsRejected(exc.format_message()) from None


#: Options of manage.py itself: in a worker's ARGS they would be parsed and then ignored.
MANAGE_PY_OPTIONS = ("settings", "pythonpath", "traceback")


def parse_management_command(
    app: str, command: str, args: Sequence[str], hint: str = ""
) -> argparse.Namespace:
    """Parse ``args`` with a management command's own parser, without running it.

    Django's parser raises CommandError (instead of exiting) when the command is not run from
    the command line; its message, plus ``hint``, becomes :class:`ArgsRejected`.
    """
    from django.core.management import CommandError, load_command_class

    parser = load_command_class(app, command).create_parser("manage.py", command)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            namespace = parser.parse_args(list(args))
    except CommandError as exc:
        raise ArgsRejected(str(exc).removeprefix("Error: ") + hint) from None
    except SystemExit:
        raise ArgsRejected("--help and --version only print text; remove them") from None
    given = [f"--{name}" for name in MANAGE_PY_OPTIONS if getattr(namespace, name, None)]
    if given:
        raise ArgsRejected(
            f"{', '.join(given)} belongs to manage.py: give it to prodserver itself "
            f"(manage.py prodserver {given[0]}=...)"
        )
    return namespace
