"""``manage.py prodserver [NAME]``: start a process from ``PRODUCTION_PROCESSES`` in the foreground.

The server runs in this very process, so its own signal handling applies and a container's
stop signal reaches it directly. System checks are not run here (start-up should cost no more
than the server's native command); the setting itself is validated, and ``manage.py check``
remains the place for the full set.
"""

from __future__ import annotations

import shlex
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from django_prodserver.config import SETTING, configured_processes, get_process, load_process
from django_prodserver.errors import ArgsRejected, ProdserverError


class Command(BaseCommand):
    help = (
        f"Start a production web server or worker configured in {SETTING}. "
        "Arguments after -- are passed to the server."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "name", nargs="?", help=f"Process name from {SETTING} (default: the first one)."
        )
        parser.add_argument(
            "extra_args",
            nargs="*",
            metavar="-- SERVER_ARGS",
            help="Extra server arguments after --; they follow ARGS, so the last value wins.",
        )
        parser.add_argument(
            "--list",
            action="store_true",
            dest="list_processes",
            help="List the configured processes with their native commands.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the native command line the process would run, and exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name: str | None = options["name"]
        extra_args: list[str] = list(options["extra_args"])
        if name is not None and name.startswith("-"):
            # "prodserver -- --workers=8": no name, everything is a server argument.
            extra_args.insert(0, name)
            name = None
        if options["list_processes"]:
            self.list_processes()
            return
        config = get_process(name)
        backend = config.backend(config, extra_args)
        server_args = backend.prep_server_args()
        command_line = shlex.join(backend.native_command())
        if options["dry_run"]:
            self.stdout.write(command_line)
            return
        try:
            backend.validate_args(server_args)
        except ArgsRejected as exc:
            raise ProdserverError(
                f'{SETTING}["{config.name}"]["ARGS"] rejected by {backend.program}: {exc}. '
                f"Use {backend.program}'s own long option names (see {backend.program} --help)."
            ) from None
        self.stderr.write(f'prodserver: starting "{config.name}": {command_line}')
        sys.stderr.flush()
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
        raw, problems = configured_processes()
        if raw is None or problems:
            raise ProdserverError(f"{problems[0].msg} {problems[0].hint}")
        for name, process in raw.items():
            config, problems = load_process(str(name), process)
            if config is None:
                self.stdout.write(f"{name}\t(misconfigured) {problems[0].msg}")
                continue
            backend = config.backend(config)
            try:
                command = shlex.join(backend.native_command())
            except ProdserverError as exc:
                command = f"(misconfigured) {exc}"
            self.stdout.write(f"{name}\t{config.backend.__name__}\t{command}")
