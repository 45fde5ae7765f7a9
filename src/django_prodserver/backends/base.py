"""The contract every backend fulfils, and the one place that assembles and checks a command line.

A backend says only what differs from the others: the program it stands for, the package it
needs, the fixed leading/trailing arguments (the application target, a subcommand), defaults
Django needs, which parser its server uses, and how it starts. Everything a process can get
wrong is answered by one method, :meth:`BaseServerBackend.check`, as Django check messages:
``manage.py check``, ``prodserver --list`` and ``prodserver NAME`` all ask it.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import ClassVar

from django.core import checks

from django_prodserver.args import ArgValue, mentions_option, translate_args
from django_prodserver.backends.parsers import ArgParser, ParsedArgs
from django_prodserver.check_ids import CHECK_IDS, Level, check_message
from django_prodserver.config import SETTING, ProcessConfig
from django_prodserver.errors import ArgsRejected, ProdserverError
from django_prodserver.masking import mask_command, mask_text


@dataclass(frozen=True)
class ConfigProblem:
    """Deprecated: a problem returned by :meth:`BaseServerBackend.config_problems`.

    Backends now return Django check messages from :meth:`BaseServerBackend.check_settings`;
    a ``ConfigProblem`` still works and becomes an ``Error`` (a ``Warning`` if its id has
    ``.W``), with a ``DeprecationWarning``.
    """

    msg: str
    hint: str
    id: str = "prodserver.E009"
    extra: Mapping[str, str] = field(default_factory=dict)

    def masked(self, secret_options: Collection[str] = ()) -> ConfigProblem:
        """The same problem with the secrets in its text masked (it may quote ARGS values)."""
        return replace(
            self,
            msg=mask_text(self.msg, secret_options),
            hint=mask_text(self.hint, secret_options),
        )


def sentence(text: str) -> str:
    """End ``text`` with exactly one sentence mark (parsers end theirs with ".", "?" or none)."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def message_line(message: checks.CheckMessage) -> str:
    """One line for the terminal: what is wrong, then the fix, with any secret masked."""
    return mask_text(f"{sentence(message.msg)} {message.hint or ''}".rstrip())


class BaseServerBackend:
    """Base class of every backend, built-in or custom.

    Subclasses implement :meth:`start_server` and usually set :attr:`program`,
    :attr:`package` and :attr:`extra`. The command line is built once, by
    :meth:`prep_server_args`, as ``leading + defaults + ARGS + extra args + trailing``, so a
    later occurrence of a flag (from ARGS or after ``--``) wins over an earlier one; the
    server's own parser (:meth:`arg_parser`) then reads it once.
    """

    #: The native program this backend stands for, shown by ``--dry-run`` and ``--list``.
    program: ClassVar[str] = "server"
    #: Import name that must be installed for this backend to run (``None``: nothing extra).
    package: ClassVar[str | None] = None
    #: The django-prodserver extra that installs :attr:`package`.
    extra: ClassVar[str | None] = None
    #: Whether the process needs an ``APP`` entry (Celery does).
    requires_app: ClassVar[bool] = False
    #: Options Django needs that the user may override through ARGS.
    default_args: ClassVar[Mapping[str, ArgValue]] = {}
    #: Options whose values are secret although their names do not say so (``"dsn"``), as
    #: ARGS keys or long option names; everything ``prodserver`` prints masks their values,
    #: as it masks URL passwords and options named like ``password`` or ``api_key``.
    secret_options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: ProcessConfig, extra_args: Sequence[str] = ()) -> None:
        self.config = config
        self.name = config.name
        self.extra_args = list(extra_args)

    # -- what differs between backends -------------------------------------------------

    def leading_args(self) -> list[str]:
        """Arguments before the options, e.g. the application target for Gunicorn."""
        return []

    def trailing_args(self) -> list[str]:
        """Arguments after the options, e.g. the target for Waitress (getopt stops at it)."""
        return []

    def native_prefix(self) -> list[str]:
        """The words that start the equivalent native command (``gunicorn``, ``celery ...``)."""
        return [self.program]

    def arg_parser(self) -> ArgParser | None:
        """The server's own command-line parser (see :mod:`django_prodserver.backends.parsers`).

        ``None`` (the default) accepts every argument and knows no option names.
        """
        return None

    def validate_args(self, args: Sequence[str]) -> ParsedArgs | None:
        """Parse ``args`` with the server's own parser without starting it.

        Raise :class:`~django_prodserver.errors.ArgsRejected` with the parser's message
        when it refuses them. The default asks :meth:`arg_parser`.
        """
        parser = self.arg_parser()
        return parser.parse(args) if parser is not None else None

    def check_settings(self) -> list[checks.CheckMessage]:
        """Problems with this process's settings that can be seen without starting anything.

        Each is a Django check message with its own id and hint; call ``super()`` to keep the
        built-in ones (``APP`` present, package installed).
        """
        messages: list[checks.CheckMessage] = []
        setting, backend = self.config.setting, type(self).__name__
        if self.requires_app and not self.config.app:
            hint = f'Add "APP": "mysite.celery.app" (the dotted path to your {self.program} app).'
            messages.append(
                self.message(
                    "prodserver.E007", f'{setting} uses {backend}, which needs "APP".', hint
                )
            )
        if self.package and importlib.util.find_spec(self.package) is None:
            install = f'pip install "django-prodserver[{self.extra}]"' if self.extra else ""
            messages.append(
                # A warning: an image built for other processes (a web image without the
                # worker's packages) must still run migrate, check and their prodserver;
                # starting this process stops with it (CHECK_IDS marks it blocks_start).
                self.message(
                    "prodserver.W002",
                    f'{setting} uses {backend}, but the "{self.package}" package is not installed.',
                    f"Install it: {install}" if install else f"Install {self.package}.",
                )
            )
        return messages

    @classmethod
    def config_problems(cls, config: ProcessConfig) -> list[ConfigProblem]:
        """Deprecated: override :meth:`check_settings` instead (it returns check messages)."""
        return []

    def start_server(self, *args: str) -> None:
        """Run the server in this process until it stops; ``args`` come from prep_server_args."""
        raise NotImplementedError(f"{type(self).__name__} must implement start_server(*args)")

    def prep_server_args(self) -> list[str]:
        """Build the full argument list: leading, defaults not overridden, ARGS, extra, trailing."""
        user_args = [*translate_args(self.config.args), *self.extra_args]
        defaults = {
            key: value
            for key, value in self.default_args.items()
            if not mentions_option(user_args, key)
        }
        return [
            *self.leading_args(),
            *translate_args(defaults),
            *user_args,
            *self.trailing_args(),
        ]

    # -- computed once per process --------------------------------------------------------

    @cached_property
    def server_args(self) -> list[str]:
        """The arguments :meth:`start_server` gets, built once by :meth:`prep_server_args`."""
        return self.prep_server_args()

    @cached_property
    def parsed_args(self) -> ParsedArgs | None:
        """:attr:`server_args` as the server's parser reads them, parsed once."""
        return self.validate_args(self.server_args)

    def start_args(self) -> list[str]:
        """What :meth:`start_server` gets: :attr:`server_args`, plus defaults decided from the
        parse (Celery beat adds its schedule file when the command line names none).
        """
        return list(self.server_args)

    def native_command(self) -> list[str]:
        """The native command line equivalent to what :meth:`start_server` runs."""
        return [*self.native_prefix(), *self.start_args()]

    def masked_command(self) -> list[str]:
        """:meth:`native_command` with its secrets masked: what ``prodserver`` prints."""
        return mask_command(self.native_command(), self.secret_options)

    def long_options(self) -> frozenset[str] | None:
        """Every long option the server accepts, or ``None`` if the backend has no parser."""
        parser = self.arg_parser()
        return parser.long_options() if parser is not None else None

    # -- the one validation path ------------------------------------------------------

    def message(self, check_id: str, msg: str, hint: str | None = None) -> checks.CheckMessage:
        """A check message about this process, with its secrets masked."""
        secret = self.secret_options
        return check_message(
            check_id, mask_text(msg, secret), mask_text(hint or "", secret), obj=self.name
        )

    def check(self, *, parse: bool = True) -> list[checks.CheckMessage]:
        """Every problem of this process: its settings, its command line, and (``parse``) the
        verdict of the server's own parser, which imports the server.
        """
        messages = [*self.check_settings(), *self._legacy_problems()]
        if messages:
            return messages  # the command line cannot be built on broken settings
        try:
            self.server_args  # noqa: B018 - builds the command line, e.g. finds the application
        except ProdserverError as exc:
            return [self.message(getattr(exc, "check_id", "prodserver.E009"), str(exc))]
        if parse:
            messages += self.check_args()
        return messages

    def check_args(self) -> list[checks.CheckMessage]:
        """Run the command line through the server's parser; say what it refused.

        When arguments from after ``--`` are present and ARGS alone passes, the blame goes to
        the command line, so the user is not sent to fix a setting that is fine.
        """
        try:
            self.parsed_args  # noqa: B018
        except ArgsRejected as exc:
            reason, program = sentence(str(exc)), self.program
            if self.extra_args and not type(self)(self.config).check(parse=True):
                return [
                    self.message(
                        "prodserver.E012",
                        f'The arguments after -- for process "{self.name}" were rejected by '
                        f"{program}: {reason}",
                        f"Fix them; {program} --help lists its options.",
                    )
                ]
            return [
                self.message(
                    "prodserver.E012",
                    f'{self.config.setting}["ARGS"] was rejected by {program}: {reason}',
                    f"Fix that ARGS entry: keys are {program}'s long options without the "
                    f"leading dashes (see {program} --help).",
                )
            ]
        return []

    def _legacy_problems(self) -> list[checks.CheckMessage]:
        """Problems from a custom backend that still overrides :meth:`config_problems`."""
        if type(self).config_problems.__func__ is BaseServerBackend.config_problems.__func__:  # type: ignore[attr-defined]
            return []
        warnings.warn(
            f"{type(self).__name__}.config_problems() is deprecated; return django.core.checks "
            "messages from check_settings() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        messages: list[checks.CheckMessage] = []
        for problem in type(self).config_problems(self.config):
            row = CHECK_IDS.get(problem.id)
            level: Level = (
                row.level if row else checks.Warning if ".W" in problem.id else checks.Error
            )
            problem = problem.masked(self.secret_options)
            messages.append(
                level(problem.msg, hint=problem.hint or None, obj=self.name, id=problem.id)
            )
        return messages


__all__ = ["SETTING", "BaseServerBackend", "ConfigProblem", "message_line", "sentence"]
