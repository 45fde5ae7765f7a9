"""The example project's benchmark workloads answer through real servers, on SQLite and PostgreSQL.

``/io/``, ``/async-io/``, ``/async-db/`` and ``/page/`` are the workloads the benchmark page
compares (docs/backends/benchmarks.md) beside ``/`` and ``/db/``. A sync server (Gunicorn's
threaded worker) and an ASGI server (Uvicorn) must both serve every one of them: an ``async
def`` view behind WSGI, a sync view behind ASGI, the async ORM on either database. No time is
asserted.
"""

from __future__ import annotations

import json

import pytest

from conftest import Project, free_port, http_get, wait_for_http

SERVERS = {
    "gunicorn-gthread": lambda port: {
        "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer",
        "ARGS": {
            "bind": f"127.0.0.1:{port}",
            "workers": 1,
            "worker_class": "gthread",
            "threads": 2,
        },
    },
    "uvicorn": lambda port: {
        "BACKEND": "django_prodserver.backends.uvicorn.UvicornServer",
        "ARGS": {"host": "127.0.0.1", "port": port, "workers": 1},
    },
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_workload_views_answer(project: Project, database: str, server: str) -> None:
    port = free_port()
    project.use_settings({"web": SERVERS[server](port)})
    project.migrate()
    proc = project.start("prodserver", "web")
    base = f"http://127.0.0.1:{port}"
    assert wait_for_http(f"{base}/", proc) == 200, project.output(proc)

    for path in ("/io/", "/async-io/"):
        status, body = http_get(base + path)
        assert (status, json.loads(body)) == (200, {"waited": 0.05}), path

    expected = project.query("SELECT COUNT(*) FROM django_content_type")[0][0]
    for path in ("/db/", "/async-db/"):
        status, body = http_get(base + path)
        assert status == 200, (path, body, project.output(proc))
        assert json.loads(body) == {"content_types": expected}, path

    status, page = http_get(base + "/page/")
    assert status == 200, page
    assert page.startswith("<!doctype html>")
    assert page.count("<tr class=") == 100
    assert "<td>12.50 &euro;</td>" in page  # row 10: the price filter ran
    assert '<span class="tag">sale</span>' in page

    project.stop(proc)
