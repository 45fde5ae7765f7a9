"""Short BACKEND names (``"gunicorn"``) and backends that packages register as entry points.

The plugin test builds a wheel of a tiny package in ``tmp_path``, installs it next to a wheel of
this checkout in a fresh virtualenv, and starts its backend by short name, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import Project, build_wheel, free_port, http_get, wait_for_http
from django_prodserver.backends import BUILTIN_BACKENDS, SHORT_NAMES


def test_table_covers_every_builtin_backend() -> None:
    assert len(set(SHORT_NAMES.values())) == len(SHORT_NAMES) == len(BUILTIN_BACKENDS)


@pytest.mark.parametrize(
    "short", ["gunicorn", "waitress", "uvicorn-wsgi", "granian", "celery-beat"]
)
def test_short_name_runs_the_same_command_as_the_class_path(project: Project, short: str) -> None:
    extra = {"APP": "mysite.celery.app"} if short.startswith("celery") else {}
    commands = []
    for backend in (short, SHORT_NAMES[short]):
        project.use_settings({"web": {"BACKEND": backend, "ARGS": {}, **extra}})
        commands.append(project.manage("prodserver", "web", "--dry-run", check=True).stdout)
    assert commands[0] == commands[1]


def test_list_shows_short_name_and_class(project: Project) -> None:
    project.use_settings(
        {
            "web": {"BACKEND": "gunicorn"},
            "dotted": {"BACKEND": "django_prodserver.backends.waitress.WaitressServer"},
        }
    )
    lines = project.manage("prodserver", "--list", check=True).stdout.splitlines()
    assert lines[0].startswith("web\tgunicorn (GunicornServer)\tgunicorn ")
    assert lines[1].startswith("dotted\twaitress (WaitressServer)\twaitress-serve ")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("gunicron", "gunicorn"), ("granian_wsgi", "granian-wsgi"), ("GunicornServer", "gunicorn")],
)
def test_did_you_mean_offers_short_names(project: Project, typed: str, meant: str) -> None:
    project.use_settings({"web": {"BACKEND": typed}})
    result = project.manage("prodserver", "web", "--dry-run")
    assert result.returncode == 1
    assert f'Did you mean "{meant}"?' in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


PLUGIN = '''
"""A backend published by a package: Python's wsgiref server."""

import sys

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.targets import wsgi_target


class WsgirefServer(BaseServerBackend):
    program = "wsgiref"

    def leading_args(self):
        return [wsgi_target(self.name, self.config.app)]

    def start_server(self, *args):
        from wsgiref.simple_server import make_server

        from django.core.wsgi import get_wsgi_application

        port = int(next(a for a in args if a.startswith("--port=")).split("=", 1)[1])
        print("wsgiref serving", port, file=sys.stderr, flush=True)
        make_server("127.0.0.1", port, get_wsgi_application()).serve_forever()
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "prodserver-wsgiref"
version = "1.0"

[project.entry-points."django_prodserver.backends"]
wsgiref = "prodserver_wsgiref:WsgirefServer"
broken = "prodserver_wsgiref.missing:Nothing"
"""


@pytest.fixture(scope="module")
def plugin_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with this checkout's wheel and a plugin package's wheel."""
    source = tmp_path_factory.mktemp("plugin-src")
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / "prodserver_wsgiref").mkdir()
    (source / "prodserver_wsgiref" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    plugin_wheel = build_wheel(
        source, tmp_path_factory.mktemp("plugin-wheel"), "prodserver_wsgiref"
    )
    root = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
    python = root / ".venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel), str(plugin_wheel)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert install.returncode == 0, install.stderr
    return python


def _plugin_project(python: Path, tmp_path: Path, processes: dict[str, object]) -> Path:
    subprocess.run(
        [str(python), "-m", "django", "startproject", "shop", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    settings = tmp_path / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + '\nINSTALLED_APPS += ["django_prodserver"]\nALLOWED_HOSTS = ["127.0.0.1"]\n'
        f"PRODUCTION_PROCESSES = {processes!r}\n"
    )
    return tmp_path


def _env(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
    }
    return {**env, "PYTHONUNBUFFERED": "1"}


def _manage(python: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "manage.py", *args],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_plugin_backend_starts_by_short_name(plugin_venv: Path, tmp_path: Path) -> None:
    port = free_port()
    root = _plugin_project(
        plugin_venv, tmp_path, {"web": {"BACKEND": "wsgiref", "ARGS": {"port": port}}}
    )
    listing = _manage(plugin_venv, root, "prodserver", "--list")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith(
        f"web\twsgiref (WsgirefServer)\twsgiref shop.wsgi:application --port={port}"
    )
    proc = subprocess.Popen(
        [str(plugin_venv), "manage.py", "prodserver", "web"],
        cwd=root,
        env=_env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200  # Django's welcome page
        assert http_get(f"http://127.0.0.1:{port}/admin/login/")[0] == 200
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_broken_entry_point_names_the_distribution(plugin_venv: Path, tmp_path: Path) -> None:
    root = _plugin_project(plugin_venv, tmp_path, {"web": {"BACKEND": "broken"}})
    result = _manage(plugin_venv, root, "prodserver", "web")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert '"broken" is registered by the package "prodserver-wsgiref"' in line
    assert "ModuleNotFoundError" in line
    check = _manage(plugin_venv, root, "check")
    assert "prodserver.E021" in check.stderr
