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


#: Option string -> (the parser's name for the option, whether it takes a value).
OptionTable = dict[str, tuple[str, bool]]


def _argparse_result(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> ParsedArgs:
    """An argparse namespace as ParsedArgs: "given" is every option not at its default."""
    values = vars(namespace)
    defaults = {action.dest: action.default for action in parser._actions}
    return ParsedArgs(values, frozenset(n for n, v in values.items() if v != defaults.get(n)))


def _argparse_long_options(parser: argparse.ArgumentParser) -> frozenset[str]:
    return frozenset(name for name in parser._option_string_actions if name.startswith("--"))


def _argparse_table(parser: argparse.ArgumentParser) -> OptionTable:
    return {
        string: (action.dest, action.nargs != 0)
        for action in parser._actions
        for string in action.option_strings
    }


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

    def option_table(self) -> OptionTable:
        """Every option string (long, short, ``--no-`` twin) -> (the option it sets, takes a value).

        Two strings that set the same option (``--bind`` and ``-b``) share the first item, so an
        option given after ``--`` can replace the configured one whatever its spelling. The
        default knows only the long names, each taking a value when written with ``=``.
        """
        return {}


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
        return _argparse_result(parser, namespace)

    def long_options(self) -> frozenset[str]:
        return _argparse_long_options(self.make_parser())

    def option_table(self) -> OptionTable:
        return _argparse_table(self.make_parser())


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

    def option_table(self) -> OptionTable:
        import click

        table: OptionTable = {}
        for param in self.make_command().params:
            if isinstance(param, click.Option) and param.name:
                takes_value = not (param.is_flag or param.count)
                table.update(dict.fromkeys(param.opts, (param.name, takes_value)))
                table.update(dict.fromkeys(param.secondary_opts, (param.name, False)))
        return table

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
        options: Callable[[], OptionTable],
    ) -> None:
        self.parse_args = parse_args
        #: Returns the option table (see :meth:`ArgParser.option_table`).
        self.options = options

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        import getopt

        try:
            values, positional = self.parse_args(list(args))
        except getopt.GetoptError as exc:
            raise ArgsRejected(str(exc)) from None
        return ParsedArgs({**values, "args": positional}, frozenset(values))

    def long_options(self) -> frozenset[str]:
        return frozenset(self.options())

    def option_table(self) -> OptionTable:
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
        return _argparse_result(parser, namespace)

    def run(self, args: Sequence[str]) -> None:
        from django.core.management import call_command

        # call_command, not run_from_argv: no system checks (prodserver ran its own) and a
        # CommandError reaches prodserver, which prints it as one line.
        call_command(self.command, *args)

    def long_options(self) -> frozenset[str]:
        return _argparse_long_options(self._parser())

    def option_table(self) -> OptionTable:
        return _argparse_table(self._parser())


class TornadoOptionsParser(ArgParser):
    """Tornado's ``--name=value`` options (Flower), parsed by a private copy of the options.

    Tornado keeps its options in one global registry, which parsing changes; the copy is
    parsed instead, so checking a command line leaves the registry as it was. Tornado spells
    names with dashes or underscores alike; ``values`` uses underscores.
    """

    def __init__(self, make_options: Callable[[], Any], prog: str) -> None:
        #: Returns the ``tornado.options.OptionParser`` whose definitions are copied.
        self.make_options = make_options
        self.prog = prog

    def _copy(self) -> Any:
        from tornado.options import OptionParser

        source = self.make_options()
        copy = OptionParser()
        for option in source._options.values():
            if option.name in copy._options:  # "help", which every OptionParser defines
                continue
            copy.define(
                option.name,
                default=option.default,
                type=option.type,
                help=option.help,
                metavar=option.metavar,
                multiple=option.multiple,
                group=option.group_name,
            )
        return copy

    def parse(self, args: Sequence[str]) -> ParsedArgs:
        from tornado.options import Error

        parser = self._copy()
        try:
            with (
                contextlib.redirect_stderr(io.StringIO()),
                contextlib.redirect_stdout(io.StringIO()),
            ):
                # Tornado prints its whole help before raising on an unknown option.
                rest = parser.parse_command_line([self.prog, *args], final=False)
        except Error as exc:
            raise ArgsRejected(str(exc)) from None
        except ValueError as exc:  # a value of the wrong type: tornado names no option
            raise ArgsRejected(self._name_the_value(args, exc)) from None
        if rest:
            raise ArgsRejected(f"unexpected argument {rest[0]!r}: options are written --name=value")
        values = {name.replace("-", "_"): parser._options[name].value() for name in parser._options}
        given = {
            parser._normalize_name(arg.lstrip("-").partition("=")[0]).replace("-", "_")
            for arg in args
        }
        return ParsedArgs(values, frozenset(given))

    def _name_the_value(self, args: Sequence[str], error: ValueError) -> str:
        """Say which option has the value tornado could not convert (its error names none)."""
        for arg in args:
            try:
                self._copy().parse_command_line([self.prog, arg], final=False)
            except ValueError as exc:
                return f"invalid value for {arg.partition('=')[0]}: {exc}"
            except Exception:  # another problem of this argument: not the culprit
                continue
        return str(error)

    def long_options(self) -> frozenset[str]:
        names = self.make_options()._options
        return frozenset(f"--{spelling}" for n in names for spelling in {n, n.replace("-", "_")})
