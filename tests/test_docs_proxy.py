"""HTTPS behind a reverse proxy: the table in docs/backends/index.md is what the servers do.

The page states once, for every web backend, whether Django's ``request.is_secure()`` is true
for a request that a proxy on the same host (127.0.0.1) forwards with
``X-Forwarded-Proto: https``: with the backend's default ARGS, with the ARGS the table shows,
and with Django's ``SECURE_PROXY_SSL_HEADER`` instead. Each cell is measured here against the
real server, started by ``prodserver`` on 127.0.0.1, with a view that answers
``request.is_secure()``; the backend pages and guides link to that table instead of restating
it.
"""

from __future__ import annotations

import http.client
import re
import socket
import time
import urllib.request
from typing import Any

import pytest
from test_web_servers import ALL, GUNICORN, UVICORN, Backend

import docs_blocks
from conftest import Project, free_port, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

PAGE = docs_blocks.docs_root() / "backends" / "index.md"
SPSH = ("HTTP_X_FORWARDED_PROTO", "https")

URLS_MODULE = """
from django.http import HttpResponse
from django.urls import path


def secure(request):
    return HttpResponse(f"{request.is_secure()} {request.scheme}", content_type="text/plain")


urlpatterns = [path("secure/", secure)]
"""


def proxy_table() -> docs_blocks.Table:
    for table in docs_blocks.tables(PAGE):
        if table.column("Backend") is not None and table.column("SECURE_PROXY_SSL_HEADER"):
            return table
    raise AssertionError(f"{docs_blocks.rel(PAGE)} has no table of proxy behaviour")


def rows() -> list[tuple[Backend, dict[str, Any], dict[str, bool], str]]:
    """(backend, ARGS of the ARGS column, expected answers by case, where) per table row."""
    table = proxy_table()
    columns = {
        "default": table.column("default ARGS"),
        "args": table.column("with these ARGS"),
        "spsh": table.column("SECURE_PROXY_SSL_HEADER"),
    }
    args_column = table.column("ARGS to trust")
    assert None not in columns.values() and args_column is not None, table.header
    found = []
    for line, cells in table.rows:
        names = docs_blocks.code_spans(PAGE, cells[table.column("Backend") or 0])
        args_text = ", ".join(docs_blocks.code_spans(PAGE, cells[args_column]))
        args = eval("{" + args_text + "}", {"__builtins__": {}}) if args_text else {}
        expected = {
            case: cells[index].strip().lower().startswith("yes")  # type: ignore[index]
            for case, index in columns.items()
        }
        for name in names:
            backend = next(b for b in ALL if b.path.rsplit(".", 1)[1] == name)
            found.append((backend, args, expected, f"{docs_blocks.rel(PAGE)}:{line}"))
    return found


def is_secure(project: Project, backend: Backend, args: dict[str, Any], **values: Any) -> bool:
    """Start the backend with ARGS, send a forwarded HTTPS request from 127.0.0.1."""
    (project.tmp_path / "proxy_urls.py").write_text(URLS_MODULE)
    port = free_port()
    project.use_settings(
        {"web": {"BACKEND": backend.path, "ARGS": backend.args(port, **args)}},
        ROOT_URLCONF="proxy_urls",
        **values,
    )
    proc = project.start("prodserver", "web")
    try:
        url = f"http://127.0.0.1:{port}/secure/"
        wait_for_http(url, proc)
        request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = response.read().decode()
    finally:
        project.stop(proc)
    secure, scheme = answer.split()
    assert (secure == "True") == (scheme == "https"), answer
    return secure == "True"


ROWS = rows()


@pytest.mark.parametrize("case", ["default", "args", "spsh"])
@pytest.mark.parametrize(
    ("backend", "args", "expected", "where"),
    [pytest.param(*row, id=row[0].id) for row in ROWS],
)
def test_forwarded_https(
    project: Project,
    backend: Backend,
    args: dict[str, Any],
    expected: dict[str, bool],
    where: str,
    case: str,
) -> None:
    if case == "args" and not args:
        pytest.skip(f"{where}: the server has no option for it")
    measured = is_secure(
        project,
        backend,
        args if case == "args" else {},
        **({"SECURE_PROXY_SSL_HEADER": SPSH} if case == "spsh" else {}),
    )
    print(f"{backend.id} {case}: is_secure() = {measured}")
    assert measured == expected[case], (
        f"{where}: the table says {expected[case]} for {case!r}, {backend.id} gives {measured}"
    )


def test_every_web_backend_has_a_row() -> None:
    assert {row[0].id for row in ROWS} == {backend.id for backend in ALL}


def test_pages_link_to_the_table_instead_of_restating_it() -> None:
    """Backend pages and guides that talk about X-Forwarded-Proto point at the one table."""
    for path in docs_blocks.doc_files():
        if path == PAGE:
            continue
        text = docs_blocks.read(path)
        if re.search(r"is_secure\(\)", text):
            assert "{ref}`behind-a-proxy`" in text or "<behind-a-proxy>" in text, (
                f"{docs_blocks.rel(path)} states what is_secure() does behind a proxy without "
                "linking to the table in backends/index.md"
            )


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


@pytest.mark.parametrize(
    ("backend", "address", "expected"),
    [
        pytest.param(GUNICORN, lambda path: {"bind": f"unix:{path}"}, True, id="gunicorn"),
        pytest.param(UVICORN, lambda path: {"uds": path}, False, id="uvicorn"),
    ],
)
def test_forwarded_https_over_a_unix_socket(
    project: Project, backend: Backend, address: Any, expected: bool
) -> None:
    """The page's sentence: over a Unix socket Gunicorn trusts every connection, Uvicorn none."""
    assert "Gunicorn trusts every connection" in docs_blocks.read(PAGE)
    (project.tmp_path / "proxy_urls.py").write_text(URLS_MODULE)
    path = str(project.tmp_path / "web.sock")
    project.use_settings(
        {"web": {"BACKEND": backend.path, "ARGS": address(path)}}, ROOT_URLCONF="proxy_urls"
    )
    proc = project.start("prodserver", "web")
    try:
        for _ in range(600):
            if proc.poll() is not None or (project.tmp_path / "web.sock").exists():
                break
            time.sleep(0.05)
        connection = UnixConnection(path)
        connection.request("GET", "/secure/", headers={"X-Forwarded-Proto": "https"})
        answer = connection.getresponse().read().decode()
    finally:
        project.stop(proc)
    assert answer.split()[0] == str(expected), answer
