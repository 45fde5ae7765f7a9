"""Daphne, started for real through ``manage.py prodserver NAME``.

The WebSocket test uses the smallest honest setup without Channels: a plain ASGI application
(written into the test project) that echoes WebSocket messages and hands every HTTP request to
Django's own ASGI application, named by the process's ``APP``. Graceful stops are proven as for
the other web servers: ``/slow/`` is in flight (a middleware marks its arrival in Django) when
the signal is sent, and must still answer 200. The native ``daphne`` cancels that request.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import psutil
import pytest
from test_web_servers import (
    INDEX_BODY,
    SLOW_SECONDS,
    alarming_lines,
    assert_args_rejected,
    dry_run,
    get,
    slow_request_in_flight,
    start,
    start_line,
    start_with_inflight_marker,
    stop,
)

from conftest import Project, free_port, http_get

pytestmark = [pytest.mark.server, pytest.mark.timeout(90)]

DAPHNE = "django_prodserver.backends.daphne.DaphneServer"

WEBSOCKET_ASGI = '''
"""Django's ASGI application, plus a WebSocket echo route at /ws/echo/ (no Channels needed)."""
from mysite.asgi import application as django_application


async def application(scope, receive, send):
    if scope["type"] != "websocket":
        return await django_application(scope, receive, send)
    assert scope["path"] == "/ws/echo/", scope["path"]
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": "echo: " + (event.get("text") or "")})
        else:
            return
'''


def use_daphne(project: Project, args: dict[str, Any], **more: Any) -> None:
    process: dict[str, Any] = {"BACKEND": DAPHNE, "ARGS": args}
    if "app" in more:
        process["APP"] = more.pop("app")
    project.use_settings({"web": process}, **more)


def address(port: int) -> dict[str, Any]:
    return {"bind": "127.0.0.1", "port": port}


def test_serves_http_and_websocket_quietly_as_dry_run_says(project: Project) -> None:
    from websockets.sync.client import connect

    (project.tmp_path / "ws_asgi.py").write_text(WEBSOCKET_ASGI)
    port = free_port()
    use_daphne(project, {**address(port), "websocket_timeout": 600}, app="ws_asgi.application")
    expected = f"daphne ws_asgi:application --bind=127.0.0.1 --port={port} --websocket_timeout=600"
    assert dry_run(project) == expected

    proc = start(project, port=port)
    assert start_line(project, proc) == expected
    assert http_get(f"http://127.0.0.1:{port}/") == (200, INDEX_BODY)
    status, headers, body = get(f"http://127.0.0.1:{port}/pid/")
    assert status == 200 and json.loads(body)["pid"] == proc.pid  # served in this process
    assert headers["server"] == "daphne"
    with connect(f"ws://127.0.0.1:{port}/ws/echo/", open_timeout=15) as websocket:
        websocket.send("hello")
        assert websocket.recv(timeout=15) == "echo: hello"

    assert stop(project, proc) == 0
    output = project.output(proc)
    assert alarming_lines(output) == [], output


def test_the_default_asgi_target_is_the_projects_asgi_module(project: Project) -> None:
    port = free_port()
    use_daphne(project, address(port))
    assert dry_run(project) == f"daphne mysite.asgi:application --bind=127.0.0.1 --port={port}"
    assert dry_run(project, "--", "--port=9") == (
        "daphne mysite.asgi:application --bind=127.0.0.1 --port=9"  # -- replaces, not adds
    )
    # Daphne's two underscored options, spelled by the ARGS rule after --, reach it its way.
    assert dry_run(project, "--", "--websocket-connect-timeout=9") == (
        f"daphne mysite.asgi:application --bind=127.0.0.1 --port={port} "
        "--websocket_connect_timeout=9"
    )


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["SIGTERM", "SIGINT", "ctrl-c"],
)
def test_signal_finishes_request_in_flight(
    project: Project, sig: signal.Signals, group: bool
) -> None:
    port = free_port()
    proc, marker = start_with_inflight_marker(project, DAPHNE, address(port), port)
    client, result = slow_request_in_flight(port, marker)

    status = stop(project, proc, sig, group=group)
    client.join(timeout=30)
    output = project.output(proc)
    assert result.get("response") == (200, f"slept {float(SLOW_SECONDS)}\n"), output
    assert status == 0, output


def test_a_new_connection_is_refused_while_draining(project: Project) -> None:
    """After SIGTERM the port is closed at once, so a load balancer sends traffic elsewhere."""
    port = free_port()
    proc, marker = start_with_inflight_marker(project, DAPHNE, address(port), port)
    client, result = slow_request_in_flight(port, marker, seconds=3)

    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    listening = True
    while listening and time.monotonic() < deadline:
        listening = any(
            c.laddr.port == port and c.status == psutil.CONN_LISTEN
            for c in psutil.Process(proc.pid).net_connections(kind="tcp")
        )
        time.sleep(0.05)
    assert not listening
    assert proc.poll() is None  # still finishing the slow request
    client.join(timeout=30)
    assert result.get("response") == (200, "slept 3.0\n")
    assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"workers": 2}, "unrecognized arguments: --workers=2."),
        ({"port": "eighty"}, "argument -p/--port: invalid int value: 'eighty'."),
        ({"websocket_timeout": "1m"}, "argument --websocket_timeout: invalid int value: '1m'."),
    ],
    ids=["unknown-option", "bad-port", "bad-websocket-timeout"],
)
def test_bad_arguments_are_one_line_and_exit_1(
    project: Project, args: dict[str, Any], reason: str
) -> None:
    use_daphne(project, args)
    assert_args_rejected(project, "daphne", reason)
