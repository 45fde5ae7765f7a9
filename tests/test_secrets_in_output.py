"""Secrets in ARGS never reach what ``manage.py prodserver`` prints, and DEBUG is announced.

Real subprocesses of the example project. A Gunicorn, a Uvicorn and a Celery process hold a
password in a URL, the value of a secret option and a secret ``NAME=value`` pair, in the
places each server accepts them: Gunicorn's ``env`` (a URL and a pair; Gunicorn has no option
named like a secret), Uvicorn's ``ssl_keyfile_password`` and a URL in a ``header`` (as list
ARGS, so the ``--opt value`` form too), and for Celery options a project adds to the worker
through ``app.user_options`` (Celery's own way to extend its command line). None of the
three secrets may appear in the start line (or anything else the running server logs), in
``--list``, in the error about a bad value next to them, in ``manage.py check --deploy`` or in
``--dry-run``; ``--dry-run --show-secrets`` prints the real command.
"""

from __future__ import annotations

import re
import subprocess
import time
from typing import Any

import pytest

from conftest import Project, RedisServer, free_port, http_get, wait_for_http

GUNICORN = "django_prodserver.backends.gunicorn.GunicornServer"
UVICORN = "django_prodserver.backends.uvicorn.UvicornServer"
CELERY_WORKER = "django_prodserver.backends.celery.CeleryWorker"

URL_PASSWORD = "S3CRET-URL-PASSWORD"
OPTION_VALUE = "S3CRET-OPTION-VALUE"
PAIR_VALUE = "S3CRET-PAIR-VALUE"
SECRETS = (URL_PASSWORD, OPTION_VALUE, PAIR_VALUE)
#: The secrets each process holds (Gunicorn has no option named like a secret).
HELD_BY = {
    "web": {URL_PASSWORD, PAIR_VALUE},
    "api": {URL_PASSWORD, OPTION_VALUE},
    "worker": set(SECRETS),
}
UPSTREAM = f"https://svc:{URL_PASSWORD}@upstream.example.com/"
MASKED_UPSTREAM = "https://svc:***@upstream.example.com/"

#: A Celery app with three more worker options, as a project adds them for its bootsteps.
CELERY_APP = """
import click

from mysite.celery import app

app.user_options["worker"].update(
    {
        click.Option(["--api-token"]),
        click.Option(["--upstream-url"]),
        click.Option(["--env"], multiple=True),
    }
)
"""

DEBUG_WARNING = re.compile(r'^prodserver: warning: process "web" runs with DEBUG = True', re.M)


def processes(port: int) -> dict[str, Any]:
    """The three processes with secrets, and each with a bad value beside the secrets."""
    good = {
        "web": {
            "BACKEND": GUNICORN,
            "ARGS": {
                "bind": f"127.0.0.1:{port}",
                "workers": 1,
                "env": [
                    f"DATABASE_URL=postgres://app:{URL_PASSWORD}@db/app",
                    f"SECRET_KEY={PAIR_VALUE}",
                ],
            },
        },
        "api": {
            "BACKEND": UVICORN,
            "ARGS": [
                "--host=127.0.0.1",
                f"--port={port}",
                "--ssl-keyfile-password",
                OPTION_VALUE,
                "--header",
                f"X-Upstream:{UPSTREAM}",
            ],
        },
        "worker": {
            "BACKEND": CELERY_WORKER,
            "APP": "secret_celery.app",
            "ARGS": {
                "pool": "solo",
                "loglevel": "info",
                "api_token": OPTION_VALUE,
                "upstream_url": UPSTREAM,
                "env": [f"AWS_SECRET_ACCESS_KEY={PAIR_VALUE}"],
            },
        },
    }
    bad = {
        "web-bad": {**good["web"], "ARGS": {**good["web"]["ARGS"], "workers": "many"}},
        "api-bad": {**good["api"], "ARGS": [*good["api"]["ARGS"], "--workers", "many"]},
        "worker-bad": {**good["worker"], "ARGS": {**good["worker"]["ARGS"], "concurrency": "x"}},
        # A type error in ARGS: the message quotes the value it refuses.
        "web-typed": {"BACKEND": GUNICORN, "ARGS": {"env": {"SECRET_KEY": PAIR_VALUE}}},
    }
    return {**good, **bad}


#: What each process's start line and ``--dry-run`` must show: the native command, masked.
def masked_commands(port: int) -> dict[str, str]:
    return {
        "web": f"gunicorn mysite.wsgi:application --bind=127.0.0.1:{port} --workers=1 "
        "'--env=DATABASE_URL=postgres://app:***@db/app' '--env=SECRET_KEY=***'",
        "api": f"uvicorn mysite.asgi:application --lifespan=off --host=127.0.0.1 --port={port} "
        f"--ssl-keyfile-password '***' --header 'X-Upstream:{MASKED_UPSTREAM}'",
        "worker": "celery --app=secret_celery.app worker --pool=solo --loglevel=info "
        f"'--api-token=***' '--upstream-url={MASKED_UPSTREAM}' '--env=AWS_SECRET_ACCESS_KEY=***'",
    }


@pytest.fixture
def secret_project(project: Project, redis_server: RedisServer) -> tuple[Project, int]:
    """The project with the processes above; returns it and the port the web servers use."""
    (project.tmp_path / "secret_celery.py").write_text(CELERY_APP)
    port = free_port()
    project.use_settings(processes(port), CELERY_BROKER_URL=redis_server.url)
    return project, port


def assert_no_secret(text: str) -> None:
    found = [secret for secret in SECRETS if secret in text]
    assert not found, f"{found} printed:\n{text}"


def start_line(output: str, name: str) -> str:
    match = re.search(rf'^prodserver: starting "{name}": (.*)$', output, re.M)
    assert match, output
    return match.group(1)


def wait_for_text(project: Project, proc: subprocess.Popen[str], text: str) -> None:
    deadline = time.monotonic() + 60
    while text not in project.output(proc):
        assert proc.poll() is None, project.output(proc)
        assert time.monotonic() < deadline, project.output(proc)
        time.sleep(0.1)


# -- the running servers --------------------------------------------------------------------


@pytest.mark.server
@pytest.mark.parametrize("name", ["web", "api"])
def test_web_server_start_line_masks_the_secrets(
    secret_project: tuple[Project, int], name: str
) -> None:
    project, port = secret_project
    proc = project.start("prodserver", name)
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    project.stop(proc)
    output = project.output(proc)
    assert start_line(output, name) == masked_commands(port)[name]
    assert_no_secret(output)
    assert not DEBUG_WARNING.search(output) and "DEBUG" not in output  # DEBUG is off here


@pytest.mark.server
def test_celery_worker_start_line_masks_the_secrets(secret_project: tuple[Project, int]) -> None:
    project, port = secret_project
    proc = project.start("prodserver", "worker")
    wait_for_text(project, proc, " ready.")
    assert project.stop(proc) == 0
    output = project.output(proc)
    assert start_line(output, "worker") == masked_commands(port)["worker"]
    assert_no_secret(output)
    assert "prodserver: warning" not in output


# -- what prodserver prints without starting anything ---------------------------------------


@pytest.mark.parametrize("name", ["web", "api", "worker"])
def test_dry_run_masks_unless_asked(secret_project: tuple[Project, int], name: str) -> None:
    project, port = secret_project
    masked = project.manage("prodserver", name, "--dry-run")
    assert masked.returncode == 0, masked.stderr
    assert masked.stdout == masked_commands(port)[name] + "\n"
    assert masked.stderr == ""

    real = project.manage("prodserver", name, "--dry-run", "--show-secrets")
    assert real.returncode == 0, real.stderr
    assert {secret for secret in SECRETS if secret in real.stdout} == HELD_BY[name]
    # The real command is the masked one with the secrets put back, word for word.
    unquoted = re.sub("|".join(SECRETS), "***", real.stdout).replace("'", "")
    assert unquoted == masked.stdout.replace("'", "")


def test_list_masks_unless_asked(secret_project: tuple[Project, int]) -> None:
    project, port = secret_project
    result = project.manage("prodserver", "--list")
    assert result.returncode == 1  # web-typed cannot start
    assert_no_secret(result.stdout + result.stderr)
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    for name, command in masked_commands(port).items():
        assert lines[name].split("\t")[1] == command
    assert "{'SECRET_KEY': '***'}" in lines["web-typed"]

    real = project.manage("prodserver", "--list", "--show-secrets")
    assert all(secret in real.stdout for secret in SECRETS)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("web-bad", "rejected by gunicorn: argument -w/--workers: invalid int value: 'many'."),
        ("api-bad", "rejected by uvicorn: Invalid value for '--workers': 'many' is not a valid"),
        ("worker-bad", "rejected by celery: Invalid value for '-c' / '--concurrency'"),
        ("web-typed", "must be a string, a number, a path, True/False/None or a list of those"),
    ],
)
def test_error_beside_the_secrets_masks_them(
    secret_project: tuple[Project, int], name: str, reason: str
) -> None:
    project, _ = secret_project
    for argv in (("prodserver", name), ("prodserver", name, "--dry-run", "--show-secrets")):
        result = project.manage(*argv)
        assert result.returncode == 1
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert reason in line
        assert_no_secret(line)


def test_checks_mask_the_secrets(secret_project: tuple[Project, int]) -> None:
    project, _ = secret_project
    result = project.manage("check", "--deploy")
    output = result.stdout + result.stderr
    for name, check_id in [
        ("web-bad", "E012"),
        ("api-bad", "E012"),
        ("worker-bad", "E012"),
        ("web-typed", "E010"),
    ]:
        assert f'(prodserver.{check_id}) PRODUCTION_PROCESSES["{name}"]' in output
    assert_no_secret(output)


def test_parser_errors_mask_a_secret_typed_on_the_command_line(
    secret_project: tuple[Project, int],
) -> None:
    """A secret option given without ``--``, or refused by the server after ``--``."""
    project, _ = secret_project
    result = project.manage("prodserver", "web", f"--api-token={OPTION_VALUE}")
    assert result.returncode == 2
    assert "unrecognized arguments: --api-token=***." in result.stderr
    result = project.manage("prodserver", "web", "--", "--api-token", OPTION_VALUE)
    assert result.returncode == 1
    assert "unrecognized arguments: --api-token ***." in result.stderr
    assert_no_secret(result.stderr)


# -- DEBUG ----------------------------------------------------------------------------------


@pytest.mark.server
def test_debug_true_warns_once_and_serves(project: Project) -> None:
    port = free_port()
    web = {"BACKEND": GUNICORN, "ARGS": {"bind": f"127.0.0.1:{port}", "workers": 2}}
    settings = project.use_settings({"web": web}, DEBUG=True)
    proc = project.start("prodserver", "web")
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    assert http_get(f"http://127.0.0.1:{port}/")[0] == 200  # a second worker, no second line
    assert project.stop(proc) == 0
    lines = project.output(proc).splitlines()
    warnings = [line for line in lines if DEBUG_WARNING.match(line)]
    assert warnings == [
        f'prodserver: warning: process "web" runs with DEBUG = True (settings {settings}), '
        "which is meant for development: Django shows anyone who causes an error a page with "
        "your code and settings, and keeps every SQL query in memory. Set DEBUG = False in "
        "production."
    ]
    assert lines[0].startswith('prodserver: starting "web": ')
    assert lines[1] == warnings[0]  # right under the start line


@pytest.mark.parametrize("option", ["--dry-run", "--list"])
def test_debug_warning_only_when_a_process_starts(project: Project, option: str) -> None:
    project.use_settings({"web": {"BACKEND": GUNICORN}}, DEBUG=True)
    result = project.manage("prodserver", option)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
