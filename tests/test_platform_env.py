"""``$PORT`` and ``$WEB_CONCURRENCY`` for the six web backends, on real servers.

With ARGS that set no address, ``PORT=<free port>`` makes each server answer on that port;
with ``WEB_CONCURRENCY=3`` the multi-process servers serve from three worker processes (the
distinct pids answering ``/pid/``). Explicit options win, and a value that is not a positive
integer stops the start in one line naming the variable.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_web_servers import (
    ALL,
    GUNICORN,
    PROCESS_POOLS,
    WAITRESS,
    Backend,
    serving_pids,
    settings_for,
    start_line,
    stop,
)

from conftest import MANAGE_PY, Project, free_port, wait_for_http


def start_with(project: Project, port: int, **env: str) -> subprocess.Popen[str]:
    proc = project.start_command([sys.executable, str(MANAGE_PY), "prodserver", "web"], env=env)
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{project.output(proc)}") from None
    return proc


@pytest.mark.server
@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", PROCESS_POOLS, ids=str)
def test_port_and_web_concurrency_make_the_server(project: Project, backend: Backend) -> None:
    port = free_port()
    settings_for(project, backend, dict(backend.always))
    proc = start_with(project, port, PORT=str(port), WEB_CONCURRENCY="3")
    line = start_line(project, proc)
    assert "--workers=3" in line, line
    assert len(serving_pids(port, 3)) == 3
    assert stop(project, proc) == 0


@pytest.mark.server
@pytest.mark.timeout(120)
def test_waitress_listens_on_port_and_keeps_its_threads(project: Project) -> None:
    port = free_port()
    settings_for(project, WAITRESS, {})
    proc = start_with(project, port, PORT=str(port), WEB_CONCURRENCY="3")
    assert start_line(project, proc) == (
        f"waitress-serve --listen=0.0.0.0:{port} mysite.wsgi:application"
    )
    assert stop(project, proc) == 0


def dry_run_with(project: Project, **env: str) -> tuple[int, str, str]:
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "prodserver", "web", "--dry-run"],
        cwd=project.tmp_path,
        env={**project.env, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout.strip(), result.stderr.strip()


@pytest.mark.parametrize("backend", ALL, ids=str)
def test_explicit_args_win(project: Project, backend: Backend) -> None:
    settings_for(project, backend, backend.args(8123, **{backend.concurrency: 2}))
    status, command, _ = dry_run_with(project, PORT="9999", WEB_CONCURRENCY="7")
    assert status == 0
    assert "9999" not in command and "=7" not in command
    assert "8123" in command and "=2" in command


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PORT", "abc"), ("PORT", "0"), ("PORT", "70000"), ("WEB_CONCURRENCY", "-1")],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    project: Project, variable: str, value: str
) -> None:
    settings_for(project, GUNICORN, {})
    status, command, error = dry_run_with(project, **{variable: value})
    assert (status, command) == (1, "")
    assert error.count("\n") == 0, error
    assert f'The environment variable {variable} is "{value}"' in error
    assert "Traceback" not in error


def test_list_shows_the_result(project: Project) -> None:
    project.use_settings({"web": {"BACKEND": "granian"}, "api": {"BACKEND": "uvicorn"}})
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "prodserver", "--list"],
        cwd=project.tmp_path,
        env={**project.env, "PORT": "5000", "WEB_CONCURRENCY": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines() == [
        "web\tgranian (GranianASGIServer)\tgranian --interface=asginl --host=0.0.0.0 "
        "--port=5000 --workers=2 mysite.asgi:application",
        "api\tuvicorn (UvicornServer)\tuvicorn mysite.asgi:application --lifespan=off "
        "--host=0.0.0.0 --port=5000 --workers=2",
    ]


@pytest.mark.server
@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("path", "workers"),
    [
        ("django_prodserver.backends.hypercorn.HypercornServer", 3),
        ("django_prodserver.backends.daphne.DaphneServer", 1),  # one process: no workers
    ],
    ids=["hypercorn", "daphne"],
)
def test_port_and_web_concurrency_for_the_later_asgi_servers(
    project: Project, path: str, workers: int
) -> None:
    port = free_port()
    project.use_settings({"web": {"BACKEND": path}})
    proc = start_with(project, port, PORT=str(port), WEB_CONCURRENCY="3")
    assert len(serving_pids(port, workers)) == workers
    assert ("--workers=3" in start_line(project, proc)) == (workers == 3)
    assert stop(project, proc) == 0
