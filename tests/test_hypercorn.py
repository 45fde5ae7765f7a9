"""Hypercorn, started for real through ``manage.py prodserver NAME``.

Hypercorn always speaks the ASGI lifespan protocol, which Django refuses; the backend serves
the project through :mod:`django_prodserver.asgi_without_lifespan`, so the output must carry no
lifespan warning. With several workers the native ``hypercorn`` kills a worker that is busy
with a request when it stops; the backend's workers must finish it.
"""

from __future__ import annotations

import signal
from typing import Any

import psutil
import pytest
from test_web_servers import (
    INDEX_BODY,
    SLOW_SECONDS,
    TAGGED_ASGI,
    alarming_lines,
    assert_args_rejected,
    dry_run,
    get,
    serving_pids,
    slow_request_in_flight,
    start,
    start_line,
    start_with_inflight_marker,
    stop,
)

from conftest import Project, free_port, http_get

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

HYPERCORN = "django_prodserver.backends.hypercorn.HypercornServer"
WRAPPER = "django_prodserver.asgi_without_lifespan:application"


def use_hypercorn(project: Project, args: dict[str, Any], **more: Any) -> None:
    process: dict[str, Any] = {"BACKEND": HYPERCORN, "ARGS": args}
    if "app" in more:
        process["APP"] = more.pop("app")
    project.use_settings({"web": process}, **more)


def bind(port: int, **more: Any) -> dict[str, Any]:
    return {"bind": f"127.0.0.1:{port}", **more}


def test_workers_serve_quietly_as_dry_run_says(project: Project) -> None:
    port = free_port()
    use_hypercorn(project, bind(port, workers=2))
    expected = (
        f"DJANGO_PRODSERVER_ASGI_APPLICATION=mysite.asgi:application hypercorn {WRAPPER} "
        f"--bind=127.0.0.1:{port} --workers=2"
    )
    assert dry_run(project) == expected

    proc = start(project, port=port)
    assert start_line(project, proc) == expected
    assert http_get(f"http://127.0.0.1:{port}/") == (200, INDEX_BODY)
    pids = serving_pids(port, 2)
    assert len(pids) == 2, pids
    assert pids <= {p.pid for p in psutil.Process(proc.pid).children()}
    assert stop(project, proc) == 0
    output = project.output(proc)
    assert alarming_lines(output) == [], output  # in particular no "Lifespan error"
    assert output.count("Running on http://127.0.0.1") == 2, output


def test_app_override_is_served_by_every_worker(project: Project) -> None:
    (project.tmp_path / "tagged_asgi.py").write_text(TAGGED_ASGI)
    port = free_port()
    use_hypercorn(project, bind(port, workers=2), app="tagged_asgi.application")
    proc = start(project, port=port)
    assert start_line(project, proc).startswith(
        f"DJANGO_PRODSERVER_ASGI_APPLICATION=tagged_asgi:application hypercorn {WRAPPER} "
    )
    pids = serving_pids(port, 2)
    for _ in range(8):
        status, headers, _body = get(f"http://127.0.0.1:{port}/pid/")
        assert status == 200 and headers.get("x-served-by") == "tagged-asgi", (status, headers)
    assert len(pids) == 2, pids
    assert stop(project, proc) == 0


@pytest.mark.parametrize(
    ("workers", "sig", "group"),
    [
        (2, signal.SIGTERM, False),
        (1, signal.SIGTERM, False),
        (2, signal.SIGINT, False),
        (2, signal.SIGINT, True),
        (2, signal.SIGTERM, True),
    ],
    ids=["SIGTERM-w2", "SIGTERM-w1", "SIGINT-w2", "ctrl-c-w2", "SIGTERM-group-w2"],
)
def test_signal_finishes_request_in_flight(
    project: Project, workers: int, sig: signal.Signals, group: bool
) -> None:
    port = free_port()
    proc, marker = start_with_inflight_marker(project, HYPERCORN, bind(port, workers=workers), port)
    if workers > 1:
        assert len(serving_pids(port, workers)) == workers  # the other worker is up and idle
    client, result = slow_request_in_flight(port, marker)

    status = stop(project, proc, sig, group=group)
    client.join(timeout=30)
    output = project.output(proc)
    assert result.get("response") == (200, f"slept {float(SLOW_SECONDS)}\n"), output
    assert status == 0, output


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"host": "127.0.0.1"}, "unrecognized arguments: --host=127.0.0.1."),
        ({"workers": "two"}, "argument -w/--workers: invalid int value: 'two'."),
        ({"graceful_timeout": "soon"}, "argument --graceful-timeout: invalid int value: 'soon'."),
    ],
    ids=["unknown-option", "bad-workers", "bad-graceful-timeout"],
)
def test_bad_arguments_are_one_line_and_exit_1(
    project: Project, args: dict[str, Any], reason: str
) -> None:
    use_hypercorn(project, args)
    assert_args_rejected(project, "hypercorn", reason)
