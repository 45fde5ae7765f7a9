"""One adapter per family of command-line parser the servers use.

Servers parse their options with argparse (Gunicorn), click (Uvicorn, Granian, Celery),
getopt (Waitress) or a Django management command (``db_worker``, ``qcluster``), and each
family reports a bad option its own way (argparse exits, click raises, getopt raises
``GetoptError``, Django raises ``CommandError``). An adapter parses without starting the
server, turns a refusal into :class:`~django_prodserver.errors.ArgsRejected` with the parser's
one-line message, says which options were given, and lists the long options the server knows.
A backend names its adapter; validation, the backends that need an option's value, the docs
tests and the benchmarks all ask it, so no list of options is kept anywhere else.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_prodserver.errors import ArgsRejected

if TYPE_CHECKING:
    import click


@dataclass(frozen=True)
class ParsedArgs:
    """What a server's parser made of a command line: each option's value, and which were given.

    ``values`` is keyed by the parser's own name for the option (argparse's ``dest``, click's
    parameter name); ``given`` holds those set on the command line or from the environment
    rather than left at their default.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()

    def value(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


class ArgParser(ABC):
    """A server's command-line parser, used without starting the server."""

    @abstractmethod
    def parse(self, args: Sequence[str]) -> ParsedArgs:
        """Parse ``args``; raise :class:`~django_prodserver.errors.ArgsRejected` if refused."""

    @abstractmethod
    def long_options(self) -> frozenset[str]:
        """Every long option the server accepts, spelled out (``--max-requests``)."""


class ArgparseParser(ArgParser):
    """An ``argparse.ArgumentParser``, built on demand (importing the server is the costly part)."""

    def __init__(self, make_parser: Callable[[], argparse.ArgumentParser]) -> None:
        self.make_parser = make_parser

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        parser = self.make_parser()
        stderr = io.StringIO()
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                namespace = parser.parse_args(list(args))
        except SystemExit as exc:
            if exc.code in (0, None):  # --help / --version: the server prints them itself
                return ParsedArgs()
            lines = [line for line in stderr.getvalue().splitlines() if line.strip()]
            message = lines[-1] if lines else f"exit status {exc.code}"
            # argparse prefixes "prog: error: "; keep only what is wrong.
            raise ArgsRejected(message.split("error: ", 1)[-1]) from None
        values = vars(namespace)
        defaults = {action.dest: action.default for action in parser._actions}
        given = {name for name, value in values.items() if value != defaults.get(name)}
        return ParsedArgs(values, frozenset(given))

    def long_options(self) -> frozenset[str]:
        actions = self.make_parser()._option_string_actions
        return frozenset(name for name in actions if name.startswith("--"))


class ClickParser(ArgParser):
    """A click command, with the context settings the server's program uses (env prefixes)."""

    def __init__(
        self, make_command: Callable[[], click.Command], prog: str, **context: Any
    ) -> None:
        self.make_command = make_command
        self.prog = prog
        self.context = context

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        import click
        from click.core import ParameterSource

        given_sources = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
        try:
            # --help / --version print while parsing; the server prints them when it runs.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                self.make_command().make_context(self.prog, list(args), **self.context) as ctx,
            ):
                given = {
                    name for name in ctx.params if ctx.get_parameter_source(name) in given_sources
                }
                return ParsedArgs(dict(ctx.params), frozenset(given))
        except click.exceptions.Exit:
            return ParsedArgs()  # --help / --version: nothing wrong with the flags
        except click.ClickException as exc:
            raise ArgsRejected(exc.format_message()) from None

    def run(self, args: Sequence[str]) -> None:
        """Invoke the command in this process; usage errors become ArgsRejected, not tracebacks."""
        import click

        try:
            status = self.make_command().main(
                args=list(args), prog_name=self.prog, standalone_mode=False, **self.context
            )
            # Without standalone mode click returns a command's exit status instead of exiting:
            # keep it, as the native command does.
            if isinstance(status, int) and status != 0:
                raise SystemExit(status)
        except click.exceptions.Abort:
            raise SystemExit(130) from None  # interrupted: the conventional 128 + SIGINT
        except click.ClickException as exc:
            raise ArgsRejected(exc.format_message()) from None

    def long_options(self) -> frozenset[str]:
        return frozenset(
            name
            for param in self.make_command().params
            for name in [*getattr(param, "opts", ()), *getattr(param, "secondary_opts", ())]
            if name.startswith("--")
        )


class GetoptParser(ArgParser):
    """A getopt-style parser: a function returning (options, positional arguments)."""

    def __init__(
        self,
        parse_args: Callable[[list[str]], tuple[dict[str, Any], list[str]]],
        options: Callable[[], frozenset[str]],
    ) -> None:
        self.parse_args = parse_args
        self.options = options

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        import getopt

        try:
            values, positional = self.parse_args(list(args))
        except getopt.GetoptError as exc:
            raise ArgsRejected(str(exc)) from None
        return ParsedArgs({**values, "args": positional}, frozenset(values))

    def long_options(self) -> frozenset[str]:
        return self.options()


#: Options of manage.py itself: in a worker's ARGS they would be parsed and then ignored.
MANAGE_PY_OPTIONS = ("settings", "pythonpath", "traceback")


class ManagementCommandParser(ArgParser):
    """A Django management command's own parser (``db_worker``, ``qcluster``)."""

    def __init__(
        self, app: str, command: str, hint: str = "", unchecked: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.command = command
        self.hint = hint
        #: Options (by dest) taken as given, not converted by the command's own type: the
        #: backend checks them itself with a clearer message.
        self.unchecked = tuple(unchecked)

    def _parser(self) -> argparse.ArgumentParser:
        from django.core.management import load_command_class

        parser = load_command_class(self.app, self.command).create_parser("manage.py", self.command)
        for action in parser._actions:
            if action.dest in self.unchecked:
                action.type = None
        return parser

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        from django.core.management import CommandError

        parser = self._parser()
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                namespace = parser.parse_args(list(args))
        except CommandError as exc:
            # Django's parser raises CommandError (instead of exiting) outside the command line.
            raise ArgsRejected(str(exc).removeprefix("Error: ") + self.hint) from None
        except SystemExit:
            raise ArgsRejected("--help and --version only print text; remove them") from None
        given = [f"--{name}" for name in MANAGE_PY_OPTIONS if getattr(namespace, name, None)]
        if given:
            raise ArgsRejected(
                f"{', '.join(given)} belongs to manage.py: give it to prodserver itself "
                f"(manage.py prodserver {given[0]}=...)"
            )
        values = vars(namespace)
        defaults = {action.dest: action.default for action in parser._actions}
        return ParsedArgs(values, frozenset(n for n, v in values.items() if v != defaults.get(n)))

    def run(self, args: Sequence[str]) -> None:
        from django.core.management import call_command

        # call_command, not run_from_argv: no system checks (prodserver ran its own) and a
        # CommandError reaches prodserver, which prints it as one line.
        call_command(self.command, *args)

    def long_options(self) -> frozenset[str]:
        actions = self._parser()._option_string_actions
        return frozenset(name for name in actions if name.startswith("--"))
