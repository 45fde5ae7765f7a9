"""``manage.py devserver``: Django's development server under a name that pairs with prodserver.

It really serves the example project on 127.0.0.1, and SIGTERM or SIGINT stop it with status 0,
with or without the auto-reloader, leaving no child process behind.
"""

from __future__ import annotations

import signal

import psutil
import pytest

from conftest import Project, descendants, free_port, http_get, wait_for_http

pytestmark = pytest.mark.server


def port_is_closed(port: int) -> bool:
    try:
        http_get(f"http://127.0.0.1:{port}/", timeout=2)
    except OSError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_devserver_serves_and_stops(project: Project, sig: signal.Signals) -> None:
    port = free_port()
    proc = project.start("devserver", f"127.0.0.1:{port}", "--noreload")
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    status, body = http_get(f"http://127.0.0.1:{port}/")
    assert (status, body) == (200, "Hello from django-prodserver\n")
    status, body = http_get(f"http://127.0.0.1:{port}/pid/")
    assert (status, body) == (200, f'{{"pid": {proc.pid}}}')  # served by this very process

    assert project.stop(proc, sig, timeout=30) == 0
    assert port_is_closed(port)
    log = project.output(proc)
    # Django 5.2 says "Starting development server at", 6.1 "Starting WSGI development ...".
    assert f"development server at http://127.0.0.1:{port}/" in log
    assert '"GET / HTTP/1.1" 200' in log
    assert "Traceback" not in log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_devserver_with_reloader_leaves_no_child(project: Project, sig: signal.Signals) -> None:
    port = free_port()
    proc = project.start("devserver", f"127.0.0.1:{port}")
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    children = descendants(proc.pid)
    assert len(children) == 1  # the auto-reloader runs the server in a child process
    assert http_get(f"http://127.0.0.1:{port}/pid/")[1] == f'{{"pid": {children[0].pid}}}'

    if sig == signal.SIGINT:
        # CONTROL-C in a terminal reaches the whole process group.
        for each in [proc.pid, children[0].pid]:
            psutil.Process(each).send_signal(sig)
        assert proc.wait(timeout=30) == 0
    else:
        assert project.stop(proc, sig, timeout=30) == 0
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert port_is_closed(port)


def test_devserver_accepts_runserver_options(project: Project) -> None:
    result = project.manage("devserver", "--help")
    assert result.returncode == 0
    for option in ("--noreload", "--nothreading", "--ipv6", "--nostatic", "--insecure"):
        assert option in result.stdout
    assert "Never use it in production" in result.stdout
