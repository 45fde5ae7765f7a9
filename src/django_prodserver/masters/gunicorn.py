"""Gunicorn's own master as prodserver runs it: ``python -m django_prodserver.masters.gunicorn``.

It takes the same arguments as ``gunicorn`` and differs in two documented ways:

* SIGINT stops as gracefully as SIGTERM, in the master and in the workers (Ctrl+C in a
  terminal reaches both). Gunicorn's own SIGINT is a quick shutdown that drops in-flight
  requests; the prodserver contract is that both stop signals are graceful. A second SIGINT
  during the graceful stop still forces a quick shutdown, as after SIGTERM.
* SIGUSR2 (Gunicorn's binary upgrade) re-executes the ``manage.py prodserver`` command that
  started it, named in :data:`RESTART_ARGV_ENV`, so the new master is validated and started
  the same way as the first one and reads the current ``PRODUCTION_PROCESSES``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

#: The environment variable holding the command line (JSON list) that USR2 re-executes.
RESTART_ARGV_ENV = "DJANGO_PRODSERVER_RESTART_ARGV"
USAGE = "%(prog)s [OPTIONS] [APP_MODULE]"


def main() -> None:
    """Run Gunicorn's WSGI application runner on ``sys.argv``, as the ``gunicorn`` script does."""
    from gunicorn.app.wsgiapp import WSGIApplication

    # Popped before Gunicorn copies the environment: workers and a re-exec don't inherit it.
    restart_argv = json.loads(os.environ.pop(RESTART_ARGV_ENV, "null"))

    class Application(WSGIApplication):  # type: ignore[misc]
        def load_config(self) -> None:  # runs at start and again on every SIGHUP reload
            super().load_config()
            _add_hooks(self.cfg, restart_argv)

    Application(USAGE, prog="gunicorn").run()


def _add_hooks(cfg: Any, restart_argv: list[str] | None) -> None:
    """Graceful SIGINT and the USR2 command line, keeping the user's own hooks."""
    user_when_ready = cfg.when_ready
    user_post_worker_init = cfg.post_worker_init

    def when_ready(arbiter: Any) -> None:
        arbiter.handle_int = arbiter.handle_term
        if restart_argv:
            arbiter.START_CTX["args"] = [sys.executable, *restart_argv]
        user_when_ready(arbiter)

    def post_worker_init(worker: Any) -> None:
        signal.signal(signal.SIGINT, worker.handle_exit)
        user_post_worker_init(worker)

    cfg.set("when_ready", when_ready)
    cfg.set("post_worker_init", post_worker_init)


if __name__ == "__main__":
    main()
