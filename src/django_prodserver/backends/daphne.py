"""Daphne: ``daphne <ASGI target> ARGS``, the server Django Channels documents.

Daphne is one process (Twisted on an asyncio loop) with no workers to fork, so it runs in this
process, through Daphne's own command-line class, with the same options as the ``daphne``
program. Two things differ from the native command, both on purpose:

* Daphne spells two options with underscores (``--websocket_timeout`` and
  ``--websocket_connect_timeout``) while every other option uses dashes. The ARGS rule turns
  ``websocket_timeout`` into ``--websocket-timeout``, which Daphne would refuse, so the backend
  writes those two the way Daphne spells them (``--dry-run`` shows it).
* On SIGTERM or SIGINT the native ``daphne`` stops its reactor at once and cancels every request
  still running, so a deploy answers those clients with a dropped connection. Here the signal
  first closes the listening sockets, then waits for the HTTP requests in progress to finish
  (open WebSockets are not waited for: they may last a day), then stops the reactor; the exit
  status is 0. A second signal stops at once, as the native command does.
"""

from __future__ import annotations

import argparse
import signal
from typing import Any

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ArgparseParser, OptionTable
from django_prodserver.targets import asgi_target

#: Options Daphne spells with underscores: the ARGS rule's spelling -> Daphne's.
UNDERSCORED = {
    "--websocket-timeout": "--websocket_timeout",
    "--websocket-connect-timeout": "--websocket_connect_timeout",
}
#: How often the drain looks whether the requests in progress have finished.
DRAIN_POLL_SECONDS = 0.05


def _respell(arg: str) -> str:
    """``--websocket-timeout=60`` as Daphne spells it: ``--websocket_timeout=60``."""
    name, sep, value = arg.partition("=")
    return UNDERSCORED.get(name, name) + sep + value


class DaphneServer(BaseServerBackend):
    """Serve Django's ASGI application (HTTP and, with Channels, WebSockets) with Daphne."""

    program = "daphne"
    package = "daphne"
    extra = "daphne"
    # One process: $WEB_CONCURRENCY does not apply; $PORT does.
    address_options = (
        "--bind",
        "-b",
        "--port",
        "-p",
        "--unix-socket",
        "-u",
        "--fd",
        "--endpoint",
        "-e",
    )
    port_args = {"bind": "0.0.0.0", "port": "{port}"}

    def leading_args(self) -> list[str]:
        return [asgi_target(self.name, self.config.app)]

    def prep_server_args(self) -> list[str]:
        return [_respell(arg) for arg in super().prep_server_args()]

    def arg_parser(self) -> ArgparseParser:
        return ArgparseParser(_daphne_parser)

    def long_options(self) -> frozenset[str]:
        """Daphne's options, plus the dashed spelling of its two underscored ones.

        ARGS keys and the arguments after ``--`` may use ``--websocket-timeout``: the backend
        respells it before Daphne's parser sees it.
        """
        return (super().long_options() or frozenset()) | frozenset(UNDERSCORED)

    def option_table(self) -> OptionTable:
        """Daphne's table, where the dashed spelling sets the same option as Daphne's own.

        ARGS write ``--websocket-timeout``; ``-- --websocket_timeout=60`` must replace it.
        """
        table = dict(super().option_table())
        table.update({dashed: table[own] for dashed, own in UNDERSCORED.items() if own in table})
        return table

    def start_server(self, *args: str) -> None:
        from daphne.cli import CommandLineInterface

        cli = CommandLineInterface()
        cli.server_class = _draining_server_class()
        cli.run(list(args))


def _daphne_parser() -> argparse.ArgumentParser:
    from daphne.cli import CommandLineInterface

    parser: argparse.ArgumentParser = CommandLineInterface().parser
    parser.prog = "daphne"
    return parser


def _draining_server_class() -> type[Any]:
    """Daphne's ``Server`` that lets the requests in progress finish on SIGTERM and SIGINT.

    Built on demand: importing ``daphne.server`` installs Twisted's asyncio reactor.
    """
    from daphne.server import Server
    from twisted.internet import reactor as _reactor

    reactor: Any = _reactor  # Twisted types the reactor as a module

    class DrainingServer(Server):  # type: ignore[misc]
        """Stop listening, wait for HTTP requests in progress, then stop the reactor."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ports: list[Any] = []
            self.draining = False

        def run(self) -> None:
            # Twisted installs its own handlers as the reactor starts; replace them after.
            reactor.callWhenRunning(self.install_stop_handlers)
            super().run()

        def listen_success(self, port: Any) -> None:
            self.ports.append(port)
            super().listen_success(port)

        def install_stop_handlers(self) -> None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self.on_stop_signal)

        def on_stop_signal(self, signum: int, frame: object) -> None:
            if self.draining:  # a second signal: stop now, as the native command does
                reactor.callFromThread(self.stop)
                return
            self.draining = True
            reactor.callFromThread(self.drain)

        def drain(self) -> None:
            for port in self.ports:
                port.stopListening()
            self.wait_for_requests()

        def requests_in_progress(self) -> int:
            from daphne.http_protocol import WebRequest

            return sum(
                1
                for protocol, details in self.connections.items()
                if isinstance(protocol, WebRequest)
                and details.get("application_instance") is not None
                and not details["application_instance"].done()
                and "disconnected" not in details
            )

        def wait_for_requests(self) -> None:
            if self.requests_in_progress():
                reactor.callLater(DRAIN_POLL_SECONDS, self.wait_for_requests)
            else:
                self.stop()

    return DrainingServer
