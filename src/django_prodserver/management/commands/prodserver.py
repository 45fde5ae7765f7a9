"""``manage.py prodserver [NAME] [-- SERVER_ARGS]``: start a process from ``PRODUCTION_PROCESSES``.

The server runs in the foreground in this very process, so its own signal handling applies and
a container's stop signal reaches it directly.

Before starting, the command asks the backend of process NAME for its problems, the same
check messages ``manage.py check --deploy`` shows for that process (settings, application,
and the server's own parser on the command line), and stops on the first that blocks a start:
one line on stderr naming the process, the setting and the fix; exit status 1. Other
processes' problems do not stop it, and Django's other system checks are not run (they cost
start-up time the native command does not pay, about 20 ms measured by ``make bench``, and
belong in ``manage.py check --deploy`` in the deployment pipeline), so ``--skip-checks`` has
nothing left to skip: the process itself is always validated.

Everything after the first ``--`` goes to the server unchanged. The command splits the
command line there itself: argparse would otherwise match ``NAME`` too early when an option
comes first (``prodserver web --dry-run -- --workers=8``). A mistake in the command line itself
(an unknown prodserver option, a server argument without ``--``) is a usage error: one line,
exit status 2, as argparse does.

Everything the command prints goes to logs, so it masks secrets (URL passwords, the values of
secret options; the rule is in :mod:`django_prodserver.masking`): the start line, ``--list``,
``--dry-run`` (unless ``--show-secrets`` asks for the real command, to copy it into a shell),
and every error. A process started with ``DEBUG = True`` says so in one warning line after the
start line; ``--dry-run`` and ``--list`` start nothing, so they do not warn.
"""

from __future__ import annotations

import shlex
import sys
from argparse import Namespace
from collections.abc import Sequence
from typing import Any, NoReturn

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_prodserver.backends.base import message_line
from django_prodserver.config import SETTING
from django_prodserver.errors import ArgsRejected, ProdserverError
from django_prodserver.handover import release_connections
from django_prodserver.masking import mask_text
from django_prodserver.processes import processes, start_blockers


class _Parser(CommandParser):
    """Django's parser, splitting off the server arguments and reporting misuse in one line."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Namespace | None = None
    ) -> Namespace:
        words = list(sys.argv[1:] if args is None else args)
        server_args: list[str] = []
        if "--" in words:
            cut = words.index("--")
            words, server_args = words[:cut], words[cut + 1 :]
        result = super().parse_args(words, namespace)
        result.server_args = server_args
        if result.show_secrets and not (result.dry_run or result.list_processes):
            self.error(
                "argument --show-secrets: add --dry-run or --list; the start line always "
                "masks secrets"
            )
        return result

    def error(self, message: str) -> NoReturn:
        message = mask_text(message)  # it may quote a secret typed without "--"
        if not self.called_from_command_line:
            super().error(message)  # raises CommandError for call_command()
        hint = (
            " Server arguments go after --, e.g. manage.py prodserver web -- --workers=8."
            if "unrecognized arguments" in message
            else ""
        )
        self.exit(2, f"{self.prog}: error: {message}.{hint} See {self.prog} --help.\n")


class Command(BaseCommand):
    help = (
        f"Start a production web server or worker configured in {SETTING}, in the foreground. "
        "Arguments after -- are passed to the server after ARGS, so the last value wins."
    )
    # Checks run in handle(), after the process is validated, narrowed to that process.
    requires_system_checks: list[str] = []
    stealth_options = ("server_args",)
    #: The started process's backend's own secret options, for masking errors.
    secret_options: frozenset[str] = frozenset()

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = _Parser
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.usage = "%(prog)s [options] [NAME] [-- SERVER_ARGS ...]"
        parser.add_argument(
            "name",
            nargs="?",
            metavar="NAME",
            help=f"Process name from {SETTING} (default: the first one).",
        )
        parser.add_argument(
            "--list",
            action="store_true",
            dest="list_processes",
            help="List the configured processes with their backends and native commands.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate the process, print the native command line it would run, and exit.",
        )
        parser.add_argument(
            "--show-secrets",
            action="store_true",
            help="With --dry-run or --list, print passwords and other secrets in the command "
            "lines instead of ***, to copy a command into a shell. Everything else stays masked.",
        )
        parser.add_argument(
            "--skip-checks",
            action="store_true",
            help="Accepted as by every Django command; prodserver runs no system checks besides "
            "validating the process, which always happens.",
        )

    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            # An error from a backend or a server may quote a secret: mask it as the rest.
            exc.args = (mask_text(str(exc), self.secret_options), *exc.args[1:])
            raise

    def handle(self, *args: Any, **options: Any) -> None:
        show_secrets = options.get("show_secrets", False)
        if options["list_processes"]:
            self.list_processes(show_secrets=show_secrets)
            return
        name = options["name"] or processes.default_name()
        backend = processes.backend(name, options.get("server_args") or ())
        self.secret_options = backend.secret_options
        messages = backend.check()
        for message in start_blockers(messages):
            raise ProdserverError(message_line(message))
        for message in messages:  # warnings that do not stop the start are said, once each
            self.stderr.write(f"prodserver: warning: {message_line(message)}")
        if options["dry_run"]:
            words = backend.native_command() if show_secrets else backend.masked_command()
            self.stdout.write(shlex.join(words))
            return
        command_line = shlex.join(backend.masked_command())
        self.stderr.write(f'prodserver: starting "{name}": {command_line}')
        if settings.DEBUG:
            self.stderr.write(debug_warning(name))
        sys.stderr.flush()
        # Nothing opened so far (in ready(), by the checks) may reach a forked worker.
        release_connections()
        try:
            backend.start_server(*backend.start_args())
        except ArgsRejected as exc:
            reason = mask_text(str(exc), backend.secret_options)
            raise ProdserverError(
                f'{backend.program} rejected process "{name}": {reason}'
            ) from None
        except SystemExit as exc:
            if exc.code not in (0, None):
                self.stderr.write(
                    f'prodserver: process "{name}" ({backend.program}) stopped with '
                    f"status {exc.code}; its log above says why."
                )
            raise

    def list_processes(self, *, show_secrets: bool = False) -> None:
        """One line per process: name, backend class, native command (or what is wrong)."""
        for message in processes.setting_messages():
            raise ProdserverError(message_line(message))
        broken = []
        names = processes.names()
        for name in names:
            config, messages = processes.load(name)
            if config is not None:
                backend = config.backend(config)
                messages = backend.check(parse=False)
                if not start_blockers(messages):
                    words = backend.native_command() if show_secrets else backend.masked_command()
                    self.stdout.write(f"{name}\t{config.backend.__name__}\t{shlex.join(words)}")
                    continue
            blockers = start_blockers(messages)
            if not any(message.is_serious() for message in blockers):
                # e.g. a worker's package missing in the web image: not broken, just not here.
                self.stdout.write(f"{name}\t(cannot start here)\t{message_line(blockers[0])}")
                continue
            broken.append(name)
            first = next(message for message in blockers if message.is_serious())
            self.stdout.write(f"{name}\t(misconfigured)\t{message_line(first)}")
        if broken:
            raise ProdserverError(
                f"{len(broken)} of {len(names)} processes in {SETTING} cannot start "
                f"({', '.join(broken)}); fix them as shown above (manage.py check lists "
                "every problem)."
            )


def debug_warning(name: str) -> str:
    """The one line that says a process runs with ``DEBUG = True``, what that means, the fix."""
    module = getattr(settings, "SETTINGS_MODULE", None)
    where = f" (settings {module})" if module else ""
    return (
        f'prodserver: warning: process "{name}" runs with DEBUG = True{where}, which is meant '
        "for development: Django shows anyone who causes an error a page with your code and "
        "settings, and keeps every SQL query in memory. Set DEBUG = False in production."
    )
