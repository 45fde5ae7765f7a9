"""Waitress: ``waitress-serve ARGS <WSGI target>``.

Waitress parses with getopt, so options must come before the application target. Its runner
needs a program name in ``argv[0]`` (without one it silently drops the first flag). Waitress
drains in-flight requests on SIGINT but dies mid-request on SIGTERM, which is what Docker,
systemd and Kubernetes send; the backend makes SIGTERM behave like SIGINT.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.errors import ArgsRejected
from django_prodserver.targets import import_target, wsgi_application


class WaitressServer(BaseServerBackend):
    """Serve Django's WSGI application with Waitress's pure-Python threaded server."""

    program = "waitress-serve"
    package = "waitress"
    extra = "waitress"

    def trailing_args(self) -> list[str]:
        return [import_target(wsgi_application(self.name, self.config.app))]

    def validate_args(self, args: Sequence[str]) -> None:
        import getopt

        from waitress.adjustments import Adjustments

        try:
            kwargs, rest = Adjustments.parse_args(list(args))
        except getopt.GetoptError as exc:
            raise ArgsRejected(str(exc)) from None
        if len(rest) != 1:
            extra = " ".join(rest[1:]) or "(none)"
            raise ArgsRejected(f"options must come before the application; unexpected: {extra}")
        kwargs.pop("help", None)
        kwargs.pop("call", None)
        for key, value in kwargs.items():
            # One at a time, so the message can name the option ("invalid literal" cannot).
            try:
                Adjustments(**{key: value})
            except (TypeError, ValueError) as exc:
                option = "--" + key.replace("_", "-")
                raise ArgsRejected(f"invalid value for {option}: {exc}") from None
        try:
            Adjustments(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ArgsRejected(str(exc)) from None

    def start_server(self, *args: str) -> None:
        from waitress.runner import run

        signal.signal(signal.SIGTERM, signal.default_int_handler)
        status = run(argv=[self.program, *args])
        if status:
            raise SystemExit(status)
