"""Arguments after ``--`` replace the configured option, whatever its spelling; never add to it.

The live tests bind ARGS to one port and give another after ``--`` with each backend's own
address option: the new port answers and the configured one refuses connections (Gunicorn and
Waitress would otherwise listen on both).
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from test_web_servers import ALL, GUNICORN, Backend, settings_for, start, start_line, stop

from conftest import Project, free_port
from django_prodserver.config import ProcessConfig
from django_prodserver.overrides import replace_options

TABLE = {
    "--bind": ("bind", True),
    "-b": ("bind", True),
    "--workers": ("workers", True),
    "-w": ("workers", True),
    "--preload": ("preload_app", False),
    "--access-log": ("access_log", False),
    "--no-access-log": ("access_log", False),
}
CONFIGURED = ["--bind=127.0.0.1:8000", "-b", "unix:/run/web.sock", "--workers=2", "--preload"]


@pytest.mark.parametrize(
    ("overrides", "kept", "replaced"),
    [
        (
            ["--bind=0.0.0.0:9000"],
            ["--workers=2", "--preload"],
            ["--bind=127.0.0.1:8000", "-b unix:/run/web.sock"],
        ),
        (
            ["-b", "0.0.0.0:9000"],
            ["--workers=2", "--preload"],
            ["--bind=127.0.0.1:8000", "-b unix:/run/web.sock"],
        ),
        (
            ["-b0.0.0.0:9000"],
            ["--workers=2", "--preload"],
            ["--bind=127.0.0.1:8000", "-b unix:/run/web.sock"],
        ),
        (
            ["-w", "8"],
            ["--bind=127.0.0.1:8000", "-b", "unix:/run/web.sock", "--preload"],
            ["--workers=2"],
        ),
        (["--timeout=5"], CONFIGURED, []),
    ],
    ids=["long=", "short-separate", "short-attached", "other-option", "new-option"],
)
def test_an_override_replaces_every_spelling(
    overrides: list[str], kept: list[str], replaced: list[str]
) -> None:
    assert replace_options(CONFIGURED, overrides, TABLE) == (kept, replaced)


def test_a_flag_and_its_no_twin_are_one_option() -> None:
    assert replace_options(["--access-log", "--workers=2"], ["--no-access-log"], TABLE) == (
        ["--workers=2"],
        ["--access-log"],
    )


def test_repeats_after_double_dash_are_all_kept(project: Project) -> None:
    project.use_settings({"web": {"BACKEND": "gunicorn", "ARGS": {"bind": "127.0.0.1:8000"}}})
    result = project.manage(
        "prodserver", "web", "--dry-run", "--", "--bind=127.0.0.1:9000", "-b", "unix:/run/w.sock"
    )
    assert result.stdout == (
        "gunicorn mysite.wsgi:application --bind=127.0.0.1:9000 -b unix:/run/w.sock\n"
    )


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _override(backend: Backend, port: int) -> list[str]:
    """The backend's own address option for ``port``, as typed after ``--``."""
    if backend.id == "gunicorn":
        return [f"--bind=127.0.0.1:{port}"]
    if backend.id == "waitress":
        return [f"--listen=127.0.0.1:{port}"]
    return ["--port", str(port)]


CASES: list[Any] = [
    *[pytest.param(b, _override, id=b.id) for b in ALL],
    pytest.param(GUNICORN, lambda b, port: ["-b", f"127.0.0.1:{port}"], id="gunicorn-short"),
]


@pytest.mark.server
@pytest.mark.timeout(90)
@pytest.mark.parametrize(("backend", "override"), CASES)
def test_the_address_after_double_dash_replaces_the_configured_one(
    project: Project, backend: Backend, override: Any
) -> None:
    configured, wanted = free_port(), free_port()
    settings_for(project, backend, backend.args(configured))
    proc = start(project, "--", *override(backend, wanted), port=wanted)
    line = start_line(project, proc)
    assert line.endswith(" from ARGS)"), line
    assert str(configured) in line.rpartition("(after --, replacing ")[2]
    assert refuses(configured)
    assert stop(project, proc) in (0, -15)


@pytest.mark.parametrize(
    "override",
    [["--websocket_timeout=60"], ["--websocket-timeout=60"], ["--websocket_timeout", "60"]],
    ids=["daphne-spelling", "args-spelling", "separate-value"],
)
def test_daphnes_underscored_option_is_replaced_in_either_spelling(override: list[str]) -> None:
    """ARGS write ``--websocket-timeout``, Daphne ``--websocket_timeout``: one option."""
    from django_prodserver.backends.daphne import DaphneServer

    config = ProcessConfig(
        name="ws", backend=DaphneServer, args={"port": 8001, "websocket_timeout": 3600}
    )
    made = DaphneServer(config, override)
    assert made.prep_server_args() == [
        "mysite.asgi:application",
        "--port=8001",
        *(["--websocket_timeout=60"] if len(override) == 1 else override),
    ]
    assert made.replaced == ["--websocket-timeout=3600"]
