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


def parse_argparse(parser: argparse.ArgumentParser, args: Sequence[str]) -> argparse.Namespace:
    """Parse with argparse; its error message (not its usage text) becomes ArgsRejected."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parser.parse_args(list(args))
    except SystemExit as exc:
        lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
        message = lines[-1] if lines else f"exit status {exc.code}"
        # argparse prefixes "prog: error: "; keep only what is wrong.
        raise ArgsRejected(message.split("error: ", 1)[-1]) from None


def parse_click(command: click.Command, prog: str, args: Sequence[str], **extra: Any) -> None:
    """Parse with a click command without invoking it."""
    import click

    try:
        with command.make_context(prog, list(args), **extra):
            pass
    except click.exceptions.Exit:
        pass  # --help / --version: nothing wrong with the flags
    except click.ClickException as exc:
        raise ArgsRejected(exc.format_message()) from None


def run_click(command: click.Command, prog: str, args: Sequence[str], **extra: Any) -> None:
    """Invoke a click command in this process; usage errors become ArgsRejected, not tracebacks."""
    import click

    try:
        command.main(args=list(args), prog_name=prog, standalone_mode=False, **extra)
    except click.exceptions.Abort:
        raise SystemExit(130) from None  # interrupted: the conventional 128 + SIGINT
    except click.ClickException as exc:
        raise ArgsRejected(exc.format_message()) from None
