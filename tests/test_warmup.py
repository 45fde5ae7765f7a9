"""``WARMUP``: paths requested in-process through Django before the server starts.

A failing path (an error status, or a view that raises) stops the start with exit status 1 and
one line, no traceback, and nothing listens; passing paths let the server serve. On PostgreSQL,
the connection the gate opened is closed before the server starts (``pg_stat_activity`` no
longer has it) and no worker ever uses it.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from test_fork_safety import load, probe_project
from test_web_servers import GUNICORN, WAITRESS, Backend, start_line

from conftest import Project, free_port, wait_for_http

BROKEN_URLS = '''
"""The example's URLs plus views that fail the way broken deploys do."""
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import include, path


def missing_template(request):
    return render(request, "no/such/template.html")


def broken_import(request):
    import mysite.no_such_module  # noqa: F401


urlpatterns = [
    path("template/", missing_template),
    path("import/", broken_import),
    path("", include("mysite.urls")),
]
'''


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/nope/", "answered 404 Not Found."),
        ("/template/", "answered 500 Internal Server Error (TemplateDoesNotExist: "),
        ("/import/", "(ModuleNotFoundError: No module named 'mysite.no_such_module')"),
        ("/db/", "(OperationalError: no such table: django_content_type)"),  # not migrated
    ],
    ids=["404", "missing-template", "view-import", "database"],
)
def test_a_failing_path_stops_the_start_in_one_line(project: Project, path: str, said: str) -> None:
    port = free_port()
    (project.tmp_path / "broken_urls.py").write_text(BROKEN_URLS)
    project.use_settings(
        {
            "web": {
                "BACKEND": "waitress",
                "ARGS": {"listen": f"127.0.0.1:{port}"},
                "WARMUP": ["/", path],
            }
        },
        ROOT_URLCONF="broken_urls",
        DEBUG=True,  # Django's console log would print tracebacks: the gate keeps them out
    )
    result = project.manage("prodserver", "web")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f'ProdserverError: Warmup of process "web" failed: GET {path} '), last
    assert said in last
    assert last.endswith('remove the path from PRODUCTION_PROCESSES["web"]["WARMUP"].')
    assert refuses(port)


@pytest.mark.parametrize("value", ["/", ["health/"], [1], {"path": "/"}])
def test_warmup_is_checked(project: Project, value: Any) -> None:
    project.use_settings({"web": {"BACKEND": "gunicorn", "WARMUP": value}})
    result = project.manage("check")
    assert "prodserver.E022" in result.stderr
    assert 'must be a list of URL paths starting with "/"' in result.stderr


@pytest.mark.server
@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", [GUNICORN, WAITRESS], ids=str)
def test_passing_paths_start_the_server(project: Project, backend: Backend) -> None:
    port = free_port()
    project.use_settings(
        {"web": {"BACKEND": backend.path, "ARGS": backend.args(port), "WARMUP": ["/", "/pid/"]}}
    )
    project.migrate()
    proc = project.start("prodserver", "web")
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    output = project.output(proc)
    assert start_line(project, proc)
    (line,) = [x for x in output.splitlines() if x.startswith("prodserver: warmup")]
    assert line.startswith('prodserver: warmup of "web" passed in ')
    assert ": / 200 in " in line and ", /pid/ 200 in " in line
    project.stop(proc)


WARM_URLS = '''
"""probe's URLs plus /warm/, which records the process and PostgreSQL backend that served it."""
import json
import os

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path


def warm(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    record = {"pid": os.getpid(), "backend_pid": backend_pid}
    with open("warm.jsonl", "a") as log:
        log.write(json.dumps(record) + "\\n")
    return JsonResponse(record)


urlpatterns = [path("warm/", warm), path("", include("probe.urls"))]
'''


@pytest.mark.server
@pytest.mark.postgres
@pytest.mark.timeout(180)
@pytest.mark.parametrize("backend", [GUNICORN, WAITRESS], ids=str)
def test_the_gate_leaves_no_database_connection_behind(
    project: Project, postgres_db: dict[str, Any], backend: Backend
) -> None:
    port = free_port()
    concurrency = {backend.concurrency: 4 if backend is WAITRESS else 2}
    probe_project(project, postgres_db, backend, backend.args(port, **concurrency))
    (project.tmp_path / "warm_urls.py").write_text(WARM_URLS)
    project.databases = {"default": {**postgres_db["default"], "CONN_MAX_AGE": 600}}
    project.use_settings(
        {
            "web": {
                "BACKEND": backend.path,
                "ARGS": backend.args(port, **concurrency),
                "WARMUP": ["/warm/"],
            }
        },
        ROOT_URLCONF="warm_urls",
        PROBE_VERSION="v1",
        extra='INSTALLED_APPS = [*INSTALLED_APPS, "probe"]',
    )
    proc = project.start("prodserver", "web")
    wait_for_http(f"http://127.0.0.1:{port}/probe/", proc)
    (gate,) = [json.loads(x) for x in (project.tmp_path / "warm.jsonl").read_text().splitlines()]
    assert gate["pid"] == proc.pid  # the gate ran in the prodserver process
    answers, failures = load(port, requests=200)
    assert failures == []
    assert gate["backend_pid"] not in {answer["backend_pid"] for answer in answers}
    still_open = project.query(
        f"SELECT pid FROM pg_stat_activity WHERE pid = {int(gate['backend_pid'])}"
    )
    assert still_open == [], "the gate's PostgreSQL connection outlived the start"
    project.stop(proc)
