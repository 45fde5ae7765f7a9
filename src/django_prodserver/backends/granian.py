"""Granian: ``granian --interface=asginl|wsgi ARGS <target>``.

Granian's default interface is RSGI, which Django does not speak (every request would be a
500), so each backend sets the interface: ``asginl`` (ASGI without lifespan, which Django does
not implement) or ``wsgi``. As with the native command, ``GRANIAN_*`` environment variables
are read.
"""

from __future__ import annotations

from collections.abc import Sequence

from django_prodserver.backends._parsers import parse_click, run_click
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.targets import asgi_application, import_target, wsgi_application


class GranianASGIServer(BaseServerBackend):
    """Serve Django's ASGI application with Granian."""

    program = "granian"
    package = "granian"
    extra = "granian"
    default_args = {"interface": "asginl"}

    def trailing_args(self) -> list[str]:
        return [import_target(asgi_application(self.name, self.config.app))]

    def validate_args(self, args: Sequence[str]) -> None:
        from granian.cli import cli

        parse_click(cli, self.program, args, auto_envvar_prefix="GRANIAN")

    def start_server(self, *args: str) -> None:
        from granian.cli import cli

        run_click(cli, self.program, args, auto_envvar_prefix="GRANIAN")


class GranianWSGIServer(GranianASGIServer):
    """Serve Django's WSGI application with Granian."""

    default_args = {"interface": "wsgi"}

    def trailing_args(self) -> list[str]:
        return [import_target(wsgi_application(self.name, self.config.app))]
