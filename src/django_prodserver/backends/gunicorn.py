"""Gunicorn: ``gunicorn <WSGI target> ARGS``.

Gunicorn forks its workers from its master. Started inside ``manage.py``, the master would
hold the project's settings, models and connections, and every worker would inherit them:
an implicit ``--preload``. So, once validated, this backend hands the process over to a fresh
Gunicorn master (:mod:`django_prodserver.masters.gunicorn`) that imports nothing of the
project; its workers import it themselves and a SIGHUP reload serves only new code, as with
the native command. ``"preload": True`` in ARGS gives Gunicorn's own ``--preload``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ArgparseParser, ArgParser, ParsedArgs
from django_prodserver.errors import ArgsRejected
from django_prodserver.handover import exec_python
from django_prodserver.masters.gunicorn import RESTART_ARGV_ENV
from django_prodserver.targets import wsgi_target


class GunicornServer(BaseServerBackend):
    """Serve Django's WSGI application with Gunicorn's pre-fork workers."""

    program = "gunicorn"
    package = "gunicorn"
    extra = "gunicorn"

    def leading_args(self) -> list[str]:
        return [wsgi_target(self.name, self.config.app)]

    def arg_parser(self) -> ArgParser:
        from gunicorn.config import Config

        return ArgparseParser(lambda: Config(prog=self.program).parser())

    def validate_args(self, args: Sequence[str]) -> ParsedArgs | None:
        """Gunicorn's parser, then each value through Gunicorn's own setting validators."""
        from gunicorn.config import Config
        from gunicorn.errors import ConfigError

        parsed = super().validate_args(args)
        config = Config()
        for key, value in (parsed.values if parsed else {}).items():
            if value is None or key == "args":
                continue
            try:
                config.set(key.lower(), value)
            except (TypeError, ValueError, ConfigError) as exc:
                raise ArgsRejected(f"invalid value for {key}: {exc}") from None
        return parsed

    def start_server(self, *args: str) -> None:
        exec_python(
            ["-m", "django_prodserver.masters.gunicorn", *args],
            # USR2 re-executes this very command (interpreter options included).
            env={RESTART_ARGV_ENV: json.dumps(sys.orig_argv[1:])},
        )
