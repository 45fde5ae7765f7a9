"""The contract every backend fulfils, and the one place that assembles a command line.

A backend says only what differs from the others: the program it stands for, the package it
needs, the fixed leading/trailing arguments (the application target, a subcommand), defaults
Django needs, how its own parser checks arguments, and how it starts in this process.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from django_prodserver.args import ArgValue, mentions_option, translate_args
from django_prodserver.masking import mask_command, mask_text

if TYPE_CHECKING:
    from django_prodserver.config import ProcessConfig


@dataclass(frozen=True)
class ConfigProblem:
    """A problem with one process's settings: what is wrong and how to fix it."""

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


class BaseServerBackend:
    """Base class of every backend, built-in or custom.

    Subclasses implement :meth:`start_server` and usually set :attr:`program`,
    :attr:`package` and :attr:`extra`. The command line is built by
    :meth:`prep_server_args` as ``leading + defaults + ARGS + extra args + trailing``, so a
    later occurrence of a flag (from ARGS or after ``--``) wins over an earlier one.
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

    def validate_args(self, args: Sequence[str]) -> None:
        """Parse ``args`` with the server's own parser without starting it.

        Raise :class:`~django_prodserver.errors.ArgsRejected` with the parser's message
        when it refuses them. The default accepts everything.
        """

    @classmethod
    def config_problems(cls, config: ProcessConfig) -> list[ConfigProblem]:
        """Problems with this process's settings that this backend can see without starting."""
        problems: list[ConfigProblem] = []
        setting = f'PRODUCTION_PROCESSES["{config.name}"]'
        if cls.requires_app and not config.app:
            problems.append(
                ConfigProblem(
                    f'{setting} uses {cls.__name__}, which needs "APP".',
                    f'Add "APP": "mysite.celery.app" (the dotted path to your {cls.program} app).',
                    id="prodserver.E007",
                )
            )
        if cls.package and importlib.util.find_spec(cls.package) is None:
            install = f'pip install "django-prodserver[{cls.extra}]"' if cls.extra else ""
            problems.append(
                ConfigProblem(
                    f'{setting} uses {cls.__name__}, but the "{cls.package}" package is not '
                    "installed.",
                    f"Install it: {install}" if install else f"Install {cls.package}.",
                    # A warning, not an error: an image built for other processes (a web image
                    # without the worker's packages) must still run migrate, check and their
                    # prodserver; starting this process stops with this line (get_process).
                    id="prodserver.W002",
                )
            )
        return problems

    def start_server(self, *args: str) -> None:
        """Run the server in this process until it stops; ``args`` come from prep_server_args."""
        raise NotImplementedError(f"{type(self).__name__} must implement start_server(*args)")

    # -- the shared assembly -----------------------------------------------------------

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

    def native_command(self) -> list[str]:
        """The native command line equivalent to what :meth:`start_server` runs."""
        return [*self.native_prefix(), *self.prep_server_args()]

    def masked_command(self) -> list[str]:
        """:meth:`native_command` with its secrets masked: what ``prodserver`` prints."""
        return mask_command(self.native_command(), self.secret_options)
