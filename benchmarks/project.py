"""A private copy of the example project's runtime state for one benchmark run.

Everything a server could share with another run or with a developer's own servers lives in a
temporary directory: the settings module (the example's settings plus the benchmark's
``PRODUCTION_PROCESSES``), the SQLite database (migrated), and one ``XDG_RUNTIME_DIR`` per
process (Gunicorn keeps its control socket there). Processes run with ``cwd=example`` and
read their port from ``BENCH_PORT``, so ``prodserver NAME --dry-run`` with the same
environment prints exactly the native command the benchmark compares against.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import BenchError, Proc, run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
VENV_BIN = Path(sys.executable).parent
SETTINGS_MODULE = "bench_settings"

# Variables that would change a server's configuration behind the command line's back.
_SCRUBBED_PREFIXES = ("GUNICORN_", "UVICORN_", "GRANIAN_", "WAITRESS_", "CELERY_", "DJANGO_")
_SCRUBBED = {"WEB_CONCURRENCY", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME"}


@dataclass(frozen=True)
class ProcessSpec:
    """One ``PRODUCTION_PROCESSES`` entry of the benchmark settings.

    ``args`` is Python source for the ARGS value; it may use ``PORT`` (from ``BENCH_PORT``).
    """

    name: str
    label: str
    backend: str
    args: str
    app: str | None = None
    warmup: tuple[str, ...] = ()

    def settings_source(self) -> str:
        app = f', "APP": {self.app!r}' if self.app else ""
        warmup = f', "WARMUP": {list(self.warmup)!r}' if self.warmup else ""
        return (
            f'    {self.name!r}: {{"BACKEND": {self.backend!r}{app}{warmup}, "ARGS": {self.args}}},'
        )


_UVICORN_ARGS = '{"host": "127.0.0.1", "port": PORT, "workers": 2, "no_access_log": True}'
_GRANIAN_ARGS = '{"host": "127.0.0.1", "port": PORT, "workers": 2}'

#: The web backends, configured alike: two worker processes where the server has workers
#: (Waitress is one process with four threads, its default; Daphne one process with no
#: workers), no access log.
WEB_BACKENDS: tuple[ProcessSpec, ...] = (
    ProcessSpec(
        "gunicorn",
        "Gunicorn",
        "django_prodserver.backends.gunicorn.GunicornServer",
        '{"bind": f"127.0.0.1:{PORT}", "workers": 2}',
    ),
    ProcessSpec(
        "uvicorn", "Uvicorn ASGI", "django_prodserver.backends.uvicorn.UvicornServer", _UVICORN_ARGS
    ),
    ProcessSpec(
        "uvicorn-wsgi",
        "Uvicorn WSGI",
        "django_prodserver.backends.uvicorn.UvicornWSGIServer",
        _UVICORN_ARGS,
    ),
    ProcessSpec(
        "granian",
        "Granian ASGI",
        "django_prodserver.backends.granian.GranianASGIServer",
        _GRANIAN_ARGS,
    ),
    ProcessSpec(
        "granian-wsgi",
        "Granian WSGI",
        "django_prodserver.backends.granian.GranianWSGIServer",
        _GRANIAN_ARGS,
    ),
    ProcessSpec(
        "waitress",
        "Waitress",
        "django_prodserver.backends.waitress.WaitressServer",
        '{"listen": f"127.0.0.1:{PORT}", "threads": 4}',
    ),
    ProcessSpec(
        "daphne",
        "Daphne",
        "django_prodserver.backends.daphne.DaphneServer",
        '{"bind": "127.0.0.1", "port": PORT, "verbosity": 0}',
    ),
    ProcessSpec(
        "hypercorn",
        "Hypercorn",
        "django_prodserver.backends.hypercorn.HypercornServer",
        '{"bind": f"127.0.0.1:{PORT}", "workers": 2}',
    ),
)

#: The configurations compared under load ("which server for which site"): the web backends
#: plus Gunicorn's threaded worker, which the Gunicorn page recommends for views that wait on
#: I/O (two processes of four threads each).
COMPARED: tuple[ProcessSpec, ...] = (
    WEB_BACKENDS[0],
    ProcessSpec(
        "gunicorn-gthread",
        "Gunicorn gthread",
        "django_prodserver.backends.gunicorn.GunicornServer",
        '{"bind": f"127.0.0.1:{PORT}", "workers": 2, "worker_class": "gthread", "threads": 4}',
    ),
    *WEB_BACKENDS[1:],
)


#: The start-up gate: Gunicorn as above with ``WARMUP = ["/"]``, timed against the same
#: process without it (both through prodserver), so the difference is the gate's own cost.
GATED = ProcessSpec(
    "gunicorn-warmup",
    'Gunicorn with WARMUP ["/"]',
    WEB_BACKENDS[0].backend,
    WEB_BACKENDS[0].args,
    warmup=("/",),
)


class Project:
    """The example project with private settings, database and runtime directories."""

    def __init__(
        self, root: Path, processes: Sequence[ProcessSpec], extra_settings: str = ""
    ) -> None:
        self.root = root
        self.db_path = root / "db.sqlite3"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self._runs = 0
        entries = "\n".join(spec.settings_source() for spec in processes)
        (root / f"{SETTINGS_MODULE}.py").write_text(
            '"""Settings of one benchmark run (written by benchmarks/project.py)."""\n\n'
            "import os\n\n"
            "from mysite.settings import *  # noqa: F403\n\n"
            "DEBUG = False\n"
            'PORT = int(os.environ.get("BENCH_PORT", "8000"))\n'
            f"PRODUCTION_PROCESSES = {{\n{entries}\n}}\n{extra_settings}\n"
        )

    def env(
        self, port: int | None = None, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The environment of every process: private paths, nothing inherited that configures."""
        self._runs += 1
        xdg = self.root / "xdg" / str(self._runs)
        xdg.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in _SCRUBBED and not key.startswith(_SCRUBBED_PREFIXES)
        }
        env.update(
            PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "/usr/bin:/bin")]),
            PYTHONPATH=os.pathsep.join([str(self.root), str(EXAMPLE)]),
            DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
            DJANGO_DATABASE_PATH=str(self.db_path),
            XDG_RUNTIME_DIR=str(xdg),
        )
        if port is not None:
            env["BENCH_PORT"] = str(port)
        env.update(extra or {})
        return env

    @staticmethod
    def manage_argv(*args: str) -> list[str]:
        return [sys.executable, "manage.py", *args]

    def manage(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """Run ``manage.py ARGS`` in ``example/`` and return its standard output."""
        return run(self.manage_argv(*args), env=env or self.env(), cwd=EXAMPLE).stdout

    def migrate(self) -> None:
        self.manage("migrate", "--verbosity", "0")

    def dry_run(self, name: str, port: int) -> str:
        """The native command line ``prodserver NAME`` runs on ``port``, as it prints it."""
        return self.manage("prodserver", name, "--dry-run", env=self.env(port)).strip()

    def start(
        self, argv: Sequence[str], env: Mapping[str, str], label: str, cwd: Path = EXAMPLE
    ) -> Proc:
        """Start a process in its own session; its output goes to a log file in the run dir."""
        log = self.logs / f"{len(list(self.logs.iterdir())):04d}-{label}.log"
        return Proc(argv, env=env, cwd=cwd, log_path=log)


def native_argv(command_line: str) -> tuple[list[str], dict[str, str]]:
    """Split a ``--dry-run`` line into argv and leading ``VAR=value`` environment words.

    The program is looked up in the virtualenv first, as a shell with it activated would.
    """
    words = shlex.split(command_line)
    env: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if not words:
        raise BenchError(f"no command in {command_line!r}")
    program = VENV_BIN / words[0]
    found = str(program) if program.exists() else shutil.which(words[0])
    if found is None:
        raise BenchError(f"{words[0]} is not installed (from {command_line!r})")
    return [found, *words[1:]], env
