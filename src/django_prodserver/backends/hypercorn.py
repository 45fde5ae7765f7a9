"""Hypercorn: ``hypercorn <ASGI target> ARGS``, an ASGI server with HTTP/2 (and HTTP/3).

Hypercorn always runs the ASGI lifespan protocol and has no option to turn it off; Django does
not implement it, so every worker would log ``ASGI Framework Lifespan error`` at every start.
The backend serves :mod:`django_prodserver.asgi_without_lifespan` instead, which answers the
lifespan messages itself and hands HTTP and WebSocket scopes to the project's ASGI application,
named in ``DJANGO_PRODSERVER_ASGI_APPLICATION`` (``--dry-run`` prints it in front of the
command, ready to paste).

Hypercorn starts its workers (one by default) with the ``spawn`` method, as fresh interpreters
that import the application themselves, so it runs in this process, as Uvicorn does. Those
workers are started with SIGTERM blocked, so that a stop lets every worker finish its requests
(see :func:`_workers_spawned_with_sigterm_blocked`). Its parser is built inside
``hypercorn.__main__.main``; :func:`hypercorn_parser` captures it there so that ARGS are
checked by Hypercorn's own options, with nothing copied.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ArgparseParser
from django_prodserver.targets import ASGI_APP_ENV as APP_ENV
from django_prodserver.targets import asgi_target

WRAPPER = "django_prodserver.asgi_without_lifespan:application"


class HypercornServer(BaseServerBackend):
    """Serve Django's ASGI application with Hypercorn (HTTP/1, HTTP/2, WebSockets)."""

    program = "hypercorn"
    package = "hypercorn"
    extra = "hypercorn"
    address_options = ("--bind", "-b", "--insecure-bind", "--quic-bind")
    port_args = {"bind": "0.0.0.0:{port}"}
    workers_option = "workers"
    worker_options = ("--workers", "-w")

    def application(self) -> str:
        """The project's ASGI application, ``module:attribute``, which the wrapper serves."""
        return asgi_target(self.name, self.config.app)

    def leading_args(self) -> list[str]:
        self.application()  # the wrapper serves it, so it must exist
        return [WRAPPER]

    def native_prefix(self) -> list[str]:
        return [f"{APP_ENV}={self.application()}", self.program]

    def arg_parser(self) -> ArgparseParser:
        return ArgparseParser(hypercorn_parser)

    def start_server(self, *args: str) -> None:
        import hypercorn.run
        from hypercorn.__main__ import main

        os.environ[APP_ENV] = self.application()  # the spawned workers inherit it
        populate = _workers_spawned_with_sigterm_blocked(hypercorn.run._populate)
        with mock.patch.object(hypercorn.run, "_populate", populate):
            status = main(list(args))
        if status:
            raise SystemExit(status)


def _workers_spawned_with_sigterm_blocked(populate: Callable[..., None]) -> Callable[..., None]:
    """Hypercorn's ``_populate``, spawning workers that do not die of SIGTERM.

    On SIGTERM or SIGINT Hypercorn's main process sets the shutdown event, on which every
    worker finishes its requests (up to ``--graceful-timeout``) and exits. But the main process
    waits only until the *first* worker exits, then sends SIGTERM to the others, which have no
    handler for it: with ``--workers`` above 1, a worker busy with a request dies mid-request
    (natively too). A blocked signal mask is inherited by a spawned process, so workers started
    with SIGTERM blocked finish on the shutdown event instead; the main process unblocks
    SIGTERM right after spawning, so a SIGTERM that arrived meanwhile is delivered, not lost.
    """

    def spawn(*args: Any, **kwargs: Any) -> None:
        if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
            populate(*args, **kwargs)
            return
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            populate(*args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    return spawn


class _Captured(Exception):
    """Raised by the capturing parser instead of parsing: carries Hypercorn's parser."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("captured")
        self.parser = parser


class _CapturingParser(argparse.ArgumentParser):
    """Stops Hypercorn's ``main`` at its first parse; afterwards parses as argparse does."""

    capturing = True

    def parse_args(self, *args: Any, **kwargs: Any) -> Any:
        if self.capturing:
            self.capturing = False
            raise _Captured(self)
        return super().parse_args(*args, **kwargs)


def hypercorn_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser that ``hypercorn.__main__.main`` builds, without running it.

    Only the ``argparse`` name inside Hypercorn's module is replaced, for the length of the
    call, so no other parser in the process is affected.
    """
    import hypercorn.__main__ as hypercorn_main

    fake_argparse = SimpleNamespace(ArgumentParser=_CapturingParser)
    try:
        with mock.patch.object(hypercorn_main, "argparse", fake_argparse):
            hypercorn_main.main(["--"])
    except _Captured as captured:
        captured.parser.prog = "hypercorn"
        return captured.parser
    raise RuntimeError("hypercorn.__main__.main did not build its parser")  # pragma: no cover
