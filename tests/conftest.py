"""Shared fixtures: a throw-away copy of the example project's settings, real processes, ports.

Tests that start servers run ``example/manage.py`` in a subprocess with a settings module
written into ``tmp_path`` (``from mysite.settings import *`` plus the test's own
``PRODUCTION_PROCESSES``), a private SQLite file and a private ``XDG_RUNTIME_DIR`` (Gunicorn's
control socket lives there; two Gunicorns sharing one would delete each other's).
``redis_server`` and ``postgres_server`` start a real broker and a real database server once per
session, on free loopback ports; ``postgres_db`` gives a test its own database on it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = ROOT / "example"
MANAGE_PY = EXAMPLE_DIR / "manage.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """GET ``url``; return (status, body) for any HTTP answer, raise OSError if none."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def wait_for_http(
    url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 60.0
) -> int:
    """Poll ``url`` until it answers with any HTTP status; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before answering {url}")
        try:
            return http_get(url, timeout=2.0)[0]
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def descendants(pid: int) -> list[psutil.Process]:
    """Every living descendant of ``pid`` (empty if ``pid`` is gone)."""
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if p.is_running()]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int) -> None:
    """Kill ``pid`` and its descendants (used only for processes a test started)."""
    procs = descendants(pid)
    with contextlib.suppress(psutil.NoSuchProcess):
        procs.append(psutil.Process(pid))
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=10)


def project_processes(project: Project) -> list[psutil.Process]:
    """Living processes started in the project directory (the command and anything it forked).

    Unlike ``descendants``, this still finds children orphaned after the command exited.
    """
    found = []
    for proc in psutil.process_iter(["cwd"]):
        if proc.info["cwd"] != str(project.tmp_path):
            continue
        with contextlib.suppress(psutil.Error):
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


@dataclass
class Project:
    """The example project run with test-specific settings, in subprocesses."""

    tmp_path: Path
    settings_module: str = "mysite.settings"
    started: list[subprocess.Popen[str]] = field(default_factory=list)
    #: ``DATABASES`` of every settings module written from now on (None: the SQLite file).
    databases: dict[str, dict[str, Any]] | None = None
    _counter: int = 0

    @property
    def env(self) -> dict[str, str]:
        xdg = self.tmp_path / "xdg"
        xdg.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE=self.settings_module,
            PYTHONPATH=os.pathsep.join([str(self.tmp_path), str(EXAMPLE_DIR)]),
            XDG_RUNTIME_DIR=str(xdg),
            DJANGO_DATABASE_PATH=str(self.tmp_path / "db.sqlite3"),
            PYTHONUNBUFFERED="1",
            # Private, so that parallel tests never share a file in the temporary directory
            # (Celery beat keeps its default schedule file there).
            TMPDIR=str(self.tmpdir),
        )
        return env

    @property
    def tmpdir(self) -> Path:
        """The temporary directory of the processes this project starts (``TMPDIR``)."""
        path = self.tmp_path / "tmp"
        path.mkdir(exist_ok=True)
        return path

    def use_settings(self, processes: Any = None, *, extra: str = "", **values: Any) -> str:
        """Write a settings module: the example's settings, then these; return its name.

        ``processes`` becomes ``PRODUCTION_PROCESSES`` (omit it to keep the example's);
        ``values`` become further settings (written with ``repr``); ``extra`` is raw code.
        """
        self._counter += 1
        name = f"test_settings_{self._counter}"
        lines = ["from mysite.settings import *  # noqa: F403"]
        if processes is not None:
            lines.append(f"PRODUCTION_PROCESSES = {processes!r}")
        if self.databases is not None:
            lines.append(f"DATABASES = {self.databases!r}")
        lines += [f"{key} = {value!r}" for key, value in values.items()]
        lines.append(extra)
        (self.tmp_path / f"{name}.py").write_text("\n".join(lines) + "\n")
        self.settings_module = name
        return name

    def manage(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py ARGS`` to completion."""
        result = subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            cwd=self.tmp_path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def migrate(self) -> None:
        self.manage("migrate", "--verbosity", "0", check=True)

    def shell_json(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell``; return the JSON value its last line printed."""
        result = self.manage("shell", "--verbosity=0", "--command", code, check=True)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the project's default database: the SQLite file or PostgreSQL."""
        default = (self.databases or {}).get("default")
        if default is None:
            path = self.tmp_path / "db.sqlite3"
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
                return db.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(
            host=default["HOST"],
            port=default["PORT"],
            user=default["USER"],
            dbname=default["NAME"],
            autocommit=True,
        ) as conn:
            return list(conn.execute(sql).fetchall())

    def native_argv(self, name: str) -> list[str]:
        """The native command ``prodserver NAME --dry-run`` prints, as an argv to start here.

        ``python`` is this interpreter, ``manage.py`` the example's, and other programs come
        from this virtualenv, as in a shell where it is activated.
        """
        words = shlex.split(self.manage("prodserver", name, "--dry-run", check=True).stdout)
        program = Path(sys.executable).parent / words[0]
        if words[:2] == ["python", "manage.py"]:
            return [sys.executable, str(MANAGE_PY), *words[2:]]
        return [str(program) if program.exists() else words[0], *words[1:]]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start ``manage.py ARGS`` in the background; ``Project.output(proc)`` reads its log."""
        return self.start_command([sys.executable, str(MANAGE_PY), *args])

    def start_command(
        self, argv: list[str], env: dict[str, str | None] | None = None
    ) -> subprocess.Popen[str]:
        """Start any command in the project's directory and environment, in its own session.

        ``env`` changes the environment: a value of None removes the variable.
        """
        environment = {**self.env, **(env or {})}
        log = (self.tmp_path / f"proc-{len(self.started)}.log").open("w")
        proc = subprocess.Popen(
            argv,
            cwd=self.tmp_path,
            env={key: value for key, value in environment.items() if value is not None},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        proc.log_path = Path(log.name)  # type: ignore[attr-defined]
        self.started.append(proc)
        return proc

    @staticmethod
    def output(proc: subprocess.Popen[str]) -> str:
        return Path(proc.log_path).read_text()  # type: ignore[attr-defined]

    def stop(
        self, proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 60
    ) -> int:
        """Send ``sig`` and wait for the process to exit; return its exit status."""
        proc.send_signal(sig)
        return proc.wait(timeout=timeout)

    def cleanup(self) -> None:
        for proc in self.started:
            kill_tree(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    """The example project with private settings, database and runtime dir."""
    proj = Project(tmp_path)
    try:
        yield proj
    finally:
        proj.cleanup()


@dataclass(frozen=True)
class RedisServer:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free loopback port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed: run 'make system-deps' (apt-get install redis-server)"
        )
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                break
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("redis-server did not start")
        time.sleep(0.05)
    try:
        yield RedisServer(port, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _postgres_bindir() -> Path | None:
    """Debian's PostgreSQL server binaries (newest installed major version), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass(frozen=True)
class PostgresServer:
    """A throw-away PostgreSQL server on 127.0.0.1 with trust authentication."""

    port: int
    user: str
    datadir: Path
    _databases: list[str] = field(default_factory=list)

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname=dbname, autocommit=True
        )

    def query(self, sql: str, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn:
            return list(conn.execute(sql).fetchall())

    def create_database(self) -> str:
        """A new, empty database with a unique name."""
        name = f"test_{len(self._databases)}_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        return name

    def databases_setting(self, name: str, **options: Any) -> dict[str, dict[str, Any]]:
        """A ``DATABASES`` setting whose ``default`` is database ``name`` on this server."""
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name,
                "USER": self.user,
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                **options,
            }
        }


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's ``postgresql`` package) for the whole session.

    ``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user,
    in a directory of its own under the system's temporary directory.
    """
    bindir = _postgres_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL server binaries are not installed: run 'make system-deps' "
            "(apt-get install postgresql)"
        )
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="prodserver-pg-"))
    user = getpass.getuser()
    if os.geteuid() == 0:
        as_user, user = ["runuser", "-u", "postgres", "--"], "postgres"
        shutil.chown(workdir, user="postgres")
    datadir = workdir / "data"
    port = free_port()

    def run(*argv: str) -> None:
        subprocess.run([*as_user, *argv], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(datadir), "-U", user, "-A", "trust", "--no-sync")
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c max_connections=300 -c full_page_writes=off"
    )
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(datadir),
        "-o",
        options,
        "-l",
        str(workdir / "server.log"),
        "-w",
        "start",
    )
    try:
        yield PostgresServer(port, user, datadir)
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> dict[str, dict[str, Any]]:
    """A fresh database on the session's PostgreSQL server, as a ``DATABASES`` setting."""
    return postgres_server.databases_setting(postgres_server.create_database())


@contextlib.contextmanager
def built_once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A directory for ``name`` shared by every xdist worker of this run, built by the first.

    Yields ``(directory, built)``: when ``built`` is False the caller fills the directory,
    holding a lock the other workers wait on. Outside xdist the directory is this session's.
    """
    import fcntl

    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield tmp_path_factory.mktemp(name), False
        return
    root = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    root.mkdir(exist_ok=True)
    with (root.parent / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / ".built"
        yield root, done.exists()
        done.touch()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout, as users install it, built from a copy (no build/ files here)."""
    with built_once(tmp_path_factory, "wheel") as (out, built):
        if not built:
            source = out / "source"
            source.mkdir()
            for path in ROOT.iterdir():
                if path.is_file() and path.name in (
                    "pyproject.toml",
                    "README.md",
                    "LICENSE",
                    "CHANGELOG.md",
                ):
                    shutil.copy(path, source / path.name)
            shutil.copytree(
                ROOT / "src",
                source / "src",
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
            )
            result = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), "."],
                cwd=source,
                capture_output=True,
                text=True,
                timeout=170,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        (built_wheel,) = out.glob("django_prodserver-*.whl")
        return built_wheel


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, project: Project) -> str:
    """Run the test once on the project's SQLite file and once on a fresh PostgreSQL database.

    The settings the test writes then use that database; ``project.query`` reads it.
    """
    if request.param == "postgresql":
        project.databases = request.getfixturevalue("postgres_db")
    return str(request.param)


@dataclass(frozen=True)
class DocsBuild:
    returncode: int
    output: str
    outdir: Path

    def page(self, name: str) -> str:
        return (self.outdir / name).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> DocsBuild:
    """Build the HTML docs once per test run, into a private directory, with the CI flags."""
    with built_once(tmp_path_factory, "docs") as (root, built):
        outdir, report = root / "html", root / "report.json"
        if not built:
            result = subprocess.run(
                [
                    *(sys.executable, "-m", "sphinx", "-W", "-n", "--keep-going", "-b", "html"),
                    *("-d", str(root / "doctrees"), str(ROOT / "docs"), str(outdir)),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
            )
            report.write_text(json.dumps([result.returncode, result.stdout + result.stderr]))
        returncode, output = json.loads(report.read_text())
        return DocsBuild(returncode, output, outdir)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs the example project in a subprocess (``project`` fixture).

    ``make test-fast`` leaves those out, with the ``server`` and ``slow`` ones.
    """
    for item in items:
        if "project" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.subprocess)
