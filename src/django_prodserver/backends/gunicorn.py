"""Gunicorn: ``gunicorn <WSGI target> ARGS``.

Gunicorn reads ``sys.argv`` whenever it loads its configuration: at start and again on every
SIGHUP reload. Inside ``manage.py`` that holds ``prodserver web``, which Gunicorn would take
for the application and lose the ARGS, so a reload would boot workers that import a module
named ``prodserver`` and the master would give up. The backend hands Gunicorn its own argv
for each configuration load and restores ``sys.argv`` afterwards, so a USR2 re-exec still
restarts ``manage.py prodserver``.

Gunicorn's SIGINT is a quick shutdown that drops in-flight requests; the contract is that
SIGINT stops as gracefully as SIGTERM, so the backend makes SIGINT behave like SIGTERM in the
master and in the workers (Ctrl+C in a terminal reaches both). A second SIGINT during the
graceful stop still forces a quick shutdown, as Gunicorn does after SIGTERM.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import Any

from django_prodserver.backends._parsers import parse_argparse
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.errors import ArgsRejected
from django_prodserver.targets import import_target, wsgi_application

USAGE = "%(prog)s [OPTIONS] [APP_MODULE]"


class GunicornServer(BaseServerBackend):
    """Serve Django's WSGI application with Gunicorn's pre-fork workers."""

    program = "gunicorn"
    package = "gunicorn"
    extra = "gunicorn"

    def leading_args(self) -> list[str]:
        return [import_target(wsgi_application(self.name, self.config.app))]

    def validate_args(self, args: Sequence[str]) -> None:
        from gunicorn.config import Config
        from gunicorn.errors import ConfigError

        namespace = parse_argparse(Config(prog=self.program).parser(), args)
        if namespace is None:
            return
        config = Config()
        for key, value in vars(namespace).items():
            if value is None or key == "args":
                continue
            try:
                config.set(key.lower(), value)
            except (TypeError, ValueError, ConfigError) as exc:
                raise ArgsRejected(f"invalid value for {key}: {exc}") from None

    def start_server(self, *args: str) -> None:
        _application([self.program, *args]).run()


def _application(argv: list[str]) -> Any:
    """Gunicorn's WSGI application runner, loading its configuration from ``argv``."""
    from gunicorn.app.wsgiapp import WSGIApplication

    class Application(WSGIApplication):  # type: ignore[misc]
        def __init__(self) -> None:
            self.argv = argv  # set first: the base __init__ loads the configuration
            super().__init__(USAGE, prog=argv[0])

        def load_config(self) -> None:
            saved_argv = sys.argv
            sys.argv = self.argv
            try:
                super().load_config()
            finally:
                sys.argv = saved_argv
            _graceful_sigint(self.cfg)

    return Application()


def _graceful_sigint(cfg: Any) -> None:
    """Make SIGINT stop the master and the workers like SIGTERM, keeping the user's hooks."""
    user_when_ready = cfg.when_ready
    user_post_worker_init = cfg.post_worker_init

    def when_ready(arbiter: Any) -> None:
        arbiter.handle_int = arbiter.handle_term
        user_when_ready(arbiter)

    def post_worker_init(worker: Any) -> None:
        signal.signal(signal.SIGINT, worker.handle_exit)
        user_post_worker_init(worker)

    cfg.set("when_ready", when_ready)
    cfg.set("post_worker_init", post_worker_init)
