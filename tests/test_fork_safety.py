"""No web server started by prodserver behaves like an implicit ``--preload``, on PostgreSQL.

The project gets a small app, ``probe``, written into the test's directory: its ``ready()``
runs one query (as apps that warm a cache or read a flag at start do) and records which
process ran it with which PostgreSQL backend, and its view answers with the serving process,
its PostgreSQL backend and the version of a setting, a model module and a view module.

* Fork safety: under concurrent load every worker process has its own PostgreSQL backend, none
  of them is the connection the ``prodserver`` process opened in ``ready()``, and no request
  fails. Before the fix, Gunicorn's two workers shared the prodserver process's connection.
* A Gunicorn HUP (or Granian's) after a code change serves only the new settings, models and
  views, with no failed request during the reload, as the native command does.
* ``"preload": True`` gives native ``--preload``: the master imports the project once and the
  workers do not.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from test_web_servers import (
    GRANIAN,
    GRANIAN_WSGI,
    GUNICORN,
    PROCESS_POOLS,
    UVICORN,
    WAITRESS,
    Backend,
    serving_pids,
)

from conftest import Project, free_port, http_get, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.timeout(180)]

PROBE_APP = {
    "probe/__init__.py": "",
    "probe/apps.py": """
import json
import os
import sys
import threading

from django.apps import AppConfig
from django.core.exceptions import SynchronousOnlyOperation
from django.db import connection


class ProbeConfig(AppConfig):
    name = "probe"

    def ready(self):
        try:
            self.record_backend()
        except SynchronousOnlyOperation:
            # Uvicorn's workers import the app inside their event loop; so would its native
            # command. A thread may query, as an app would have to.
            thread = threading.Thread(target=self.record_backend)
            thread.start()
            thread.join()

    def record_backend(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]
        record = {"pid": os.getpid(), "backend_pid": backend_pid, "argv": sys.argv}
        with open("ready.jsonl", "a") as log:
            log.write(json.dumps(record) + "\\n")
""",
    "probe/models.py": 'MODEL_VERSION = "v1"\n',
    "probe/views.py": """
import os

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from probe import models

VIEW_VERSION = "v1"


def probe(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    return JsonResponse(
        {
            "pid": os.getpid(),
            "backend_pid": backend_pid,
            "settings": settings.PROBE_VERSION,
            "model": models.MODEL_VERSION,
            "view": VIEW_VERSION,
        }
    )
""",
    "probe/urls.py": """
from django.urls import include, path

from probe import views

urlpatterns = [path("probe/", views.probe), path("", include("mysite.urls"))]
""",
}

#: Requests and how many run at once (the issue saw a hang at 800 with 2 Gunicorn workers).
REQUESTS = 800
ASGI = (UVICORN, GRANIAN)
CONCURRENCY = 64


def probe_project(
    project: Project, postgres_db: dict[str, Any], backend: Backend, args: dict[str, Any]
) -> str:
    """Settings: the probe app on PostgreSQL (persistent connections), one process "web"."""
    for name, text in PROBE_APP.items():
        path = project.tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text.lstrip())
    # Persistent connections, as a WSGI site sets them; Django's async docs say to disable
    # them under ASGI, where each request would otherwise leave one open.
    max_age = 0 if backend in ASGI else 600
    databases = {"default": {**postgres_db["default"], "CONN_MAX_AGE": max_age}}
    project.use_settings(
        {"web": {"BACKEND": backend.path, "ARGS": args}},
        DATABASES=databases,
        ROOT_URLCONF="probe.urls",
        PROBE_VERSION="v1",
        extra='INSTALLED_APPS = [*INSTALLED_APPS, "probe"]',
    )
    project.migrate()
    (project.tmp_path / "ready.jsonl").unlink(missing_ok=True)  # migrate ran ready() too
    return f"{project.settings_module}.py"


def ready_records(project: Project) -> list[dict[str, Any]]:
    path = project.tmp_path / "ready.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def start(project: Project, port: int) -> subprocess.Popen[str]:
    proc = project.start("prodserver", "web")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/probe/", proc)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- output:\n{project.output(proc)}") from None
    return proc


def load(port: int, requests: int = REQUESTS) -> tuple[list[dict[str, Any]], list[str]]:
    """``requests`` GETs of /probe/, CONCURRENCY at a time: the answers and the failures."""
    url = f"http://127.0.0.1:{port}/probe/"

    def one(_: int) -> dict[str, Any] | str:
        try:
            status, body = http_get(url, timeout=20)
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return json.loads(body) if status == 200 else f"HTTP {status}: {body[:200]}"

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        results = list(pool.map(one, range(requests)))
    answers = [r for r in results if isinstance(r, dict)]
    return answers, [r for r in results if isinstance(r, str)]


def backends_by_worker(answers: list[dict[str, Any]]) -> dict[int, set[int]]:
    """PostgreSQL backend pid -> the worker pids that used it."""
    used: dict[int, set[int]] = defaultdict(set)
    for answer in answers:
        used[answer["backend_pid"]].add(answer["pid"])
    return dict(used)


@pytest.mark.parametrize("backend", [*PROCESS_POOLS, WAITRESS], ids=str)
def test_each_worker_has_its_own_database_connection(
    project: Project, postgres_db: dict[str, Any], backend: Backend
) -> None:
    port = free_port()
    workers = 1 if backend is WAITRESS else 2
    concurrency = {backend.concurrency: 4 if backend is WAITRESS else workers}
    probe_project(project, postgres_db, backend, backend.args(port, **concurrency))
    proc = start(project, port)
    # Every worker serves before the load (spawned workers boot one by one).
    assert len(serving_pids(port, workers)) == workers, project.output(proc)

    answers, failures = load(port)
    output = project.output(proc)
    prodserver_backends = {r["backend_pid"] for r in ready_records(project) if r["pid"] == proc.pid}
    workers_seen = {answer["pid"] for answer in answers}
    used = backends_by_worker(answers)
    per_worker = {pid: sorted(b for b, pids in used.items() if pid in pids) for pid in workers_seen}
    # The closing note of issue 10 quotes these lines (pytest -s shows them).
    print(f"{backend}: prodserver {proc.pid} ready() {sorted(prodserver_backends)}", end="; ")
    print(f"worker -> backends {per_worker}; {len(failures)} of {REQUESTS} failed")
    assert failures == [], f"{len(failures)} failed, e.g. {failures[:3]}\n{output[-3000:]}"
    assert len(workers_seen) == workers, output
    shared = {b: pids for b, pids in used.items() if len(pids) > 1}
    assert shared == {}, f"workers sharing a PostgreSQL backend: {shared}"
    # The connection prodserver's own process opened in ready() is used by no worker.
    served_backends = {answer["backend_pid"] for answer in answers}
    assert prodserver_backends & served_backends == set(), ready_records(project)
    # Each worker imported the project (and ran ready()) itself, as under the native command.
    assert workers_seen <= {r["pid"] for r in ready_records(project)}, ready_records(project)
    assert project.stop(proc) in (0, -signal.SIGTERM)


def change_code(project: Project, settings_file: str, version: str) -> None:
    """Change the setting, the model module and the view module on disk to ``version``."""
    settings_path = project.tmp_path / settings_file
    settings_path.write_text(settings_path.read_text() + f"\nPROBE_VERSION = {version!r}\n")
    for module, name in (("models", "MODEL_VERSION"), ("views", "VIEW_VERSION")):
        path = project.tmp_path / "probe" / f"{module}.py"
        path.write_text(path.read_text().replace(f'{name} = "v1"', f"{name} = {version!r}"))


class SteadyLoad:
    """Requests to /probe/ from a few threads, without pause, until stopped."""

    def __init__(self, port: int, threads: int = 4) -> None:
        self.url = f"http://127.0.0.1:{port}/probe/"
        self.answers: list[tuple[float, dict[str, Any]]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, body = http_get(self.url, timeout=20)
            except OSError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            if status == 200:
                self.answers.append((time.monotonic(), json.loads(body)))
            else:
                self.failures.append(f"HTTP {status}: {body[:200]}")

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def versions(answer: dict[str, Any]) -> tuple[str, str, str]:
    return answer["settings"], answer["model"], answer["view"]


@pytest.mark.parametrize("backend", [GUNICORN, GRANIAN, GRANIAN_WSGI], ids=str)
def test_reload_after_a_code_change_serves_only_new_code(
    project: Project, postgres_db: dict[str, Any], backend: Backend
) -> None:
    port = free_port()
    settings_file = probe_project(project, postgres_db, backend, backend.args(port, workers=2))
    proc = start(project, port)
    # Django imports the URLconf and views at a worker's first request: a worker still booting
    # when the code changes would mix old settings with a new view (natively too).
    assert len(serving_pids(port, 2)) == 2, project.output(proc)
    new = ("v2-reloaded",) * 3

    with SteadyLoad(port) as steady:
        time.sleep(1)
        change_code(project, settings_file, new[0])
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        # Done when the last 200 answers all come from new workers.
        while time.monotonic() < deadline:
            recent = [versions(a) for _, a in steady.answers[-200:]]
            if len(recent) == 200 and set(recent) == {new}:
                break
            time.sleep(0.2)
    output = project.output(proc)
    seen = {versions(a) for _, a in steady.answers}
    print(f"{backend}: {len(steady.answers)} answers, {len(steady.failures)} failed, {seen}")
    if backend is GUNICORN:
        assert steady.failures == [], f"{len(steady.failures)} failed: {steady.failures[:3]}"
    # Granian's respawn can drop a request in flight, natively too (1 of 13,368 once), so
    # for Granian only the code served is checked.
    # Old workers answer v1 until they are retired; no answer mixes old and new code.
    assert seen <= {("v1",) * 3, new}, f"mixed answers {seen}\n{output[-3000:]}"
    assert set(versions(a) for _, a in steady.answers[-200:]) == {new}, output[-3000:]
    assert project.stop(proc) == 0


def test_gunicorn_preload_imports_the_project_once_in_the_master(
    project: Project, postgres_db: dict[str, Any]
) -> None:
    port = free_port()
    args = GUNICORN.args(port, workers=2, preload=True)
    probe_project(project, postgres_db, GUNICORN, args)
    proc = start(project, port)
    # Not /probe/: with --preload the workers share the connection ready() opened in the
    # master, natively too (Gunicorn's docs warn about it; ours say how to avoid it).
    workers = {json.loads(http_get(f"http://127.0.0.1:{port}/pid/")[1])["pid"] for _ in range(20)}
    records = ready_records(project)
    # prodserver's ready(), then Gunicorn's master (same pid after the hand-over) with
    # --preload; the workers inherit the imported project and run ready() no more.
    assert [r["pid"] for r in records] == [proc.pid, proc.pid], records
    assert workers and workers.isdisjoint({r["pid"] for r in records})
    assert project.stop(proc) == 0
