"""Flower, started for real through ``manage.py prodserver NAME`` against the suite's redis-server.

A Celery worker of the example project runs beside it (also through prodserver), so the
dashboard has a worker to show. Flower answers 401 without the basic-auth credentials and 200
with them; a process that would listen beyond loopback with no authentication never starts.
"""

from __future__ import annotations

import base64
import json
import signal
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from test_web_servers import assert_args_rejected, stop

from conftest import Project, RedisServer, free_port, wait_for_http

pytestmark = [pytest.mark.server, pytest.mark.timeout(120)]

FLOWER = "django_prodserver.backends.flower.CeleryFlower"
WORKER = "django_prodserver.backends.celery.CeleryWorker"
APP = "mysite.celery.app"
PASSWORD = "s3cret-flower-pw"
AUTH = f"admin:{PASSWORD}"


def flower(args: dict[str, Any]) -> dict[str, Any]:
    return {"BACKEND": FLOWER, "APP": APP, "ARGS": args}


def get(url: str, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def use(project: Project, redis_server: RedisServer, processes: dict[str, Any]) -> None:
    project.use_settings(
        processes, CELERY_BROKER_URL=redis_server.url, CELERY_TASK_DEFAULT_QUEUE="flower-test"
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_dashboard_shows_the_worker_and_needs_the_password(
    project: Project, redis_server: RedisServer, sig: signal.Signals
) -> None:
    port = free_port()
    hostname = f"flowertest-{port}@localhost"
    use(
        project,
        redis_server,
        {
            "worker": {
                "BACKEND": WORKER,
                "APP": APP,
                "ARGS": {"concurrency": 1, "hostname": hostname},
            },
            # Loopback only on this shared machine; the password is still required.
            "flower": flower({"address": "127.0.0.1", "port": port, "basic_auth": AUTH}),
        },
    )
    expected = f"celery --app={APP} flower --address=127.0.0.1 --port={port} '--basic-auth=***'"
    dry_run = project.manage("prodserver", "flower", "--dry-run", check=True)
    assert dry_run.stdout.strip() == expected

    worker = project.start("prodserver", "worker")
    proc = project.start("prodserver", "flower")
    base = f"http://127.0.0.1:{port}"
    assert wait_for_http(f"{base}/", proc) == 401
    assert f'prodserver: starting "flower": {expected}\n' in project.output(proc)
    assert get(f"{base}/")[0] == 401
    assert get(f"{base}/api/workers", auth="admin:wrong")[0] == 401
    status, body = get(f"{base}/", auth=AUTH)
    assert status == 200 and "Flower" in body, body[:500]

    deadline = time.monotonic() + 60
    workers: dict[str, Any] = {}
    while hostname not in workers and time.monotonic() < deadline:
        status, body = get(f"{base}/api/workers?refresh=1", auth=AUTH)
        assert status == 200, body
        workers = json.loads(body)
        time.sleep(0.5)
    assert hostname in workers, workers
    status, body = get(f"{base}/workers", auth=AUTH)
    assert status == 200 and hostname in body

    assert stop(project, proc, sig) == 0
    output = project.output(proc)
    assert PASSWORD not in output, output
    assert stop(project, worker) == 0


@pytest.mark.parametrize(
    "args",
    [{"port": 5555}, {"port": 5555, "address": "0.0.0.0"}, {"address": "10.1.2.3"}],
    ids=["default-address", "all-interfaces", "private-address"],
)
def test_no_authentication_beyond_loopback_is_refused(
    project: Project, redis_server: RedisServer, args: dict[str, Any]
) -> None:
    use(project, redis_server, {"flower": flower(args)})
    result = project.manage("prodserver", "flower")
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Flower would listen on" in lines[0] and "with no authentication" in lines[0]
    assert 'Set "basic_auth" in ARGS' in lines[0]
    check = project.manage("check", "--deploy")
    assert "prodserver.E023" in check.stderr, check.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ({"address": "127.0.0.1"}, {}),
        ({"address": "::1"}, {}),
        ({"unix_socket": "/tmp/flower.sock"}, {}),
        ({"basic_auth": AUTH}, {}),
        ({"auth": ".*@example\\.com"}, {}),
        ({"auth_provider": "flower.views.auth.GithubLoginHandler"}, {}),
        ({}, {"FLOWER_BASIC_AUTH": AUTH}),
    ],
    ids=["loopback", "loopback-v6", "unix-socket", "basic-auth", "oauth", "auth-provider", "env"],
)
def test_loopback_or_any_authentication_passes_the_check(
    project: Project,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
    args: dict[str, Any],
    env: dict[str, str],
) -> None:
    use(project, redis_server, {"flower": flower(args)})
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # the project's processes inherit the environment
    check = project.manage("check", "--deploy")
    assert "prodserver.E" not in check.stderr, check.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ({"basic_auht": AUTH}, "Unrecognized command line option: 'basic-auht'."),
        (
            {"port": "http", "address": "127.0.0.1"},
            "invalid value for --port: invalid literal for int() with base 10: 'http'.",
        ),
    ],
    ids=["unknown-option", "bad-port"],
)
def test_bad_arguments_are_one_line_and_exit_1(
    project: Project, redis_server: RedisServer, args: dict[str, Any], reason: str
) -> None:
    use(project, redis_server, {"web": flower(args)})
    assert_args_rejected(project, "celery flower", reason)
