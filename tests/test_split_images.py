"""A web image without the workers' packages: one extra installed, every process configured.

A real virtualenv gets the wheel of this checkout with only the ``gunicorn`` extra, and a fresh
``startproject`` whose settings also name a Celery worker and beat, a Django-Q2 cluster and a
Django Tasks worker (as one settings module shared by every image does). Django's own commands
and the web process must work; each worker process must fail to start in one line naming its
extra. Before the fix, ``migrate`` stopped with ``SystemCheckError: prodserver.E008``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port, http_get, kill_tree, wait_for_http

# One virtualenv for the module (module-scoped), so one xdist worker runs it.
pytestmark = [pytest.mark.server, pytest.mark.timeout(300), pytest.mark.xdist_group("split-images")]

WORKERS = {
    "worker": ("django_prodserver.backends.celery.CeleryWorker", "celery", "celery"),
    "beat": ("django_prodserver.backends.celery.CeleryBeat", "celery", "celery"),
    "qcluster": ("django_prodserver.backends.django_q2.DjangoQ2Worker", "django_q", "django-q2"),
    "tasks": (
        "django_prodserver.backends.django_tasks.DjangoTasksWorker",
        "django_tasks_db",
        "django-tasks",
    ),
}


@dataclass(frozen=True)
class WebImage:
    root: Path
    python: Path
    port: int

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "manage.py", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
        }
        return {**env, "XDG_RUNTIME_DIR": str(self.root), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def web_image(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> WebImage:
    root = tmp_path_factory.mktemp("web-image")
    subprocess.run([sys.executable, "-m", "venv", str(root / ".venv")], check=True)
    python = root / ".venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[gunicorn]"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert install.returncode == 0, install.stderr
    subprocess.run(
        [str(python), "-m", "django", "startproject", "shop", str(root)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    processes = {
        "web": {
            "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer",
            "ARGS": {"bind": f"127.0.0.1:{port}", "workers": 2},
        },
        **{
            name: {"BACKEND": path, **({"APP": "shop.celery.app"} if pkg == "celery" else {})}
            for name, (path, pkg, _) in WORKERS.items()
        },
    }
    settings = root / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + '\nINSTALLED_APPS += ["django_prodserver"]\nALLOWED_HOSTS = ["127.0.0.1"]\n'
        f"DEBUG = False\nSTATIC_ROOT = BASE_DIR / 'static'\nPRODUCTION_PROCESSES = {processes!r}\n"
        # Django 6.1's startproject sends mail to the console, an error for check --deploy.
        'MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}\n'
    )
    return WebImage(root, python, port)


def test_the_image_lacks_the_worker_packages(web_image: WebImage) -> None:
    for _, package, _ in WORKERS.values():
        probe = subprocess.run(
            [str(web_image.python), "-c", f"import {package}"], capture_output=True, text=True
        )
        assert f"No module named '{package}'" in probe.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["migrate", "--verbosity=0"],
        ["check"],
        ["check", "--deploy"],
        ["collectstatic", "--noinput", "--verbosity=0"],
        ["shell", "--command", "print('shell ok')"],
        ["prodserver", "web", "--dry-run"],
    ],
    ids=" ".join,
)
def test_django_commands_and_the_web_process_work(web_image: WebImage, command: list[str]) -> None:
    result = web_image.manage(*command)
    assert result.returncode == 0, result.stderr
    if command[0] in ("migrate", "check"):
        # Each missing package is said once per process, as a warning naming the extra.
        for name, (_, package, extra) in WORKERS.items():
            assert (
                f'{name}: (prodserver.W002) PRODUCTION_PROCESSES["{name}"] uses ' in result.stderr
                and f'"{package}" package is not installed.' in result.stderr
                and f'HINT: Install it: pip install "django-prodserver[{extra}]"' in result.stderr
            ), result.stderr


def test_list_shows_what_cannot_start_here(web_image: WebImage) -> None:
    result = web_image.manage("prodserver", "--list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("web\tgunicorn (GunicornServer)\tgunicorn shop.wsgi:application ")
    assert [line.split("\t")[:2] for line in lines[1:]] == [
        [name, "(cannot start here)"] for name in WORKERS
    ]


@pytest.mark.parametrize("name", WORKERS)
def test_each_worker_fails_in_one_line_naming_its_extra(web_image: WebImage, name: str) -> None:
    path, package, extra = WORKERS[name]
    result = web_image.manage("prodserver", name)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f'ProdserverError: PRODUCTION_PROCESSES["{name}"] uses {path.rpartition(".")[2]}, but '
        f'the "{package}" package is not installed. Install it: pip install '
        f'"django-prodserver[{extra}]"'
    ]


def test_the_web_process_serves(web_image: WebImage) -> None:
    log = (web_image.root / "web.log").open("w")
    proc = subprocess.Popen(
        [str(web_image.python), "manage.py", "prodserver", "web"],
        cwd=web_image.root,
        env=web_image.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{web_image.port}/admin/login/"
        wait_for_http(url, proc)
        status, body = http_get(url)
        assert status == 200 and "Django administration" in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        kill_tree(proc.pid)
