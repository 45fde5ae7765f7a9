"""Gunicorn: ``gunicorn <WSGI target> ARGS``.

Gunicorn reads ``sys.argv`` when it loads its configuration, which inside ``manage.py``
holds ``prodserver web``. The backend hands Gunicorn its own argv for exactly that step and
restores ``sys.argv`` afterwards, so a USR2 re-exec still restarts ``manage.py prodserver``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from django_prodserver.backends._parsers import parse_argparse
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.errors import ArgsRejected
from django_prodserver.targets import import_target, wsgi_application


class GunicornServer(BaseServerBackend):
    """Serve Django's WSGI application with Gunicorn's pre-fork workers."""

    program = "gunicorn"
    package = "gunicorn"
    extra = "gunicorn"

    def leading_args(self) -> list[str]:
        return [import_target(wsgi_application(self.name, self.config.app))]

    def validate_args(self, args: Sequence[str]) -> None:
        from gunicorn.config import Config

        namespace = parse_argparse(Config(prog=self.program).parser(), args)
        config = Config()
        for key, value in vars(namespace).items():
            if value is None or key == "args":
                continue
            try:
                config.set(key.lower(), value)
            except (TypeError, ValueError) as exc:
                raise ArgsRejected(f"invalid value for {key}: {exc}") from None

    def start_server(self, *args: str) -> None:
        from gunicorn.app.wsgiapp import WSGIApplication

        saved_argv = sys.argv
        sys.argv = [self.program, *args]
        try:
            application = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]", prog=self.program)
        finally:
            sys.argv = saved_argv
        application.run()
