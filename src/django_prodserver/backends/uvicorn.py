"""Uvicorn: ``uvicorn <ASGI target> ARGS``, and Uvicorn serving Django's WSGI application.

Django does not speak the ASGI lifespan protocol, so ``--lifespan=off`` is the default (with
``auto`` Uvicorn logs Django's refusal at every start). Uvicorn's own ``--interface=wsgi`` is
deprecated in favour of a2wsgi, so :class:`UvicornWSGIServer` serves
:mod:`django_prodserver.wsgi_as_asgi`, which wraps the WSGI application with a2wsgi.

With ``--workers`` above 1, Uvicorn's supervisor (0.50 and later; older ones restart such a
worker forever) exits with status 0 when its workers cannot start (the application fails to
import), which a container platform takes for a clean stop.
Here that exit becomes status 3, Uvicorn's own code for a failed start, unless a stop signal
arrived. Uvicorn's workers are spawned, not forked, so they import the project themselves.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ClickParser
from django_prodserver.targets import asgi_target, wsgi_target

#: Uvicorn's exit status for a server that failed to start.
STARTUP_FAILURE = 3
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)

#: Environment variable that tells :mod:`django_prodserver.wsgi_as_asgi` which WSGI app to wrap.
WSGI_APP_ENV = "DJANGO_PRODSERVER_WSGI_APPLICATION"


class UvicornServer(BaseServerBackend):
    """Serve Django's ASGI application with Uvicorn."""

    program = "uvicorn"
    package = "uvicorn"
    extra = "uvicorn"
    default_args = {"lifespan": "off"}
    address_options = ("--host", "--port", "--uds", "--fd")
    port_args = {"host": "0.0.0.0", "port": "{port}"}
    workers_option = "workers"
    worker_options = ("--workers",)

    def leading_args(self) -> list[str]:
        return [asgi_target(self.name, self.config.app)]

    def arg_parser(self) -> ClickParser:
        from uvicorn.main import main

        return ClickParser(lambda: main, self.program)

    def start_server(self, *args: str) -> None:
        with _stop_signals() as stopped:
            self.arg_parser().run(args)
        if self.supervised() and not stopped():
            sys.stderr.write(
                f'prodserver: process "{self.name}": no Uvicorn worker started (see the log '
                "above), so the start failed; uvicorn itself would exit with status 0.\n"
            )
            raise SystemExit(STARTUP_FAILURE)

    def supervised(self) -> bool:
        """Whether Uvicorn runs a supervisor with worker processes (``--workers`` above 1)."""
        parsed = self.parsed_args  # WEB_CONCURRENCY counts too: click reads it for --workers
        workers = parsed.value("workers") if parsed else None
        return int(workers or 1) > 1 and not (parsed and parsed.value("reload"))


class UvicornWSGIServer(UvicornServer):
    """Serve Django's WSGI application with Uvicorn, through the a2wsgi adapter."""

    def leading_args(self) -> list[str]:
        wsgi_target(self.name, self.config.app)  # the adapter serves it, so it must exist
        return ["django_prodserver.wsgi_as_asgi:application"]

    def native_prefix(self) -> list[str]:
        # Only an explicit APP needs the variable; otherwise WSGI_APPLICATION is used.
        prefix = [f"{WSGI_APP_ENV}={self.config.app}"] if self.config.app else []
        return [*prefix, self.program]

    def start_server(self, *args: str) -> None:
        if self.config.app:
            os.environ[WSGI_APP_ENV] = self.config.app
        super().start_server(*args)


@contextlib.contextmanager
def _stop_signals() -> Iterator[Callable[[], bool]]:
    """Record whether a stop signal arrived while the block ran, whoever handled it.

    Uvicorn installs its own handlers, so the record uses the interpreter's wakeup file
    descriptor, to which every handled signal's number is written.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    received = bytearray()
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    try:
        yield lambda: any(sig in received for sig in STOP_SIGNALS)
    finally:
        signal.set_wakeup_fd(previous)
        with contextlib.suppress(BlockingIOError):
            received.extend(os.read(read_end, 4096))
        os.close(read_end)
        os.close(write_end)
