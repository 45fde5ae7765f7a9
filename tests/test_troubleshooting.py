"""Every entry of docs/troubleshooting.md, reproduced: the page quotes only real output.

The page is the input. An entry is a label ``(ts-NAME)=`` followed by a heading that names the
symptom; the ``code`` spans of the heading and of a paragraph that opens the entry are texts a
user sees, and the entry's first ```` ```text ```` block is an excerpt of that output. For each
entry a reproducer below triggers the failure for real: the example project in a subprocess,
real servers on free 127.0.0.1 ports, a real redis-server, a real missing package (a
``site-packages`` without it). The test then finds every quoted text, verbatim, and every line
of the excerpt (digits aside: timestamps, PIDs) in the output. The free port a test uses is
shown as the port the page shows (8000, 6379), since that is what the user configured.

An entry without a reproducer fails; a reproducer that cannot run here skips with its reason.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import (
    MANAGE_PY,
    ROOT,
    Project,
    free_port,
    kill_tree,
    wait_for_http,
)

pytestmark = pytest.mark.server

PAGE = ROOT / "docs" / "troubleshooting.md"
BIN = Path(sys.executable).parent
GUNICORN = "django_prodserver.backends.gunicorn.GunicornServer"
UVICORN = "django_prodserver.backends.uvicorn.UvicornServer"
GRANIAN = "django_prodserver.backends.granian.GranianASGIServer"
WAITRESS = "django_prodserver.backends.waitress.WaitressServer"
CELERY_WORKER = "django_prodserver.backends.celery.CeleryWorker"
CELERY_BEAT = "django_prodserver.backends.celery.CeleryBeat"
DJANGO_Q2 = "django_prodserver.backends.django_q2.DjangoQ2Worker"


# -- reading the page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    label: str
    heading: str
    quotes: tuple[str, ...]
    excerpt: tuple[str, ...]
    body: str


ENTRY_START = re.compile(r"^\((ts-[a-z0-9-]+)\)=\n#{2,4} (.+)$", re.MULTILINE)
ANY_HEADING = re.compile(r"^#{1,6} ", re.MULTILINE)
TEXT_FENCE = re.compile(r"^```text\n(.*?)^```", re.MULTILINE | re.DOTALL)


def read_entries(text: str) -> list[Entry]:
    """Every ``(ts-...)=`` entry of the page, with its quoted texts and excerpt."""
    entries = []
    for match in ENTRY_START.finditer(text):
        rest = text[match.end() :]
        next_heading = ANY_HEADING.search(rest)
        body = rest[: next_heading.start()] if next_heading else rest
        # The label of the next entry sits right above its heading: not part of this body.
        body = re.sub(r"^\(ts-[a-z0-9-]+\)=\n*\Z", "", body, flags=re.MULTILINE)
        fence = TEXT_FENCE.search(body)
        excerpt = fence.group(1).splitlines() if fence else []
        # A paragraph before the excerpt (or before the cause) quotes what the user sees.
        opening = body.lstrip("\n").split("\n\n", 1)[0]
        if opening.startswith(("```", "**Cause.**")):
            opening = ""
        entries.append(
            Entry(
                label=match.group(1),
                heading=match.group(2),
                quotes=tuple(re.findall(r"(?<![`}])`([^`]+)`", match.group(2) + "\n" + opening)),
                excerpt=tuple(line.strip() for line in excerpt if line.strip()),
                body=body,
            )
        )
    return entries


def python_block_after(text: str, label: str) -> str:
    """The first ```python block after ``(label)=``: code the page tells users to add."""
    start = text.index(f"({label})=")
    match = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL).search(text, start)
    assert match, f"no python block after ({label})= in {PAGE.name}"
    return match.group(1)


PAGE_TEXT = PAGE.read_text() if PAGE.exists() else ""
ENTRIES = read_entries(PAGE_TEXT)


# -- running things ------------------------------------------------------------------------


def completed(project: Project, *args: str) -> str:
    """Run ``manage.py ARGS`` to the end; return what it printed."""
    result = project.manage(*args)
    return result.stdout + result.stderr


def start(
    project: Project, argv: list[str], env: dict[str, str | None] | None = None
) -> subprocess.Popen[str]:
    """Start any command in the project's directory and environment, logged like Project.start.

    ``env`` changes the environment: a value of None removes the variable.
    """
    return project.start_command(argv, env)


def manage_py(*args: str) -> list[str]:
    return [sys.executable, str(MANAGE_PY), *args]


def wait_for_text(
    project: Project, proc: subprocess.Popen[str], text: str, timeout: float = 60
) -> str:
    """Wait until ``text`` shows in the process's output (or it exits); return the output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = project.output(proc)
        if text in output or proc.poll() is not None:
            return output
        time.sleep(0.1)
    return project.output(proc)


def stop(project: Project, proc: subprocess.Popen[str]) -> str:
    """Stop the process (SIGTERM, then kill if it lingers); return everything it printed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait(timeout=10)
    return project.output(proc)


def run_until(project: Project, argv: list[str], text: str, timeout: float = 60, **kw: Any) -> str:
    """Start ``argv``, wait for ``text`` in its output, stop it; return the whole output."""
    proc = start(project, argv, **kw)
    wait_for_text(project, proc, text, timeout)
    return stop(project, proc)


def fetch(
    url: str, headers: dict[str, str] | None = None, data: bytes | None = None
) -> tuple[int, str]:
    """One HTTP request with the given headers (and body: a POST); return (status, body)."""
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


@contextlib.contextmanager
def serving(
    project: Project, port: int, argv: list[str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run ``prodserver web`` (or ``argv``) until it answers on ``port``; stop it afterwards."""
    proc = start(project, argv or manage_py("prodserver", "web"))
    wait_for_http(f"http://127.0.0.1:{port}/pid/", proc)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(project, proc)


def shown_as(output: str, port: int, shown: str = "8000") -> str:
    """The output with the test's free port written as the port the page shows."""
    return output.replace(str(port), shown)


def web(project: Project, backend: str, args: dict[str, Any] | None = None, **values: Any) -> int:
    """Configure process "web" with ``backend`` on a free port; return the port."""
    port = free_port()
    address = (
        {"bind": f"127.0.0.1:{port}"}
        if backend == GUNICORN
        else {"listen": f"127.0.0.1:{port}"}
        if backend == WAITRESS
        else {"host": "127.0.0.1", "port": port}
    )
    extra = values.pop("extra", "")
    project.use_settings(
        {"web": {"BACKEND": backend, "ARGS": {**address, **(args or {})}}}, extra=extra, **values
    )
    return port


def site_without(project: Project, *hidden: str) -> Path:
    """A copy (symlinks) of this environment's site-packages without the ``hidden`` packages.

    Running ``python -S`` with only this directory on the path is the environment of a user
    who never installed them: imports fail exactly as they would for that user.
    """
    site = Path(sysconfig.get_paths()["purelib"])
    shadow = project.tmp_path / ("site-without-" + "-".join(hidden))
    if shadow.exists():
        return shadow
    shadow.mkdir()
    for entry in site.iterdir():
        distribution = entry.name.split("-")[0].lower()
        if entry.suffix == ".pth" or entry.name in hidden or distribution in hidden:
            continue
        (shadow / entry.name).symlink_to(entry)
    return shadow


def manage_without(project: Project, hidden: tuple[str, ...], *args: str) -> str:
    """Run ``manage.py ARGS`` where the ``hidden`` packages are not installed."""
    paths = [str(project.tmp_path), str(site_without(project, *hidden))]
    if "django_prodserver" not in hidden:
        paths.append(str(ROOT / "src"))
    result = subprocess.run(
        [sys.executable, "-S", str(MANAGE_PY), *args],
        cwd=project.tmp_path,
        env={**project.env, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return result.stdout + result.stderr


# -- reproducers: one per entry ------------------------------------------------------------

Reproducer = Callable[[Project, pytest.FixtureRequest], str]
REPRODUCERS: dict[str, Reproducer] = {}


def reproduces(label: str) -> Callable[[Reproducer], Reproducer]:
    def register(function: Reproducer) -> Reproducer:
        assert label not in REPRODUCERS, f"two reproducers for {label}"
        REPRODUCERS[label] = function
        return function

    return register


# Server won't start


@reproduces("ts-unknown-command")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(
        extra='INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_prodserver"]'
    )
    return completed(project, "prodserver", "web")


@reproduces("ts-setting-not-defined")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(extra="del PRODUCTION_PROCESSES")
    return completed(project, "prodserver", "web")


@reproduces("ts-unknown-process")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "ARGS": {"bind": "0.0.0.0:8000"}}})
    return completed(project, "prodserver", "worker")


@reproduces("ts-server-args-without-dashes")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "ARGS": {"bind": "0.0.0.0:8000"}}})
    return completed(project, "prodserver", "web", "--workers=8")


# ImportError for missing backend dependencies


@reproduces("ts-package-not-installed")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "ARGS": {"bind": "0.0.0.0:8000"}}})
    return manage_without(project, ("gunicorn",), "prodserver", "web") + manage_without(
        project, ("gunicorn",), "check"
    )


@reproduces("ts-prodserver-not-installed")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings()
    return manage_without(project, ("django_prodserver",), "prodserver", "web")


@reproduces("ts-blessed")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings()
    project.migrate()
    return manage_without(project, ("blessed",), "qmonitor", "--run-once")


# Configuration validation errors


@reproduces("ts-backend-not-importable")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(
        {
            "web": {
                "BACKEND": "django_prodserver.backends.gunicorn.Gunicorn",
                "ARGS": {"bind": "0.0.0.0:8000"},
            }
        }
    )
    return completed(project, "prodserver", "web")


@reproduces("ts-plugin-backend")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    # An installed distribution (its metadata on the path) whose entry point names a module
    # that is not there, as a half-installed or broken plugin package leaves it.
    dist_info = project.tmp_path / "prodserver_fastserve-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: prodserver-fastserve\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[django_prodserver.backends]\nfastserve = prodserver_fastserve:FastServer\n"
    )
    project.use_settings({"web": {"BACKEND": "fastserve", "ARGS": {"port": 8000}}})
    return completed(project, "prodserver", "web")


@reproduces("ts-platform-variable")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN}})
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "prodserver", "web"],
        cwd=project.tmp_path,
        env={**project.env, "PORT": "${PORT}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout + result.stderr


@reproduces("ts-warmup-failed")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "WARMUP": ["/", "/db/"]}})
    return completed(project, "prodserver", "web")  # never migrated: no tables


@reproduces("ts-args-rejected-gunicorn")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(
        {"web": {"BACKEND": GUNICORN, "ARGS": {"bind": "0.0.0.0:8000", "keepalive": 5}}}
    )
    return completed(project, "prodserver", "web")


@reproduces("ts-args-rejected-uvicorn")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": UVICORN, "ARGS": {"bind": "0.0.0.0:8000"}}})
    return completed(project, "prodserver", "web")


@reproduces("ts-args-not-a-dict")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "ARGS": "--bind=0.0.0.0:8000 --workers=4"}})
    return completed(project, "prodserver", "web")


@reproduces("ts-unknown-key")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"web": {"BACKEND": GUNICORN, "WORKERS": 4}})
    return completed(project, "prodserver", "web")


@reproduces("ts-celery-needs-app")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"worker": {"BACKEND": CELERY_WORKER, "ARGS": {"loglevel": "info"}}})
    return completed(project, "prodserver", "worker")


@reproduces("ts-celery-app-is-a-module")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings({"worker": {"BACKEND": CELERY_WORKER, "APP": "mysite.celery"}})
    return completed(project, "prodserver", "worker")


@reproduces("ts-debug-on")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, GUNICORN, DEBUG=True)
    with serving(project, port) as (url, proc):
        status, _ = fetch(f"{url}/")
        assert status == 200, "the page says the process starts and serves all the same"
    output = shown_as(project.output(proc), port)
    # The page shows the settings module a user has, not the test's own.
    output = output.replace(f"(settings {project.settings_module})", "(settings mysite.settings)")
    # And Django's deployment checks report DEBUG, as the fix says.
    checks = completed(project, "check", "--deploy")
    assert "(security.W018)" in checks, checks
    return output + checks


def with_static_file(project: Project) -> str:
    """A project stylesheet, ``static/css/site.css``; return the setting that finds it."""
    css = project.tmp_path / "static" / "css" / "site.css"
    css.parent.mkdir(parents=True, exist_ok=True)
    css.write_text("body { font-family: sans-serif; }\n")
    return f"STATICFILES_DIRS = [{str(css.parent.parent)!r}]\n"


@reproduces("ts-static-root")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(extra=with_static_file(project))
    return completed(project, "collectstatic", "--noinput")


# Port binding and permission issues


@contextlib.contextmanager
def port_taken() -> Iterator[int]:
    """A free port that something else (a listening socket) then holds."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@reproduces("ts-address-in-use")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    output = ""
    with port_taken() as port:
        for backend in (GUNICORN, UVICORN):
            address = (
                {"bind": f"127.0.0.1:{port}"}
                if backend == GUNICORN
                else {"host": "127.0.0.1", "port": port}
            )
            project.use_settings({"web": {"BACKEND": backend, "ARGS": address}})
            output += completed(project, "prodserver", "web")
    return shown_as(output, port)


@reproduces("ts-permission-denied")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    unprivileged = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    if unprivileged.exists() and int(unprivileged.read_text()) <= 80:
        pytest.skip("this kernel lets every user bind port 80 (ip_unprivileged_port_start)")
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root may bind port 80: drop exactly that capability, as an ordinary user lacks it.
        prefix = ["setpriv", "--inh-caps=-net_bind_service", "--bounding-set=-net_bind_service"]
    output = ""
    for backend, address in (
        (GUNICORN, {"bind": "127.0.0.1:80"}),
        (UVICORN, {"host": "127.0.0.1", "port": 80}),
    ):
        project.use_settings({"web": {"BACKEND": backend, "ARGS": address}})
        result = subprocess.run(
            [*prefix, *manage_py("prodserver", "web")],
            cwd=project.tmp_path,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        output += result.stdout + result.stderr
    return output


# Process management and signal handling


@reproduces("ts-docker-exit-137")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    pytest.skip(
        "needs a Docker engine: `Exited (137)` is Docker's report of the SIGKILL it sends when "
        "PID 1 ignored SIGTERM for the stop timeout. The cause (a shell as PID 1 drops SIGTERM, "
        "the exec form does not) is tested without Docker by "
        "test_only_the_exec_form_lets_pid_1_get_sigterm"
    )


@reproduces("ts-worker-sigkill")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, GUNICORN, {"workers": 1})
    with serving(project, port) as (_, proc):
        worker = psutil.Process(proc.pid).children()[0]
        worker.kill()
        wait_for_text(project, proc, "Perhaps out of memory?", timeout=30)
    return project.output(proc)


@reproduces("ts-two-beats")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    redis = request.getfixturevalue("redis_server")
    runs = project.tmp_path / "runs.txt"
    schedule = {
        "count-runs": {
            "task": "mysite.celery_tasks.append_line",
            "schedule": 1.0,
            "args": [str(runs), "ran"],
        }
    }
    processes = {
        f"beat{n}": {
            "BACKEND": CELERY_BEAT,
            "APP": "mysite.celery.app",
            "ARGS": {"loglevel": "info", "schedule": str(project.tmp_path / f"schedule{n}")},
        }
        for n in (1, 2)
    }
    project.use_settings(processes, CELERY_BROKER_URL=redis.url, CELERY_BEAT_SCHEDULE=schedule)
    beats = [start(project, manage_py("prodserver", name)) for name in processes]
    for beat in beats:
        wait_for_text(project, beat, "Sending due task count-runs", timeout=60)
    outputs = [stop(project, beat) for beat in beats]
    for output in outputs:
        assert "Sending due task count-runs" in output, output
    return "\n".join(outputs).replace(str(project.tmp_path), "/var/lib/mysite")


@reproduces("ts-db-worker-reload")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings(DEBUG=True)
    project.migrate()
    done = project.tmp_path / "done.txt"
    code = "from mysite.tasks import write_file_task\n"
    code += f"write_file_task.enqueue({str(done)!r}, seconds=3)"
    project.manage("shell", "--verbosity=0", "--command", code, check=True)
    proc = start(project, manage_py("db_worker"))  # the native command, DEBUG on
    deadline = time.monotonic() + 60
    while not Path(f"{done}.started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, project.output(proc)
        time.sleep(0.05)
    output = stop(project, proc)
    # What the page says: under the reloader the running task is cut off and stays RUNNING.
    time.sleep(4)
    assert not done.exists(), "the task finished after all"
    with sqlite3.connect(project.tmp_path / "db.sqlite3", timeout=10) as db:
        (status,) = db.execute("SELECT status FROM django_tasks_database_dbtaskresult").fetchone()
    assert status == "RUNNING"
    return output


@reproduces("ts-control-socket")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    # A home directory the user cannot create: its parent is read-only (mode 0555).
    homes = project.tmp_path / "home"
    homes.mkdir()
    homes.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root ignores file modes: drop the capabilities that allow it (ordinary users lack them).
        caps = "-dac_override,-dac_read_search,-fowner"
        prefix = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}"]
    port = web(project, GUNICORN)
    env = {"HOME": str(homes / "app"), "XDG_RUNTIME_DIR": None}
    proc = start(project, [*prefix, *manage_py("prodserver", "web")], env=env)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/pid/", proc)  # it keeps serving
        wait_for_text(project, proc, "Control server error")
    finally:
        output = stop(project, proc)
        homes.chmod(0o755)
    return output.replace(str(homes), "/home")


# Performance


@reproduces("ts-worker-timeout")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, GUNICORN, {"workers": 1, "timeout": 2})
    with serving(project, port) as (url, proc):
        status, _ = fetch(f"{url}/slow/?seconds=6")
        assert status == 500
        wait_for_text(project, proc, "WORKER TIMEOUT")
    return project.output(proc)


@reproduces("ts-uvicorn-reload-workers")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, UVICORN, {"reload": True, "workers": 4})
    with serving(project, port) as (_, proc):
        pass
    return project.output(proc)


@reproduces("ts-q2-retry-timeout")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    cluster = {"name": "mysite", "orm": "default", "workers": 2, "timeout": 120, "retry": 60}
    project.use_settings({"worker": {"BACKEND": DJANGO_Q2}}, Q_CLUSTER=cluster)
    project.migrate()
    return run_until(project, manage_py("prodserver", "worker"), "running.", timeout=60)


# Requests that fail once deployed


def logging_setting() -> str:
    return python_block_after(PAGE_TEXT, "troubleshooting-logging")


@reproduces("ts-allowed-hosts")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, GUNICORN, extra=logging_setting())
    with serving(project, port) as (url, proc):
        status, body = fetch(f"{url}/", headers={"Host": "www.example.com"})
        assert status == 400
    return body + project.output(proc)


@reproduces("ts-static-404")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, GUNICORN, extra=logging_setting() + with_static_file(project))
    with serving(project, port) as (url, proc):
        status, body = fetch(f"{url}/static/css/site.css")
        assert status == 404
    return body + project.output(proc)


@reproduces("ts-csrf-origin")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(
        project,
        GUNICORN,
        extra=logging_setting()
        + 'MIDDLEWARE += ["django.middleware.csrf.CsrfViewMiddleware"]\n'
        + 'ALLOWED_HOSTS += ["www.example.com"]',
    )
    with serving(project, port) as (url, proc):
        # What a TLS-terminating proxy forwards: the browser's https Origin, over plain http.
        headers = {"Host": "www.example.com", "Origin": "https://www.example.com"}
        status, body = fetch(f"{url}/", headers=headers, data=b"comment=hello")
        assert status == 403
    output = body + project.output(proc)
    # The fix the page gives, with the proxy's header and a valid CSRF token: accepted.
    fix = python_block_after(PAGE_TEXT, "ts-csrf-origin")
    project.use_settings(
        {"web": {"BACKEND": GUNICORN, "ARGS": {"bind": f"127.0.0.1:{port}"}}},
        extra=f"{fix}\nMIDDLEWARE += ['django.middleware.csrf.CsrfViewMiddleware']\n"
        'ALLOWED_HOSTS += ["www.example.com"]',
    )
    token = "a" * 32  # an unmasked CSRF secret: valid as both cookie and header
    forwarded = {**headers, "X-Forwarded-Proto": "https", "X-CSRFToken": token}
    forwarded["Cookie"] = f"csrftoken={token}"
    with serving(project, port) as (url, _):
        status, _ = fetch(f"{url}/", headers=forwarded, data=b"comment=hello")
        assert status == 200, "the documented fix did not let the forwarded request through"
    return output


# Backend-specific


@reproduces("ts-asgi-lifespan")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    output = ""
    port = web(project, UVICORN, {"lifespan": "on"})
    output += shown_as(completed(project, "prodserver", "web"), port)
    # Natively, with Uvicorn's default --lifespan=auto and with Granian's --interface=asgi.
    port = free_port()
    argv = [str(BIN / "uvicorn"), "mysite.asgi:application", "--port", str(port)]
    with serving(project, port, argv) as (_, proc):
        pass
    output += shown_as(project.output(proc), port)
    port = free_port()
    argv = [str(BIN / "granian"), "--interface", "asgi", "--port", str(port)]
    with serving(project, port, [*argv, "mysite.asgi:application"]) as (_, proc):
        pass
    return output + shown_as(project.output(proc), port)


@reproduces("ts-granian-rsgi")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    project.use_settings()
    output = ""
    for target in ("mysite.asgi:application", "mysite.wsgi:application"):
        port = free_port()
        argv = [str(BIN / "granian"), "--port", str(port), target]
        with serving(project, port, argv) as (url, proc):
            status, _ = fetch(f"{url}/")
            assert status == 500
            wait_for_text(project, proc, "Application callable raised an exception")
        output += shown_as(project.output(proc), port)
    return output


@reproduces("ts-granian-blocking-threads")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    web(project, GRANIAN, {"blocking_threads": 4})
    result = project.manage("prodserver", "web")
    assert result.returncode == 1, "the page says prodserver exits with status 1 here"
    return result.stdout + result.stderr


@reproduces("ts-granian-threads")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = web(project, "django_prodserver.backends.granian.GranianWSGIServer")
    with serving(project, port) as (_, proc):
        pass
    return project.output(proc)


@reproduces("ts-celery-broker-down")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = free_port()  # nothing listens there: a broker that is down
    project.use_settings(
        {"worker": {"BACKEND": CELERY_WORKER, "APP": "mysite.celery.app"}},
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0",
    )
    output = run_until(project, manage_py("prodserver", "worker"), "Trying again", timeout=60)
    return shown_as(output, port, "6379")


@reproduces("ts-celery-root")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    if os.geteuid() != 0:
        pytest.skip("Celery prints this warning only to root; the tests do not run as root")
    redis = request.getfixturevalue("redis_server")
    project.use_settings(
        {"worker": {"BACKEND": CELERY_WORKER, "APP": "mysite.celery.app"}},
        CELERY_BROKER_URL=redis.url,
    )
    return run_until(project, manage_py("prodserver", "worker"), "[queues]", timeout=60)


@reproduces("ts-q2-redis")
def _(project: Project, request: pytest.FixtureRequest) -> str:
    port = free_port()  # no Redis there
    cluster = {"name": "mysite", "workers": 2, "timeout": 60, "retry": 120}
    cluster["redis"] = {"host": "127.0.0.1", "port": port}  # type: ignore[assignment]
    project.use_settings({"worker": {"BACKEND": DJANGO_Q2}}, Q_CLUSTER=cluster)
    project.migrate()
    return run_until(
        project, manage_py("prodserver", "worker"), "Can not connect to Redis", timeout=90
    )


# -- the tests -----------------------------------------------------------------------------


def comparable(text: str) -> str:
    """Text with every run of digits made equal: timestamps, PIDs and counters vary per run."""
    return re.sub(r"\d+", "0", text)


def test_the_page_has_the_entries_the_docs_promise() -> None:
    assert PAGE.exists(), f"{PAGE} is missing"
    assert len(ENTRIES) >= 18, f"only {len(ENTRIES)} entries in {PAGE.name}"
    labels = [entry.label for entry in ENTRIES]
    assert len(labels) == len(set(labels)), "an entry label is used twice"
    for entry in ENTRIES:
        assert entry.quotes or entry.excerpt, f"({entry.label}) quotes no output"
        assert "**Cause.**" in entry.body, f"({entry.label}) has no **Cause.**"
        assert "**Fix.**" in entry.body, f"({entry.label}) has no **Fix.**"


def test_every_reproducer_belongs_to_an_entry() -> None:
    stale = set(REPRODUCERS) - {entry.label for entry in ENTRIES}
    assert not stale, f"reproducers for entries that are not on the page: {sorted(stale)}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.label for entry in ENTRIES])
def test_entry_text_appears_in_real_output(
    entry: Entry, project: Project, request: pytest.FixtureRequest
) -> None:
    reproducer = REPRODUCERS.get(entry.label)
    assert reproducer is not None, (
        f"({entry.label}) {entry.heading!r} has no reproducer: add one to {Path(__file__).name}"
    )
    output = reproducer(project, request)
    for quote in entry.quotes:
        assert quote in output, f"({entry.label}) {quote!r} is not in the output:\n{output}"
    for line in entry.excerpt:
        assert comparable(line) in comparable(output), (
            f"({entry.label}) excerpt line {line!r} is not in the output:\n{output}"
        )


def new_pid_namespace_works() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    result = subprocess.run([unshare, "--pid", "--fork", "true"], capture_output=True)
    return result.returncode == 0


@pytest.mark.parametrize("form", ["exec", "shell"])
def test_only_the_exec_form_lets_pid_1_get_sigterm(project: Project, form: str) -> None:
    """The cause behind (ts-docker-exit-137), shown without Docker.

    A new PID namespace makes the command PID 1, as in a container. With Docker's shell form
    (``sh -c "..."``) PID 1 is the shell, which has no SIGTERM handler, so the kernel drops the
    signal and the server keeps running (Docker would SIGKILL it later: 137). With the exec
    form PID 1 is Python, and the server stops gracefully.
    """
    if not new_pid_namespace_works():
        pytest.skip("unshare --pid is not permitted here (it needs root or user namespaces)")
    port = web(project, GUNICORN)
    command = manage_py("prodserver", "web")
    if form == "shell":
        command = ["sh", "-c", shlex.join(command)]
    proc = start(project, ["unshare", "--pid", "--fork", "--kill-child", *command])
    wait_for_http(f"http://127.0.0.1:{port}/pid/", proc)
    (pid_1,) = psutil.Process(proc.pid).children()
    assert pid_1.name() == ("sh" if form == "shell" else Path(sys.executable).name)
    pid_1.send_signal(signal.SIGTERM)
    if form == "exec":
        pid_1.wait(timeout=30)
        assert "Handling signal: term" in project.output(proc)
    else:
        with pytest.raises(psutil.TimeoutExpired):
            pid_1.wait(timeout=5)
        assert "Handling signal: term" not in project.output(proc)
