"""Waitress: ``waitress-serve ARGS <WSGI target>``.

Waitress parses with getopt, so options must come before the application target. Its runner
needs a program name in ``argv[0]`` (without one it silently drops the first flag). Waitress
drains in-flight requests on SIGINT but dies mid-request on SIGTERM, which is what Docker,
systemd and Kubernetes send; the backend makes SIGTERM behave like SIGINT.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from typing import Any

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import GetoptParser, ParsedArgs
from django_prodserver.errors import ArgsRejected
from django_prodserver.targets import wsgi_target


class WaitressServer(BaseServerBackend):
    """Serve Django's WSGI application with Waitress's pure-Python threaded server."""

    program = "waitress-serve"
    package = "waitress"
    extra = "waitress"

    def trailing_args(self) -> list[str]:
        return [wsgi_target(self.name, self.config.app)]

    def arg_parser(self) -> GetoptParser:
        from waitress.adjustments import Adjustments

        return GetoptParser(Adjustments.parse_args, _long_options)

    def validate_args(self, args: Sequence[str]) -> ParsedArgs | None:
        """getopt, then the values through Waitress's own Adjustments, as its runner does."""
        from waitress.adjustments import Adjustments

        parsed = self.arg_parser().parse(args)
        kwargs = {k: v for k, v in parsed.values.items() if k != "args"}
        rest = parsed.values["args"]
        if len(rest) != 1:
            extra = " ".join(rest[1:]) or "(none)"
            raise ArgsRejected(f"options must come before the application; unexpected: {extra}")
        kwargs.pop("help", None)
        kwargs.pop("call", None)
        try:
            Adjustments(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ArgsRejected(_name_the_option(kwargs, exc)) from None
        return parsed

    def start_server(self, *args: str) -> None:
        from waitress.runner import run

        signal.signal(signal.SIGTERM, signal.default_int_handler)
        status = run(argv=[self.program, *args])
        if status:
            raise SystemExit(status)


def _long_options() -> frozenset[str]:
    """Waitress's long options, from its table of adjustments (booleans also take --no-)."""
    from waitress.adjustments import Adjustments, asbool

    names = {"--help", "--call"}
    for param, cast in Adjustments._params:
        option = param.replace("_", "-")
        names.add(f"--{option}")
        if cast is asbool:
            names.add(f"--no-{option}")
    return frozenset(names)


def _name_the_option(kwargs: dict[str, Any], error: Exception) -> str:
    """Name the option behind Waitress's error ("invalid literal for int()" names none).

    Each option is tried alone; options that only make sense together (``trusted_proxy_headers``
    needs ``trusted_proxy``) pass alone, and then Waitress's own message stands.
    """
    from waitress.adjustments import Adjustments

    for key, value in kwargs.items():
        try:
            Adjustments(**{key: value})
        except (TypeError, ValueError) as exc:
            return f"invalid value for --{key.replace('_', '-')}: {exc}"
    return str(error)
