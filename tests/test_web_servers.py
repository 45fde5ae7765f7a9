"""The six web-server backends, started for real through ``manage.py prodserver NAME``.

Every test runs the example project in a subprocess on a free loopback port and talks HTTP to
it. Worker counts are proven by the distinct process ids that answer ``/pid/``; Waitress's
thread count by a view that only returns once N requests are inside Django at the same time.
Graceful stops are proven with ``/slow/`` in flight: a middleware marks when the request has
reached Django, the test then sends the signal and expects the full response, the documented
exit status and no surviving process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from conftest import MANAGE_PY, Project, descendants, free_port, http_get, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.timeout(90)]

INDEX_BODY = "Hello from django-prodserver\n"
SLOW_SECONDS = 2


@dataclass(frozen=True)
class Backend:
    """One web-server backend and how to give it an address and a concurrency."""

    id: str
    path: str
    #: ARGS that make it listen on 127.0.0.1:port.
    address: Callable[[int], dict[str, Any]]
    #: The option that sets how many requests run at once: processes, or Waitress's threads.
    concurrency: str = "workers"
    #: Single-process Uvicorn re-raises SIGTERM after its graceful shutdown.
    reraises_sigterm_alone: bool = False
    #: ARGS every test adds (after the address, before its own).
    always: dict[str, Any] = field(default_factory=dict)

    def args(self, port: int, **more: Any) -> dict[str, Any]:
        """ARGS listening on 127.0.0.1:port, plus ``more``."""
        return {**self.address(port), **self.always, **more}

    def __str__(self) -> str:
        return self.id


def _host_port(port: int) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port}


GUNICORN = Backend(
    "gunicorn",
    "django_prodserver.backends.gunicorn.GunicornServer",
    lambda port: {"bind": f"127.0.0.1:{port}"},
)
WAITRESS = Backend(
    "waitress",
    "django_prodserver.backends.waitress.WaitressServer",
    lambda port: {"listen": f"127.0.0.1:{port}"},
    concurrency="threads",
)
UVICORN = Backend(
    "uvicorn",
    "django_prodserver.backends.uvicorn.UvicornServer",
    _host_port,
    reraises_sigterm_alone=True,
)
UVICORN_WSGI = Backend(
    "uvicorn-wsgi",
    "django_prodserver.backends.uvicorn.UvicornWSGIServer",
    _host_port,
    reraises_sigterm_alone=True,
)
# Granian waits forever for a worker that fails to stop: a WSGI worker hit by Ctrl+C (SIGINT
# to the process group) hangs in most runs, natively too, and under heavy load an ASGI worker
# has hung after SIGTERM once. Its own --workers-kill-timeout bounds the wait (the worker has
# finished its requests by then), so every Granian process here sets it.
GRANIAN_KILL_TIMEOUT = {"workers_kill_timeout": 10}
GRANIAN = Backend(
    "granian",
    "django_prodserver.backends.granian.GranianASGIServer",
    _host_port,
    always=GRANIAN_KILL_TIMEOUT,
)
GRANIAN_WSGI = Backend(
    "granian-wsgi",
    "django_prodserver.backends.granian.GranianWSGIServer",
    _host_port,
    always=GRANIAN_KILL_TIMEOUT,
)
ALL = [GUNICORN, WAITRESS, UVICORN, UVICORN_WSGI, GRANIAN, GRANIAN_WSGI]
PROCESS_POOLS = [b for b in ALL if b.concurrency == "workers"]

#: --dry-run for ARGS {address, concurrency: N} (Waitress: threads=THREADS), with PORT and N.
EXPECTED_COMMANDS = {
    "gunicorn": "gunicorn mysite.wsgi:application --bind=127.0.0.1:{port} --workers={n}",
    "waitress": "waitress-serve --listen=127.0.0.1:{port} --threads={n} mysite.wsgi:application",
    "uvicorn": "uvicorn mysite.asgi:application --lifespan=off --host=127.0.0.1 --port={port} "
    "--workers={n}",
    "uvicorn-wsgi": "uvicorn django_prodserver.wsgi_as_asgi:application --lifespan=off "
    "--host=127.0.0.1 --port={port} --workers={n}",
    "granian": "granian --interface=asginl --host=127.0.0.1 --port={port} "
    "--workers-kill-timeout=10 --workers={n} mysite.asgi:application",
    "granian-wsgi": "granian --interface=wsgi --host=127.0.0.1 --port={port} "
    "--workers-kill-timeout=10 --workers={n} mysite.wsgi:application",
}

#: Waitress's default is 4 threads; 6 requests inside Django at once need more.
THREADS = 6

# -- modules the tests put on PYTHONPATH (the project's tmp_path) ------------------------

INFLIGHT_MODULE = '''
"""Touch settings.TEST_INFLIGHT_MARKER when /slow/ reaches Django: the request is in flight."""
from pathlib import Path

from django.conf import settings


def mark_inflight(get_response):
    def middleware(request):
        if request.path == "/slow/":
            Path(settings.TEST_INFLIGHT_MARKER).touch()
        return get_response(request)

    return middleware
'''

TOGETHER_URLS = f'''
"""The example's URLs plus /together/, which answers only when {THREADS} requests meet in it."""
import threading

from django.http import HttpResponse
from django.urls import include, path

_barrier = threading.Barrier({THREADS}, timeout=15)


def together(request):
    _barrier.wait()  # BrokenBarrierError (a 500) unless {THREADS} requests run at once
    return HttpResponse("together\\n", content_type="text/plain")


urlpatterns = [path("together/", together), path("", include("mysite.urls"))]
'''

TAGGED_WSGI = '''
"""Django's WSGI application, adding a response header that proves this module served."""
from mysite.wsgi import application as django_application


def application(environ, start_response):
    def tagging_start_response(status, headers, exc_info=None):
        return start_response(status, [*headers, ("X-Served-By", "tagged-wsgi")], exc_info)

    return django_application(environ, tagging_start_response)
'''

TAGGED_ASGI = '''
"""Django's ASGI application, adding a response header that proves this module served."""
from mysite.asgi import application as django_application


async def application(scope, receive, send):
    async def tagging_send(message):
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", []), (b"x-served-by", b"tagged-asgi")]
            message = {**message, "headers": headers}
        await send(message)

    await django_application(scope, receive, tagging_send)
'''

# -- helpers ---------------------------------------------------------------------------


def settings_for(project: Project, backend: Backend, args: dict[str, Any], **more: Any) -> None:
    """Write settings with one process "web" using ``backend`` and ``args``."""
    process: dict[str, Any] = {"BACKEND": backend.path, "ARGS": args}
    if "app" in more:
        process["APP"] = more.pop("app")
    project.use_settings({"web": process}, **more)


def start(project: Project, *args: str, port: int) -> subprocess.Popen[str]:
    """``manage.py prodserver web ARGS`` until ``/`` on ``port`` answers 200."""
    proc = project.start("prodserver", "web", *args)
    try:
        status = wait_for_http(f"http://127.0.0.1:{port}/", proc)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- output:\n{project.output(proc)}") from None
    assert status == 200, project.output(proc)
    return proc


def start_line(project: Project, proc: subprocess.Popen[str]) -> str:
    """The command line from ``prodserver: starting "web": ...``."""
    match = re.search(r'^prodserver: starting "web": (.*)$', project.output(proc), re.M)
    assert match, project.output(proc)
    return match.group(1)


def dry_run(project: Project, *args: str) -> str:
    """What ``manage.py prodserver web --dry-run ARGS`` prints."""
    result = project.manage("prodserver", "web", "--dry-run", *args, check=True)
    return result.stdout.strip()


def get(url: str, timeout: float = 15) -> tuple[int, dict[str, str], str]:
    """GET ``url``: status, headers (lower-case names) and body."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        headers = {k.lower(): v for k, v in exc.headers.items()}
        return exc.code, headers, exc.read().decode(errors="replace")


def serving_pids(port: int, expected: int, timeout: float = 45) -> set[int]:
    """Process ids answering ``/pid/``, polled in concurrent bursts until ``expected`` appear.

    Workers boot one after another and the first answers before the last is up, so a single
    burst could undercount; a deadline (not a count of tries) bounds the wait.
    """
    url = f"http://127.0.0.1:{port}/pid/"

    def one(_: int) -> int:
        return int(json.loads(http_get(url)[1])["pid"])

    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(seen) < expected and time.monotonic() < deadline:
            seen.update(pool.map(one, range(16)))
            if len(seen) < expected:
                time.sleep(0.1)
        # One more burst: more workers than configured would show up here.
        seen.update(pool.map(one, range(16)))
    return seen


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """TCP addresses that ``pid`` or any of its descendants listens on."""
    found = set()
    for proc in [psutil.Process(pid), *descendants(pid)]:
        try:
            conns = proc.net_connections(kind="tcp")
        except psutil.NoSuchProcess:
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN}
    return found


def process_tree(pid: int) -> list[psutil.Process]:
    return [psutil.Process(pid), *descendants(pid)]


def still_alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``procs`` still running (a zombie has ended; only its reaping is left)."""
    result = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                result.append(proc)
        except psutil.NoSuchProcess:
            pass
    return result


def assert_all_exited(procs: list[psutil.Process], timeout: float = 15) -> None:
    """Every process in ``procs`` ends within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while still_alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = still_alive(procs)
    assert not left, f"still running after the server stopped: {left}"


STOP_TIMEOUT = 40


def stop(
    project: Project,
    proc: subprocess.Popen[str],
    sig: signal.Signals = signal.SIGTERM,
    *,
    group: bool = False,
) -> int:
    """Send ``sig`` (to the whole process group, as Ctrl+C does, if ``group``); return status."""
    tree = process_tree(proc.pid)
    try:
        if group:
            os.killpg(proc.pid, sig)
            status = proc.wait(timeout=STOP_TIMEOUT)
        else:
            status = project.stop(proc, sig, timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(
            f"still running {STOP_TIMEOUT} s after {sig.name}: {still_alive(tree)}\n"
            f"{project.output(proc)}"
        ) from None
    assert_all_exited(tree)
    return status


def sigterm_status(backend: Backend, workers: int) -> int:
    """The exit status after SIGTERM: 0, or -SIGTERM where single-process Uvicorn re-raises it."""
    return -signal.SIGTERM if backend.reraises_sigterm_alone and workers == 1 else 0


ALARMING = re.compile(r"deprecat|traceback|warning|error|lifespan|exception", re.I)


def alarming_lines(output: str) -> list[str]:
    """Lines a user would take for trouble (the start line itself names ``--lifespan=off``)."""
    return [
        line
        for line in output.splitlines()
        if ALARMING.search(line) and not line.startswith("prodserver: starting")
    ]


#: Warnings the servers themselves print, natively too, that are not about django-prodserver:
#: Granian's about its default WSGI thread pool (1024 backlog / workers / 2 threads, far above
#: 2 x cores + 1), and Waitress's when a request waits for a thread, which a loaded test
#: machine can cause even with one request at a time.
NATIVE_WARNINGS = {
    "granian-wsgi": "Configuration allows spawning up to",
    "waitress": "Task queue depth is",
}


#: Granian's own report of a worker it had to kill at the stop (--workers-kill-timeout), seen
#: natively too on a loaded machine; the stop tests check that requests in flight finish.
GRANIAN_KILLED_WORKER = "after it refused to gracefully stop"


def assert_quiet(backend: Backend, output: str) -> None:
    """Nothing alarming in the output; in particular no Uvicorn WSGI deprecation warning."""
    native = [NATIVE_WARNINGS.get(backend.id)]
    if backend in (GRANIAN, GRANIAN_WSGI):
        native.append(GRANIAN_KILLED_WORKER)
    lines = [
        line
        for line in alarming_lines(output)
        if not any(known and known in line for known in native)
    ]
    assert lines == [], output
    if backend is UVICORN_WSGI:
        assert "a2wsgi" not in output, output


# -- 1 and 8: it serves Django, quietly -------------------------------------------------


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's database after ``migrate``, made once and copied into each project."""
    template = Project(tmp_path_factory.mktemp("migrated"))
    template.migrate()
    return template.tmp_path / "db.sqlite3"


@pytest.mark.parametrize("backend", ALL, ids=str)
def test_serves_pages_and_database_without_alarming_output(
    project: Project, backend: Backend, migrated_database: Path
) -> None:
    port = free_port()
    settings_for(project, backend, backend.args(port))
    shutil.copyfile(migrated_database, project.env["DJANGO_DATABASE_PATH"])
    proc = start(project, port=port)

    assert http_get(f"http://127.0.0.1:{port}/") == (200, INDEX_BODY)
    status, body = http_get(f"http://127.0.0.1:{port}/db/")
    assert status == 200, body
    assert json.loads(body)["content_types"] > 0

    assert stop(project, proc) == sigterm_status(backend, workers=1)
    assert_quiet(backend, project.output(proc))


# -- 2 and 4: ARGS take effect, and --dry-run shows exactly what runs ------------------------


@pytest.mark.parametrize("backend", PROCESS_POOLS, ids=str)
def test_workers_from_args_serve_and_dry_run_matches(project: Project, backend: Backend) -> None:
    port = free_port()
    settings_for(project, backend, backend.args(port, workers=2))
    expected = EXPECTED_COMMANDS[backend.id].format(port=port, n=2)
    assert dry_run(project) == expected

    proc = start(project, port=port)
    assert start_line(project, proc) == expected
    pids = serving_pids(port, 2)
    assert len(pids) == 2, pids
    assert pids <= {p.pid for p in psutil.Process(proc.pid).children()}
    assert listening_addresses(proc.pid) == {("127.0.0.1", port)}
    assert stop(project, proc) == 0
    assert_quiet(backend, project.output(proc))


def together(port: int, count: int = THREADS) -> list[tuple[int, str]]:
    """``count`` simultaneous requests to ``/together/``."""
    url = f"http://127.0.0.1:{port}/together/"
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: http_get(url, timeout=30), range(count)))


def test_waitress_threads_from_args_serve_and_dry_run_matches(project: Project) -> None:
    port = free_port()
    (project.tmp_path / "together_urls.py").write_text(TOGETHER_URLS)
    settings_for(
        project,
        WAITRESS,
        WAITRESS.args(port, threads=THREADS),
        ROOT_URLCONF="together_urls",
    )
    expected = EXPECTED_COMMANDS["waitress"].format(port=port, n=THREADS)
    assert dry_run(project) == expected

    proc = start(project, port=port)
    assert start_line(project, proc) == expected
    assert together(port) == [(200, "together\n")] * THREADS
    assert listening_addresses(proc.pid) == {("127.0.0.1", port)}
    assert stop(project, proc) == 0


# -- 5: arguments after -- replace the same option in ARGS ----------------------------------


@pytest.mark.parametrize("backend", PROCESS_POOLS, ids=str)
def test_extra_args_after_double_dash_win(project: Project, backend: Backend) -> None:
    port = free_port()
    settings_for(project, backend, backend.args(port, workers=2))
    expected = EXPECTED_COMMANDS[backend.id].format(port=port, n=2).replace(" --workers=2", "")
    if backend.id.startswith("granian"):  # the target stays last
        head, target = expected.rsplit(" ", 1)
        expected = f"{head} --workers=3 {target}"
    else:
        expected += " --workers=3"
    proc = start(project, "--", "--workers=3", port=port)
    assert start_line(project, proc) == f"{expected} (after --, replacing --workers=2 from ARGS)"
    pids = serving_pids(port, 3)
    assert len(pids) == 3, pids
    assert stop(project, proc) == 0


def test_waitress_extra_threads_after_double_dash_win(project: Project) -> None:
    port = free_port()
    (project.tmp_path / "together_urls.py").write_text(TOGETHER_URLS)
    settings_for(project, WAITRESS, WAITRESS.args(port, threads=2), ROOT_URLCONF="together_urls")
    proc = start(project, "--", f"--threads={THREADS}", port=port)
    assert start_line(project, proc) == (
        f"waitress-serve --listen=127.0.0.1:{port} --threads={THREADS} "
        "mysite.wsgi:application (after --, replacing --threads=2 from ARGS)"
    )
    # With 2 threads the barrier would break and every request would get a 500.
    assert together(port) == [(200, "together\n")] * THREADS
    assert stop(project, proc) == 0


# -- 3: SIGTERM / SIGINT with a request in flight ------------------------------------------


@dataclass(frozen=True)
class StopCase:
    backend: Backend
    workers: int  # 0: the backend's default (Waitress: its threads)
    sig: signal.Signals
    group: bool = False  # to the whole process group, as Ctrl+C in a terminal does
    status: int = 0
    args: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        where = "ctrl-c" if self.group else self.sig.name
        return f"{self.backend}-{where}-workers{self.workers or '-default'}"


TERM, INT = signal.SIGTERM, signal.SIGINT
STOP_CASES = [
    StopCase(GUNICORN, 2, TERM),
    StopCase(WAITRESS, 0, TERM),
    StopCase(UVICORN, 1, TERM, status=-TERM),  # documented: single-process Uvicorn re-raises
    StopCase(UVICORN, 2, TERM),
    StopCase(UVICORN_WSGI, 1, TERM, status=-TERM),
    StopCase(UVICORN_WSGI, 2, TERM),
    StopCase(GRANIAN, 2, TERM),
    StopCase(GRANIAN_WSGI, 2, TERM),
    StopCase(GUNICORN, 2, INT),
    StopCase(WAITRESS, 0, INT),
    StopCase(UVICORN, 1, INT),  # Uvicorn turns the re-raised SIGINT into a normal exit
    StopCase(UVICORN_WSGI, 2, INT),
    StopCase(GRANIAN, 1, INT),
    StopCase(GRANIAN_WSGI, 1, INT),
    StopCase(GUNICORN, 2, INT, group=True),
    StopCase(WAITRESS, 0, INT, group=True),
    StopCase(UVICORN, 2, INT, group=True),
    # The Granian WSGI worker usually hangs here (see GRANIAN_KILL_TIMEOUT); the request still
    # completes and a short kill timeout keeps the test short.
    StopCase(GRANIAN_WSGI, 2, INT, group=True, args={"workers_kill_timeout": 3}),
]


def start_with_inflight_marker(
    project: Project, backend_path: str, args: dict[str, Any], port: int
) -> tuple[subprocess.Popen[str], Path]:
    """Process "web" on ``port``, with the middleware that marks when ``/slow/`` reaches Django."""
    marker = project.tmp_path / "inflight"
    (project.tmp_path / "inflight.py").write_text(INFLIGHT_MODULE)
    project.use_settings(
        {"web": {"BACKEND": backend_path, "ARGS": args}},
        TEST_INFLIGHT_MARKER=str(marker),
        extra='MIDDLEWARE = [*MIDDLEWARE, "inflight.mark_inflight"]',
    )
    return start(project, port=port), marker


def assert_args_rejected(project: Project, program: str, reason: str) -> None:
    """``prodserver web`` exits 1 with one line quoting ``program``'s parser; the deploy check
    reports the same as ``prodserver.E012`` (the plain check imports no server)."""
    result = project.manage("prodserver", "web")
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [
        f'ProdserverError: PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by {program}: '
        f"{reason} Fix that ARGS entry: keys are {program}'s long options without the leading "
        f"dashes (see {program} --help)."
    ], result.stderr
    check = project.manage("check", "--deploy")
    assert "prodserver.E012" in check.stderr, check.stderr


def slow_request_in_flight(
    port: int, marker: Path, seconds: float = SLOW_SECONDS
) -> tuple[threading.Thread, dict[str, Any]]:
    """Send ``/slow/`` from a thread and return once it has reached Django (the marker).

    The thread stores the response, or the error, under ``"response"`` in the returned dict.
    """
    result: dict[str, Any] = {}

    def slow_request() -> None:
        try:
            result["response"] = http_get(
                f"http://127.0.0.1:{port}/slow/?seconds={seconds}", timeout=30
            )
        except OSError as exc:
            result["response"] = exc

    tries: list[object] = []
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline and len(tries) < 3:
        # A request that fails before it reaches Django (a worker that the server's own
        # supervisor replaced on a loaded machine) is sent again: the stop is the subject.
        result.clear()
        client = threading.Thread(target=slow_request)
        client.start()
        while not marker.exists() and client.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        tries.append(result.get("response", "no answer yet"))
    assert marker.exists(), f"the slow request never reached Django: {tries}"
    return client, result


@pytest.mark.parametrize("case", STOP_CASES, ids=str)
def test_signal_finishes_request_in_flight(project: Project, case: StopCase) -> None:
    port = free_port()
    marker = project.tmp_path / "inflight"
    (project.tmp_path / "inflight.py").write_text(INFLIGHT_MODULE)
    args = case.backend.args(port, **case.args)
    if case.workers:
        args["workers"] = case.workers
    settings_for(
        project,
        case.backend,
        args,
        TEST_INFLIGHT_MARKER=str(marker),
        extra='MIDDLEWARE = [*MIDDLEWARE, "inflight.mark_inflight"]',
    )
    proc = start(project, port=port)
    if case.workers:
        # Every worker has booted: a stop signal to a worker still importing the project is
        # not what this test is about (workers import it themselves, as natively).
        serving_pids(port, case.workers)
    client, result = slow_request_in_flight(port, marker)

    status = stop(project, proc, case.sig, group=case.group)
    client.join(timeout=30)
    output = project.output(proc)
    assert result.get("response") == (200, f"slept {float(SLOW_SECONDS)}\n"), output
    assert status == case.status, output


def test_gunicorn_reload_keeps_the_configuration(project: Project) -> None:
    """SIGHUP reloads Gunicorn's configuration, which must still come from ARGS, not sys.argv."""
    port = free_port()
    settings_for(project, GUNICORN, GUNICORN.args(port, workers=2))
    proc = start(project, port=port)
    before = serving_pids(port, 2)

    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    children: set[int] = set()
    while time.monotonic() < deadline:
        children = {p.pid for p in psutil.Process(proc.pid).children()}
        if len(children) == 2 and not children & before:
            break
        time.sleep(0.1)
    assert len(children) == 2 and not children & before, project.output(proc)
    after = serving_pids(port, 2)
    assert after == children, project.output(proc)
    assert http_get(f"http://127.0.0.1:{port}/") == (200, INDEX_BODY)
    assert stop(project, proc) == 0
    assert "Traceback" not in project.output(proc)


@pytest.mark.parametrize("machine_tz", [None, "Asia/Tokyo"], ids=["no-TZ", "TZ"])
def test_gunicorn_master_logs_in_the_machines_time_zone(
    project: Project, machine_tz: str | None
) -> None:
    """Loading the settings sets TZ to TIME_ZONE; the master that prodserver hands over to
    must log in the machine's time zone, as the native master (which never loads them) does."""
    port = free_port()
    settings_for(project, GUNICORN, GUNICORN.args(port), TIME_ZONE="America/Chicago")
    offsets = {}
    for side in ("prodserver", "native"):
        argv = (
            [sys.executable, str(MANAGE_PY), "prodserver", "web"]
            if side == "prodserver"
            else project.native_argv("web")
        )
        proc = project.start_command(argv, env={"TZ": machine_tz})
        wait_for_http(f"http://127.0.0.1:{port}/", proc)
        assert stop(project, proc) == 0
        found = re.search(
            r"^\[[^]]* ([+-]\d{4})\] \[\d+\] \[INFO\] Listening at", project.output(proc), re.M
        )
        assert found, project.output(proc)
        offsets[side] = found.group(1)
    env = {key: value for key, value in os.environ.items() if key != "TZ"}
    machine = subprocess.run(["date", "+%z"], env=env, capture_output=True, text=True).stdout
    expected = "+0900" if machine_tz else machine.strip()
    assert offsets == {"prodserver": expected, "native": expected}


# -- 6: a fresh startproject, without ASGI_APPLICATION --------------------------------------


FRESH_COMMANDS = {
    "uvicorn": "uvicorn freshsite.asgi:application --lifespan=off --host=127.0.0.1 --port={port}",
    "granian": "granian --interface=asginl --host=127.0.0.1 --port={port} "
    "--workers-kill-timeout=10 freshsite.asgi:application",
}


@pytest.mark.parametrize("backend", [UVICORN, GRANIAN], ids=str)
def test_asgi_backends_serve_a_fresh_startproject(project: Project, backend: Backend) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "startproject",
            "freshsite",
            str(project.tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    settings = project.tmp_path / "freshsite" / "settings.py"
    text = settings.read_text()
    assert "ASGI_APPLICATION" not in text
    port = free_port()
    process = {"web": {"BACKEND": backend.path, "ARGS": backend.args(port)}}
    settings.write_text(
        f'{text}\nINSTALLED_APPS += ["django_prodserver"]\nPRODUCTION_PROCESSES = {process!r}\n'
    )
    project.settings_module = "freshsite.settings"

    proc = project.start("prodserver", "web")
    wait_for_http(f"http://127.0.0.1:{port}/admin/login/", proc)
    assert start_line(project, proc) == FRESH_COMMANDS[backend.id].format(port=port)
    status, body = http_get(f"http://127.0.0.1:{port}/admin/login/")
    assert status == 200, body
    assert "Django administration" in body
    assert stop(project, proc) == sigterm_status(backend, workers=1)
    output = project.output(proc)
    # startproject writes DEBUG = True: prodserver says so once, and nothing else alarms.
    debug = [line for line in alarming_lines(output) if "runs with DEBUG = True" in line]
    assert len(debug) == 1, output
    assert [line for line in alarming_lines(output) if line not in debug] == [], output


# -- 7: APP points a process at another application -----------------------------------------


@pytest.mark.parametrize("backend", ALL, ids=str)
def test_app_override_is_served(project: Project, backend: Backend) -> None:
    """Every worker serves the APP module; the tagged module adds a header Django never sends."""
    asgi = backend in (UVICORN, GRANIAN)
    module = "tagged_asgi" if asgi else "tagged_wsgi"
    (project.tmp_path / f"{module}.py").write_text(TAGGED_ASGI if asgi else TAGGED_WSGI)
    port = free_port()
    workers = 2 if backend.concurrency == "workers" else 1
    args = backend.args(port)
    if workers > 1:
        args["workers"] = workers
    settings_for(project, backend, args, app=f"{module}.application")
    proc = start(project, port=port)
    command = start_line(project, proc)
    if backend is UVICORN_WSGI:
        # Uvicorn imports the a2wsgi wrapper, which reads the WSGI application from there.
        assert command.startswith(f"DJANGO_PRODSERVER_WSGI_APPLICATION={module}.application ")
    else:
        assert f" {module}:application" in command

    status, headers, body = get(f"http://127.0.0.1:{port}/")
    assert (status, body) == (200, INDEX_BODY)
    assert headers.get("x-served-by") == module.replace("_", "-")

    url = f"http://127.0.0.1:{port}/pid/"
    pids: set[int] = set()
    deadline = time.monotonic() + 45
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(pids) < workers and time.monotonic() < deadline:
            for status, headers, body in pool.map(lambda _: get(url), range(16)):
                assert status == 200, body
                assert headers.get("x-served-by") == module.replace("_", "-")
                pids.add(json.loads(body)["pid"])
    assert len(pids) == workers, pids
    assert stop(project, proc) == sigterm_status(backend, workers)
