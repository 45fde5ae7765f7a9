"""``manage.py prodserver [NAME] [-- SERVER_ARGS]``: start a process from ``PRODUCTION_PROCESSES``.

The server runs in the foreground in this very process, so its own signal handling applies and
a container's stop signal reaches it directly.

Before starting, the command validates process NAME (one line on stderr naming the process,
the setting and the fix; exit status 1) and runs its ARGS through the server's own parser.
It then runs only prodserver's own system checks, narrowed to NAME (``--skip-checks`` skips
them): the rest of Django's checks cost start-up time that the native server command does not
pay (about 20 ms, measured by ``make bench``), and belong in ``manage.py check --deploy`` in
the deployment pipeline.

Everything after the first ``--`` goes to the server unchanged. The command splits the
command line there itself: argparse would otherwise match ``NAME`` too early when an option
comes first (``prodserver web --dry-run -- --workers=8``). A mistake in the command line itself
(an unknown prodserver option, a server argument without ``--``) is a usage error: one line,
exit status 2, as argparse does.
"""

from __future__ import annotations

import shlex
import sys
from argparse import Namespace
from collections.abc import Sequence
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from django_prodserver.checks import only_process
from django_prodserver.config import (
    SETTING,
    args_problem,
    configured_processes,
    get_process,
    load_process,
    problem_line,
    target_problem,
)
from django_prodserver.errors import ArgsRejected, ProdserverError
from django_prodserver.handover import release_connections


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
        return result

    def error(self, message: str) -> NoReturn:
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
            "--skip-checks", action="store_true", help="Skip Django's system checks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_processes"]:
            self.list_processes()
            return
        config = get_process(options["name"])
        backend = config.backend(config, options.get("server_args") or ())
        problem = target_problem(backend) or args_problem(backend)
        if problem is not None:
            raise ProdserverError(problem_line(problem))
        if not options["skip_checks"]:
            with only_process(config.name):
                self.check(tags=["prodserver"])
        server_args = backend.prep_server_args()
        command_line = shlex.join(backend.native_command())
        if options["dry_run"]:
            self.stdout.write(command_line)
            return
        self.stderr.write(f'prodserver: starting "{config.name}": {command_line}')
        sys.stderr.flush()
        # Nothing opened so far (in ready(), by the checks) may reach a forked worker.
        release_connections()
        try:
            backend.start_server(*server_args)
        except ArgsRejected as exc:
            raise ProdserverError(
                f'{backend.program} rejected process "{config.name}": {exc}'
            ) from None
        except SystemExit as exc:
            if exc.code not in (0, None):
                self.stderr.write(
                    f'prodserver: process "{config.name}" ({backend.program}) stopped with '
                    f"status {exc.code}; its log above says why."
                )
            raise

    def list_processes(self) -> None:
        """One line per process: name, backend class, native command (or what is wrong)."""
        raw, problems = configured_processes()
        if raw is None or problems:
            raise ProdserverError(problem_line(problems[0]))
        broken = []
        for name, process in raw.items():
            config, problems = load_process(str(name), process)
            if config is not None:
                backend = config.backend(config)
                problem = target_problem(backend)
                if problem is None:
                    command = shlex.join(backend.native_command())
                    self.stdout.write(f"{name}\t{config.backend.__name__}\t{command}")
                    continue
                problems = [problem]
            broken.append(str(name))
            self.stdout.write(f"{name}\t(misconfigured)\t{problem_line(problems[0])}")
        if broken:
            raise ProdserverError(
                f"{len(broken)} of {len(raw)} processes in {SETTING} cannot start "
                f"({', '.join(broken)}); fix them as shown above (manage.py check lists "
                "every problem)."
            )
