"""Granian: ``granian --interface=asginl|wsgi ARGS <target>``.

Granian's default interface is RSGI, which Django does not speak (every request would be a
500), so each backend sets the interface: ``asginl`` (ASGI without lifespan, which Django does
not implement) or ``wsgi``. As with the native command, ``GRANIAN_*`` environment variables
are read.

Granian forks its workers from its main process, so, once validated, the backend hands this
process over to the ``granian`` program itself (see :mod:`django_prodserver.handover`): the
workers import the project themselves, and a SIGHUP respawn serves only new code.
"""

from __future__ import annotations

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ArgParser, ClickParser
from django_prodserver.handover import exec_python
from django_prodserver.targets import asgi_target, wsgi_target


class GranianASGIServer(BaseServerBackend):
    """Serve Django's ASGI application with Granian."""

    program = "granian"
    package = "granian"
    extra = "granian"
    default_args = {"interface": "asginl"}

    def trailing_args(self) -> list[str]:
        return [asgi_target(self.name, self.config.app)]

    def arg_parser(self) -> ArgParser:
        from granian.cli import cli

        return ClickParser(lambda: cli, self.program, auto_envvar_prefix="GRANIAN")

    def start_server(self, *args: str) -> None:
        exec_python(["-m", "granian", *args])


class GranianWSGIServer(GranianASGIServer):
    """Serve Django's WSGI application with Granian."""

    default_args = {"interface": "wsgi"}

    def trailing_args(self) -> list[str]:
        return [wsgi_target(self.name, self.config.app)]
