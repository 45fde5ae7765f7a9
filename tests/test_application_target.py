"""The application a web server serves is checked before anything starts, not assumed.

Reproduces a project without ``asgi.py`` (as ``startproject`` wrote them before Django 3.0,
and as some well-known demo sites still are): every ASGI backend used to accept
``<project>.asgi:application`` in ``check``, ``--list`` and ``--dry-run``, and multi-worker
Uvicorn then exited with status 0 without serving anything.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from packaging.version import Version

from conftest import Project, free_port

pytestmark = pytest.mark.server

UVICORN = "django_prodserver.backends.uvicorn.UvicornServer"
GRANIAN = "django_prodserver.backends.granian.GranianASGIServer"
GUNICORN = "django_prodserver.backends.gunicorn.GunicornServer"
WAITRESS = "django_prodserver.backends.waitress.WaitressServer"


def old_project(project: Project, processes: dict[str, object]) -> None:
    """A fresh ``startproject oldsite`` whose ``asgi.py`` is removed."""
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "oldsite", str(project.tmp_path)],
        check=True,
        capture_output=True,
    )
    (project.tmp_path / "oldsite" / "asgi.py").unlink()
    settings = project.tmp_path / "oldsite" / "settings.py"
    settings.write_text(
        settings.read_text() + '\nINSTALLED_APPS += ["django_prodserver"]\n'
        f"PRODUCTION_PROCESSES = {processes!r}\n"
    )
    project.settings_module = "oldsite.settings"


def missing_asgi(name: str) -> str:
    return (
        f'PRODUCTION_PROCESSES["{name}"] serves oldsite.asgi:application, but the module '
        '"oldsite.asgi" cannot be found. Add oldsite/asgi.py (startproject writes one beside '
        "wsgi.py), set ASGI_APPLICATION to your ASGI application, or use a WSGI backend such "
        "as GunicornServer."
    )


@pytest.mark.parametrize("backend", [UVICORN, GRANIAN], ids=["uvicorn", "granian"])
def test_missing_asgi_module_is_an_error_everywhere(project: Project, backend: str) -> None:
    port = free_port()
    old_project(
        project,
        {
            "web": {"BACKEND": backend, "ARGS": {"port": port, "workers": 2}},
            "wsgi": {"BACKEND": GUNICORN, "ARGS": {"bind": f"127.0.0.1:{port}"}},
        },
    )
    for check in (["check"], ["check", "--deploy"]):
        result = project.manage(*check)
        assert result.returncode == 1, result.stderr
        assert f"web: (prodserver.E016) {missing_asgi('web')}" in result.stderr
    for command in (["web", "--dry-run"], ["web"]):
        result = project.manage("prodserver", *command, timeout=60)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr.splitlines() == [f"ProdserverError: {missing_asgi('web')}"]
    listing = project.manage("prodserver", "--list")
    assert listing.returncode == 1
    assert f"web\t(misconfigured)\t{missing_asgi('web')}" in listing.stdout.splitlines()
    # The WSGI process of the same project is fine: the module it serves exists.
    dry_run = project.manage("prodserver", "wsgi", "--dry-run", check=True)
    assert dry_run.stdout.startswith("gunicorn oldsite.wsgi:application ")


@pytest.mark.parametrize("backend", [GUNICORN, WAITRESS], ids=["gunicorn", "waitress"])
def test_app_naming_a_missing_module_is_an_error(project: Project, backend: str) -> None:
    project.use_settings({"web": {"BACKEND": backend, "APP": "mysite.wsgi_typo.application"}})
    result = project.manage("prodserver", "web")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        'ProdserverError: PRODUCTION_PROCESSES["web"] serves mysite.wsgi_typo:application, but '
        'the module "mysite.wsgi_typo" cannot be found. Check the process\'s "APP".'
    ]
    check = project.manage("check")
    assert "(prodserver.E016)" in check.stderr


#: From this release Uvicorn's supervisor stops when a worker fails before it serves; before
#: it, the supervisor restarts such a worker forever (natively and under prodserver alike).
UVICORN_STOPS_ON_FAILED_WORKERS = Version("0.50")


@pytest.mark.skipif(
    Version(importlib.metadata.version("uvicorn")) < UVICORN_STOPS_ON_FAILED_WORKERS,
    reason="Uvicorn before 0.50 restarts a worker that cannot start forever, natively too",
)
def test_uvicorn_workers_that_never_start_are_a_failed_start(project: Project) -> None:
    """Native ``uvicorn --workers=2`` exits 0 here; prodserver says so and exits 3."""
    port = free_port()
    project.use_settings(
        {
            "web": {
                "BACKEND": UVICORN,
                "APP": "mysite.asgi.no_such_attribute",
                "ARGS": {"host": "127.0.0.1", "port": port, "workers": 2},
            }
        }
    )
    result = project.manage("prodserver", "web", timeout=90)
    assert result.returncode == 3, result.stderr
    assert 'Attribute "no_such_attribute" not found in module "mysite.asgi"' in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        'prodserver: process "web": no Uvicorn worker started (see the log above), so the start '
        "failed; uvicorn itself would exit with status 0.",
        'prodserver: process "web" (uvicorn) stopped with status 3; its log above says why.',
    ]
