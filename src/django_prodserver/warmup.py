"""The start-up gate: ``WARMUP`` paths requested in-process before the server starts.

A deploy that cannot serve (a view module that does not import, an unreachable database, a
missing template) should fail as a crashed container that the platform rolls back, not as a
server answering 500. So, when a process lists ``WARMUP`` paths, ``prodserver`` requests each
one through Django's own WSGI handler (the real URLconf and middleware, with a host from
``ALLOWED_HOSTS``) before the server starts. An answer of 400 or more, or an exception, stops
the start with one line; success is one line with the timings.

The gate runs in the ``prodserver`` process before it releases its connections
(:func:`~django_prodserver.handover.release_connections`), so nothing it opened reaches a
server's workers. Django's ``django.request`` logger is silenced while it runs: the one line
says what failed, and a traceback in the log of a start that did not happen only misleads.
"""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.signals import got_request_exception

from django_prodserver.config import SETTING
from django_prodserver.errors import ProdserverError


def warmup_host() -> str:
    """A host Django accepts: the first usable ``ALLOWED_HOSTS`` entry, else ``localhost``."""
    for host in settings.ALLOWED_HOSTS:
        name = str(host).lstrip(".")
        if name and name != "*" and "*" not in name:
            return name
    return "localhost"


def _environ(path: str, host: str) -> dict[str, Any]:
    route, _, query = path.partition("?")
    https = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": "443" if https else "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "HTTP_USER_AGENT": "django-prodserver warmup",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https" if https else "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


@contextmanager
def _quiet_request_log() -> Iterator[list[BaseException]]:
    """Collect the exceptions views raise; keep Django's request log from printing tracebacks."""
    raised: list[BaseException] = []

    def record(sender: object, request: object = None, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None:
            raised.append(error)

    logger = logging.getLogger("django.request")
    disabled = logger.disabled
    logger.disabled = True
    got_request_exception.connect(record, weak=False)
    try:
        yield raised
    finally:
        got_request_exception.disconnect(record)
        logger.disabled = disabled


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def run_warmup(name: str, paths: Sequence[str]) -> str:
    """Request each path; return the success line, or raise one :class:`ProdserverError`."""
    from django.core.wsgi import get_wsgi_application

    setting = f'{SETTING}["{name}"]["WARMUP"]'
    host = warmup_host()
    timings = []
    started = time.perf_counter()
    with _quiet_request_log() as raised:
        for path in paths:
            status, before = "", time.perf_counter()
            try:
                application = get_wsgi_application()

                def start_response(
                    code: str, headers: Any, exc_info: Any = None, /
                ) -> Callable[[bytes], object]:
                    nonlocal status
                    status = code
                    return lambda data: None

                body = application(_environ(path, host), start_response)
                for _ in body:  # the answer is produced while it is read (streaming views)
                    pass
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            except Exception as exc:  # the gate exists to turn any failure into one line
                raise ProdserverError(
                    f'Warmup of process "{name}" failed: GET {path} (host {host}) raised '
                    f"{_first_line(exc)}. Fix it, or remove the path from {setting}."
                ) from None
            code = int(status.split(" ", 1)[0] or 500)
            if code >= 400:
                cause = f" ({_first_line(raised[-1])})" if raised else ""
                raise ProdserverError(
                    f'Warmup of process "{name}" failed: GET {path} (host {host}) answered '
                    f"{status}{cause}. Fix it, or remove the path from {setting}."
                )
            timings.append(f"{path} {code} in {(time.perf_counter() - before) * 1000:.0f} ms")
    total = (time.perf_counter() - started) * 1000
    return f'prodserver: warmup of "{name}" passed in {total:.0f} ms: {", ".join(timings)}'
