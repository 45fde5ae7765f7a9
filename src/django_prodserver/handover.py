"""Hand this process over to a fresh Python running the server's own program.

By the time ``prodserver`` runs, ``manage.py`` has imported the settings, every app's models
and run every ``AppConfig.ready()``, which may have opened database connections. A server that
forks its workers from the process it starts in (Gunicorn, Granian) would give every worker
that state: one database connection shared by all of them, settings evaluated once, and after
a ``kill -HUP`` reload workers that serve the old settings and models beside the new views. That
is what ``gunicorn --preload`` does, and it is not what the native command does by default.

So, once ``prodserver`` has validated the process, these backends replace this process (same
PID, so Docker, systemd and Kubernetes still signal the server directly, and its exit status is
the server's) with a new interpreter that runs only the server's program. Its workers import
the project themselves, exactly as under the command ``--dry-run`` prints.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from django.db import connections


def _interpreter_paths() -> list[str]:
    """Directories every interpreter of this environment has on its path by itself."""
    paths = {sysconfig.get_path(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    return [os.path.realpath(path) for path in paths if path]


def project_pythonpath() -> str:
    """``PYTHONPATH`` for the new interpreter: where this one found the project.

    ``manage.py`` is found through its own directory (``sys.path[0]``), ``--pythonpath`` and
    ``manage.py`` itself may add more; a fresh interpreter started elsewhere has none of them.
    Everything on ``sys.path`` outside the interpreter's own directories is kept, in order.
    """
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    own = _interpreter_paths()
    kept: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        inside = any(path == p or path.startswith(p + os.sep) for p in (*prefixes, *own))
        if not inside and path not in kept:
            kept.append(path)
    return os.pathsep.join(kept)


def release_connections() -> None:
    """Close every database connection and cache client this process opened so far.

    Called before any backend starts: a server or worker that forks from this process then
    cannot inherit a socket that another process also uses (connections are opened again, per
    process, on first use). Closing is also the polite end of a connection before ``exec``.
    """
    connections.close_all()
    from django.core.cache import caches

    for cache in caches.all(initialized_only=True):
        cache.close()


def _time_zone_at_start(environment: dict[str, str]) -> dict[str, str]:
    """``environment`` with ``TZ`` as it was when this process started.

    Loading the settings sets ``TZ`` to Django's ``TIME_ZONE`` (``django.conf``), which the
    native server's main process never loads: its log lines are in the machine's time zone.
    The process's initial environment (``/proc/self/environ``) says what ``TZ`` was, if
    anything; where it cannot be read (not Linux), the environment is left as it is.
    """
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return environment
    found = [item[3:] for item in initial if item.startswith(b"TZ=")]
    restored = {key: value for key, value in environment.items() if key != "TZ"}
    if found:
        restored["TZ"] = os.fsdecode(found[-1])
    return restored


def exec_python(argv: Sequence[str], env: dict[str, str] | None = None) -> NoReturn:
    """Replace this process with ``python ARGV`` (e.g. ``["-m", "granian", ...]``).

    ``env`` adds environment variables. On Windows, where ``exec`` starts a new process
    instead of replacing this one, the program runs as a child and its status is returned.
    """
    environment = {**_time_zone_at_start(dict(os.environ)), **(env or {})}
    environment["PYTHONPATH"] = project_pythonpath()
    command = [sys.executable, *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # pragma: no cover - exec does not replace the process on Windows
        raise SystemExit(subprocess.call(command, env=environment))
    os.execve(sys.executable, command, environment)
