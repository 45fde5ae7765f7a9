"""Two custom backends, shown in full by the custom-backend guide.

``WsgirefServer`` is written from scratch on ``BaseServerBackend`` around the standard
library's ``wsgiref`` server, so it needs nothing installed: it shows every hook a backend can
fill in. ``GunicornASGIServer`` extends a built-in backend in a few lines, to run Gunicorn's own
``asgi`` worker class.
"""

from __future__ import annotations

import argparse
import signal
import socketserver
import sys
import threading
from types import FrameType
from wsgiref.simple_server import WSGIServer, make_server

from django.conf import settings
from django.core import checks
from django.core.servers.basehttp import get_internal_wsgi_application
from django.utils.module_loading import import_string

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.gunicorn import GunicornServer
from django_prodserver.backends.parsers import ArgparseParser


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server with one thread per request.

    The request threads are not daemons, so closing the server waits for the requests in
    flight: that is what makes a stop graceful.
    """

    daemon_threads = False
    block_on_close = True


class WsgirefServer(BaseServerBackend):
    """Serve Django's WSGI application with the standard library's wsgiref server.

    A teaching example with no dependency. wsgiref is the standard library's reference server,
    not built for production traffic: serve real sites with Gunicorn, Granian, Uvicorn or
    Waitress.
    """

    # The name in --dry-run, --list and error messages. wsgiref has no command of its own,
    # so --dry-run shows this name followed by the options the backend parses.
    program = "wsgiref"
    # Options Django users expect a default for; ARGS or "-- --port=9000" override them.
    default_args = {"host": "127.0.0.1", "port": 8000}

    def arg_parser(self) -> ArgparseParser:
        """The options this backend accepts: ARGS keys are exactly these names.

        prodserver parses the command line with it once, before anything starts, and turns a
        refusal into one line naming the process (and ``manage.py check --deploy`` does too).
        """

        def build() -> argparse.ArgumentParser:
            parser = argparse.ArgumentParser(prog=self.program)
            parser.add_argument("--host")
            parser.add_argument("--port", type=int)
            return parser

        return ArgparseParser(build)

    def check_settings(self) -> list[checks.CheckMessage]:
        """Checks that ``manage.py check`` runs; keep the built-in ones and add your own."""
        messages = super().check_settings()
        if self.config.app is None and not getattr(settings, "WSGI_APPLICATION", None):
            messages.append(
                checks.Error(
                    f"{self.config.setting} uses {type(self).__name__}, which needs a WSGI "
                    "application.",
                    hint='Set WSGI_APPLICATION = "mysite.wsgi.application" or give the process '
                    'an "APP".',
                    obj=self.name,
                    id="customserver.E001",
                )
            )
        return messages

    def start_server(self, *args: str) -> None:
        """Serve until SIGTERM or SIGINT, then finish the requests in flight and return."""
        parsed = self.arg_parser().parse(args)
        host, port = parsed.value("host"), parsed.value("port")
        if self.config.app:
            application = import_string(self.config.app)
        else:
            application = get_internal_wsgi_application()
        server = make_server(host, port, application, server_class=ThreadingWSGIServer)

        def stop(signum: int, frame: FrameType | None) -> None:
            # shutdown() waits for serve_forever() to return, so call it from another thread.
            threading.Thread(target=server.shutdown).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(f"wsgiref: serving on http://{host}:{port}/", file=sys.stderr)
        try:
            server.serve_forever()
        finally:
            server.server_close()  # joins the request threads still running
        print("wsgiref: stopped", file=sys.stderr)


class GunicornASGIServer(GunicornServer):
    """Serve Django's ASGI application with Gunicorn's own ``asgi`` worker class.

    Everything else (the ARGS rule, --dry-run, checking ARGS with Gunicorn's parser, starting
    Gunicorn in this process) is inherited from the built-in GunicornServer.
    """

    # Django does not implement the ASGI lifespan protocol, so switch it off; ARGS can still
    # set either option.
    default_args = {"worker_class": "asgi", "asgi_lifespan": "off"}

    def leading_args(self) -> list[str]:
        """Gunicorn's first argument: the ASGI application as ``module:attribute``."""
        if self.config.app:
            path = self.config.app
        else:
            # startproject writes asgi.py beside wsgi.py: mysite.wsgi -> mysite.asgi.
            module, _, attribute = str(settings.WSGI_APPLICATION).rpartition(".")
            path = f"{module.rpartition('.')[0]}.asgi.{attribute}"
        module, _, attribute = path.rpartition(".")
        return [f"{module}:{attribute}"]
