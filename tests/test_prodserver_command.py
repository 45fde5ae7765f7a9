"""``manage.py prodserver``, run as a real subprocess of the example project.

First a table of bad inputs: each must end with exactly one line on stderr that names the
process (where there is one), the setting and the fix, no traceback, nothing on stdout, and
exit status 1, or 2 for a misuse of the command line itself (the argparse convention). With
``--traceback`` the traceback is shown. Then the happy paths: ``--list``, ``--dry-run`` for
every web backend, the default process, ``-- extra args``, and Django's standard options.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import (
    EXAMPLE_DIR,
    MANAGE_PY,
    Project,
    descendants,
    free_port,
    http_get,
    wait_for_http,
)

B = "django_prodserver.backends."
GUNICORN = B + "gunicorn.GunicornServer"
UVICORN = B + "uvicorn.UvicornServer"
UVICORN_WSGI = B + "uvicorn.UvicornWSGIServer"
GRANIAN = B + "granian.GranianASGIServer"
GRANIAN_WSGI = B + "granian.GranianWSGIServer"
WAITRESS = B + "waitress.WaitressServer"
WEB = {"web": {"BACKEND": GUNICORN, "ARGS": {"bind": "127.0.0.1:8000", "workers": 2}}}

#: Backends the battery points at, written into the project's tmp dir (on its PYTHONPATH).
CUSTOM_BACKENDS = '''
from django_prodserver.backends.base import BaseServerBackend


class NotInstalled(BaseServerBackend):
    """Stands for a server whose package is not installed in this environment."""

    program = "absent-server"
    package = "definitely_not_installed_pkg"

    def start_server(self, *args):
        raise SystemExit("must never start")


class NotABackend:
    pass
'''


@dataclass(frozen=True)
class Case:
    """One bad input: the settings, the command line and what stderr must say."""

    processes: Any
    argv: tuple[str, ...]
    needles: tuple[str, ...]
    status: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    extra: str = ""


def case(
    id: str,
    processes: Any,
    argv: tuple[str, ...],
    *needles: str,
    status: int = 1,
    extra: str = "",
    **settings: Any,
) -> Any:
    return pytest.param(Case(processes, argv, needles, status, settings, extra), id=id)


# The needles name the process, the setting and the fix. Status 1: a problem with the
# configuration or the server's arguments (Django's CommandError). Status 2: the prodserver
# command line itself is wrong (argparse's convention for usage errors).
BATTERY = [
    case(
        "setting-not-a-dict",
        ["web"],
        (),
        "PRODUCTION_PROCESSES must be a dict of process names to process settings, not list",
        'Write it as PRODUCTION_PROCESSES = {"web": {"BACKEND": ',
    ),
    case(
        "setting-missing",
        None,
        (),
        "The PRODUCTION_PROCESSES setting is not defined.",
        "Add it to your settings, e.g. PRODUCTION_PROCESSES = {",
        extra="del PRODUCTION_PROCESSES",
    ),
    case(
        "setting-empty",
        {},
        (),
        "PRODUCTION_PROCESSES is empty: there is no process to start.",
        "Add at least one process",
    ),
    case(
        "process-not-a-dict",
        {"web": GUNICORN},
        ("web",),
        'PRODUCTION_PROCESSES["web"] must be a dict with a "BACKEND" key, not str.',
        'Write it as {"BACKEND": ',
    ),
    case(
        "process-name-not-a-string",
        {1: {"BACKEND": GUNICORN}},
        (),
        "PRODUCTION_PROCESSES has the process name 1",
        'Name each process with a string that does not start with "-"',
    ),
    case(
        "backend-missing",
        {"web": {"ARGS": {"workers": 2}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"] has no "BACKEND".',
        f'Add "BACKEND": "{GUNICORN}"',
    ),
    case(
        "backend-not-a-string",
        {"web": {"BACKEND": 42}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] must be a dotted path string, not int 42.',
        "Write it as a string",
    ),
    case(
        "backend-class-typo",
        {"web": {"BACKEND": B + "gunicorn.GunicornServr"}},
        ("web",),
        f'PRODUCTION_PROCESSES["web"]["BACKEND"] "{B}gunicorn.GunicornServr" cannot be imported',
        f'Did you mean "{GUNICORN}"?',
    ),
    case(
        "backend-module-typo",
        {"web": {"BACKEND": B + "uvicron.UvicornServer"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"]',
        "No module named 'django_prodserver.backends.uvicron'",
        f'Did you mean "{UVICORN}"?',
    ),
    case(
        "backend-bare-server-name",
        {"web": {"BACKEND": "waitress"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] "waitress" cannot be imported',
        f'Did you mean "{WAITRESS}"?',
    ),
    case(
        "backend-not-a-backend-class",
        {"web": {"BACKEND": "custom_backends.NotABackend"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] "custom_backends.NotABackend" is not a backend',
        "Point it at a subclass of django_prodserver.backends.base.BaseServerBackend.",
    ),
    case(
        "backend-is-a-view-function",
        {"web": {"BACKEND": "mysite.views.index"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] "mysite.views.index" is not a backend class.',
        "Point it at a subclass of",
    ),
    case(
        "backend-module-does-not-exist",
        {"web": {"BACKEND": "acme_servers.backends.Fast"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] "acme_servers.backends.Fast" cannot be imported '
        "(No module named 'acme_servers').",
        f"Use one of: {GUNICORN}",
    ),
    case(
        "backend-module-raises",
        {"web": {"BACKEND": "raising_backends.Server"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["BACKEND"] "raising_backends.Server" cannot be imported: '
        "its module raised RuntimeError: settings missing.",
        'python -c "import raising_backends" shows where it is.',
    ),
    case(
        "backend-package-not-installed",
        {"web": {"BACKEND": "custom_backends.NotInstalled"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"] uses NotInstalled, but the "definitely_not_installed_pkg" '
        "package is not installed.",
        "Install definitely_not_installed_pkg.",
    ),
    case(
        "args-a-string",
        {"web": {"BACKEND": GUNICORN, "ARGS": "--workers=4"}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] must be a dict of option names to values or a list '
        "of strings, not str '--workers=4'.",
        'Write ARGS as a dict such as {"workers": 4, "preload": True}',
    ),
    case(
        "args-an-int",
        {"web": {"BACKEND": GUNICORN, "ARGS": 4}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] must be a dict',
        "not int 4.",
        'or as a list of strings such as ["--workers=4"]',
    ),
    case(
        "args-value-a-dict",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"workers": {"min": 2}}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"]["workers"] must be a string, a number, a path, '
        "True/False/None or a list of those, not dict {'min': 2}.",
        "Write ARGS as a dict",
    ),
    case(
        "args-key-with-dashes",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"--workers": 2}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] key "--workers" must be written without the '
        'leading dashes: "workers".',
    ),
    case(
        "args-list-with-an-int",
        {"web": {"BACKEND": GUNICORN, "ARGS": ["--workers", 2]}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] given as a list must hold only strings, found int 2.',
    ),
    case(
        "process-unknown-key-ARG",
        {"web": {"BACKEND": GUNICORN, "ARG": {"workers": 2}}},
        ("web",),
        "PRODUCTION_PROCESSES[\"web\"] has unknown key(s) 'ARG'.",
        'Did you mean "ARGS"? Use only BACKEND, ARGS, APP.',
    ),
    case(
        "process-option-outside-ARGS",
        {"web": {"BACKEND": GUNICORN, "workers": 2}},
        ("web",),
        "PRODUCTION_PROCESSES[\"web\"] has unknown key(s) 'workers'.",
        'server options belong inside "ARGS".',
    ),
    case(
        "app-not-a-string",
        {"web": {"BACKEND": GUNICORN, "APP": 3}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["APP"] must be a dotted path string, not 3.',
        'Write it as "APP": "mysite.celery.app".',
    ),
    case(
        "unknown-process-name",
        {"web": {"BACKEND": GUNICORN}, "worker": {"BACKEND": WAITRESS}},
        ("api",),
        'Unknown process "api": PRODUCTION_PROCESSES defines "web", "worker".',
        "Run one of those. manage.py prodserver --list shows them",
    ),
    case(
        "unknown-process-typo",
        {"web": {"BACKEND": GUNICORN}, "worker": {"BACKEND": WAITRESS}},
        ("wrker",),
        'Unknown process "wrker": PRODUCTION_PROCESSES defines "web", "worker".',
        'Did you mean "worker"?',
    ),
    case(
        "gunicorn-unknown-flag",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"workerz": 2}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by gunicorn: unrecognized arguments: '
        "--workerz=2.",
        "Fix that ARGS entry: keys are gunicorn's long options without the leading dashes "
        "(see gunicorn --help).",
    ),
    case(
        "uvicorn-unknown-flag",
        {"api": {"BACKEND": UVICORN, "ARGS": {"wokers": 2}}},
        ("api",),
        'PRODUCTION_PROCESSES["api"]["ARGS"] was rejected by uvicorn: No such option \'--wokers\'.',
        "Did you mean one of: '--workers'",
        "(see uvicorn --help)",
    ),
    case(
        "granian-unknown-flag",
        {"api": {"BACKEND": GRANIAN, "ARGS": {"bind": "127.0.0.1:8000"}}},
        ("api",),
        'PRODUCTION_PROCESSES["api"]["ARGS"] was rejected by granian: No such option \'--bind\'.',
        "(see granian --help)",
    ),
    case(
        "waitress-unknown-flag",
        {"web": {"BACKEND": WAITRESS, "ARGS": {"workers": 4}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by waitress-serve: option --workers '
        "not recognized.",
        "(see waitress-serve --help)",
    ),
    case(
        "gunicorn-bad-value",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"workers": "many"}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by gunicorn: argument -w/--workers: '
        "invalid int value: 'many'.",
    ),
    case(
        "gunicorn-value-for-a-bare-flag",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"preload": "yes"}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by gunicorn: argument --preload: '
        "ignored explicit argument 'yes'.",
    ),
    case(
        "uvicorn-bad-value",
        {"api": {"BACKEND": UVICORN_WSGI, "ARGS": {"workers": "many"}}},
        ("api",),
        'PRODUCTION_PROCESSES["api"]["ARGS"] was rejected by uvicorn: Invalid value for '
        "'--workers': 'many' is not a valid integer.",
    ),
    case(
        "granian-bad-value",
        {"api": {"BACKEND": GRANIAN_WSGI, "ARGS": {"workers": "many"}}},
        ("api",),
        'PRODUCTION_PROCESSES["api"]["ARGS"] was rejected by granian: Invalid value for '
        "'--workers': 'many' is not a valid integer range.",
    ),
    case(
        "waitress-bad-value",
        {"web": {"BACKEND": WAITRESS, "ARGS": {"threads": "many"}}},
        ("web",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by waitress-serve:',
        "'many'",
    ),
    case(
        "wsgi-application-unset",
        {"web": {"BACKEND": GUNICORN}},
        ("web",),
        'PRODUCTION_PROCESSES["web"] needs a WSGI application, but the WSGI_APPLICATION '
        "setting is not set.",
        'Set WSGI_APPLICATION = "mysite.wsgi.application" or give the process an "APP".',
        WSGI_APPLICATION=None,
    ),
    case(
        "asgi-application-not-found",
        {"api": {"BACKEND": UVICORN}},
        ("api",),
        'PRODUCTION_PROCESSES["api"] needs an ASGI application: set ASGI_APPLICATION = '
        '"mysite.asgi.application" or give the process an "APP".',
        WSGI_APPLICATION=None,
    ),
    case(
        "dry-run-with-bad-config",
        {"web": {"BACKEND": B + "gunicorn.Gunicorn"}},
        ("web", "--dry-run"),
        'PRODUCTION_PROCESSES["web"]["BACKEND"]',
        f'Did you mean "{GUNICORN}"?',
    ),
    case(
        "dry-run-with-unknown-flag",
        {"web": {"BACKEND": GUNICORN, "ARGS": {"keepalive": 5}}},
        ("--dry-run",),
        'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by gunicorn: unrecognized arguments: '
        "--keepalive=5.",
    ),
    case(
        "bad-extra-arg-after-dashdash",
        WEB,
        ("web", "--", "--wrkers=8"),
        'The arguments after -- for process "web" were rejected by gunicorn: unrecognized '
        "arguments: --wrkers=8.",
        "Fix them; gunicorn --help lists its options.",
    ),
    case(
        "prodserver-option-after-dashdash",
        WEB,
        ("--", "--dry-run"),
        'The arguments after -- for process "web" were rejected by gunicorn',
        "--dry-run",
    ),
    case(
        "extra-arg-without-dashdash",
        WEB,
        ("web", "extra"),
        "manage.py prodserver: error: unrecognized arguments: extra.",
        "Server arguments go after --, e.g. manage.py prodserver web -- --workers=8.",
        status=2,
    ),
    case(
        "server-flag-without-dashdash",
        WEB,
        ("web", "--workers=8"),
        "manage.py prodserver: error: unrecognized arguments: --workers=8.",
        "Server arguments go after --",
        status=2,
    ),
    case(
        "misspelt-prodserver-option",
        WEB,
        ("--dryrun",),
        "manage.py prodserver: error: unrecognized arguments: --dryrun.",
        "See manage.py prodserver --help.",
        status=2,
    ),
    case(
        "show-secrets-without-dry-run",
        WEB,
        ("web", "--show-secrets"),
        "manage.py prodserver: error: argument --show-secrets: add --dry-run or --list; the "
        "start line always masks secrets.",
        status=2,
    ),
    case(
        "list-with-bad-setting",
        "web",
        ("--list",),
        "PRODUCTION_PROCESSES must be a dict of process names to process settings, not str.",
    ),
]


def write_backends(project: Project) -> None:
    (project.tmp_path / "custom_backends.py").write_text(CUSTOM_BACKENDS)
    (project.tmp_path / "raising_backends.py").write_text(
        "raise RuntimeError('settings missing')\n"
    )


def run_case(project: Project, bad: Case, *extra_argv: str) -> subprocess.CompletedProcess[str]:
    """The case in a real ``manage.py`` subprocess (exit status and stderr as a shell sees them)."""
    write_backends(project)
    project.use_settings(bad.processes, extra=bad.extra, **bad.settings)
    return project.manage("prodserver", *bad.argv, *extra_argv, timeout=60)


def run_in_process(
    bad: Case,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """The case through ``manage.py``'s own entry point, in this process: status, out, err.

    ``ManagementUtility`` is what ``manage.py`` runs; it prints a CommandError as one line
    and exits 1, and prodserver's parser exits 2, exactly as in a subprocess, without the
    cost of starting Django again for each case.
    """
    from django.core.management import ManagementUtility

    (tmp_path / "custom_backends.py").write_text(CUSTOM_BACKENDS)
    (tmp_path / "raising_backends.py").write_text("raise RuntimeError('settings missing')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    if bad.extra == "del PRODUCTION_PROCESSES":
        del settings.PRODUCTION_PROCESSES
    else:
        assert not bad.extra, "only the missing setting needs code"
        settings.PRODUCTION_PROCESSES = bad.processes
    for key, value in bad.settings.items():
        setattr(settings, key, value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "prodserver", *bad.argv]).execute()
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize("bad", BATTERY)
def test_bad_input(
    bad: Case,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run_in_process(bad, settings, tmp_path, monkeypatch, capsys)
    lines = err.splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "Traceback" not in line
    assert out == ""
    assert status == bad.status, err
    if bad.status == 1:
        assert line.startswith("ProdserverError: ")
    for needle in bad.needles:
        assert needle in line


#: A few cases also run as real subprocesses: the exit status and the one line are what a
#: shell, a container runtime or systemd sees.
SUBPROCESS_CASES = [
    param
    for param in BATTERY
    if param.id
    in {
        "setting-missing",
        "backend-class-typo",
        "gunicorn-unknown-flag",
        "server-flag-without-dashdash",
    }
]


@pytest.mark.parametrize("bad", SUBPROCESS_CASES)
def test_bad_input_in_a_subprocess(project: Project, bad: Case) -> None:
    result = run_case(project, bad)
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (result.returncode, result.stdout) == (bad.status, "")
    for needle in bad.needles:
        assert needle in result.stderr


TRACEBACK_CASES = [
    param
    for param in BATTERY
    if param.id
    in {
        "backend-class-typo",
        "unknown-process-name",
        "gunicorn-unknown-flag",
        "wsgi-application-unset",
    }
]


@pytest.mark.parametrize("bad", TRACEBACK_CASES)
def test_bad_input_with_traceback_option(project: Project, bad: Case) -> None:
    result = run_case(project, bad, "--traceback")
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "django_prodserver.errors.ProdserverError: " in result.stderr
    for needle in bad.needles:
        assert needle in result.stderr


def test_backend_package_really_not_installed(tmp_path: Path) -> None:
    """A real interpreter on which gunicorn cannot be imported, not a stand-in class.

    ``python -S`` skips site-packages; the path then holds only Django and its two
    dependencies and django_prodserver (linked from this venv), and the example project.
    Settings are minimal because the example's INSTALLED_APPS need more packages.
    """
    site = tmp_path / "site"
    site.mkdir()
    # django_prodserver is linked too: installed from a wheel, its parent is site-packages.
    for module in ("django", "asgiref", "sqlparse", "django_prodserver"):
        source = Path(__import__(module).__file__ or "").parent
        (site / module).symlink_to(source, target_is_directory=True)
    (tmp_path / "bare_settings.py").write_text(
        'SECRET_KEY = "test"\n'
        'INSTALLED_APPS = ["django_prodserver"]\n'
        'WSGI_APPLICATION = "mysite.wsgi.application"\n'
        f"PRODUCTION_PROCESSES = {{'web': {{'BACKEND': {GUNICORN!r}}}}}\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, [site, EXAMPLE_DIR, tmp_path])),
        "DJANGO_SETTINGS_MODULE": "bare_settings",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    probe = run("-c", "import django, django_prodserver; print(django.__file__); import gunicorn")
    assert probe.stdout.strip() == str(site / "django" / "__init__.py")
    assert probe.stderr.splitlines()[-1] == "ModuleNotFoundError: No module named 'gunicorn'"

    result = run(str(MANAGE_PY), "prodserver", "--dry-run")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'ProdserverError: PRODUCTION_PROCESSES["web"] uses GunicornServer, but the "gunicorn" '
        'package is not installed. Install it: pip install "django-prodserver[gunicorn]"'
    ]
    check = run(str(MANAGE_PY), "check")
    assert check.returncode == 0  # a warning: migrate and other processes still run here
    assert "(prodserver.W002)" in check.stderr
    assert 'HINT: Install it: pip install "django-prodserver[gunicorn]"' in check.stderr


def test_list_shows_a_broken_process_and_fails(project: Project) -> None:
    write_backends(project)
    project.use_settings(
        {
            "web": {"BACKEND": GUNICORN, "ARGS": {"workers": 2}},
            "other": {"BACKEND": "custom_backends.NotInstalled"},
            "broken": {"BACKEND": GUNICORN, "ARGS": "--workers=2"},
        }
    )
    result = project.manage("prodserver", "--list")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "web\tGunicornServer\tgunicorn mysite.wsgi:application --workers=2",
        # Not installed in this environment (a split image) is not broken: exit 0 for it alone.
        'other\t(cannot start here)\tPRODUCTION_PROCESSES["other"] uses NotInstalled, but the '
        '"definitely_not_installed_pkg" package is not installed. '
        "Install definitely_not_installed_pkg.",
        'broken\t(misconfigured)\tPRODUCTION_PROCESSES["broken"]["ARGS"] must be a dict of option '
        "names to values or a list of strings, not str '--workers=2'. Write ARGS as a dict such "
        'as {"workers": 4, "preload": True} (keys are the server\'s long options without the '
        'dashes) or as a list of strings such as ["--workers=4"].',
    ]
    assert result.stderr.splitlines() == [
        "ProdserverError: 1 of 3 processes in PRODUCTION_PROCESSES cannot start (broken); fix "
        "them as shown above (manage.py check lists every problem)."
    ]


# -- happy paths --------------------------------------------------------------------------

#: A realistic configuration per web backend and the exact native command it must print.
#: Every flag here is the server's own (checked against each --help), and --dry-run runs
#: them through the server's parser too.
REALISTIC = {
    "gunicorn": (
        {
            "BACKEND": GUNICORN,
            "ARGS": {
                "bind": ["0.0.0.0:8000", "unix:/run/web.sock"],
                "workers": 5,
                "timeout": 60,
                "max_requests": 1000,
                "max_requests_jitter": 50,
                "preload": True,
                "access_logfile": "-",
                "forwarded_allow_ips": "*",
                "capture_output": False,
            },
        },
        "gunicorn mysite.wsgi:application --bind=0.0.0.0:8000 --bind=unix:/run/web.sock "
        "--workers=5 --timeout=60 --max-requests=1000 --max-requests-jitter=50 --preload "
        "--access-logfile=- '--forwarded-allow-ips=*'",
    ),
    "waitress": (
        {
            "BACKEND": WAITRESS,
            "ARGS": {
                "listen": ["0.0.0.0:8000", "[::]:8000"],
                "threads": 8,
                "url_scheme": "https",
                "trusted_proxy": "127.0.0.1",
                "trusted_proxy_headers": "x-forwarded-proto",
            },
        },
        "waitress-serve --listen=0.0.0.0:8000 '--listen=[::]:8000' --threads=8 "
        "--url-scheme=https --trusted-proxy=127.0.0.1 "
        "--trusted-proxy-headers=x-forwarded-proto mysite.wsgi:application",
    ),
    "uvicorn": (
        {
            "BACKEND": UVICORN,
            "ARGS": {
                "host": "0.0.0.0",
                "port": 8000,
                "workers": 4,
                "forwarded_allow_ips": "*",
                "timeout_graceful_shutdown": 30,
                "no_access_log": True,
            },
        },
        "uvicorn mysite.asgi:application --lifespan=off --host=0.0.0.0 --port=8000 --workers=4 "
        "'--forwarded-allow-ips=*' --timeout-graceful-shutdown=30 --no-access-log",
    ),
    "uvicorn-wsgi": (
        {
            "BACKEND": UVICORN_WSGI,
            "APP": "mysite.wsgi.application",
            "ARGS": {"uds": "/run/web.sock", "workers": 2, "lifespan": "auto"},
        },
        "DJANGO_PRODSERVER_WSGI_APPLICATION=mysite.wsgi.application uvicorn "
        "django_prodserver.wsgi_as_asgi:application --uds=/run/web.sock --workers=2 "
        "--lifespan=auto",
    ),
    "granian": (
        {
            "BACKEND": GRANIAN,
            "ARGS": {
                "host": "0.0.0.0",
                "port": 8000,
                "workers": 4,
                "backpressure": 64,
                "respawn_failed_workers": True,
                "workers_lifetime": 3600,
            },
        },
        "granian --interface=asginl --host=0.0.0.0 --port=8000 --workers=4 --backpressure=64 "
        "--respawn-failed-workers --workers-lifetime=3600 mysite.asgi:application",
    ),
    "granian-wsgi": (
        {
            "BACKEND": GRANIAN_WSGI,
            "ARGS": {"host": "0.0.0.0", "port": 8000, "workers": 2, "blocking_threads": 4},
        },
        "granian --interface=wsgi --host=0.0.0.0 --port=8000 --workers=2 --blocking-threads=4 "
        "mysite.wsgi:application",
    ),
}


@pytest.fixture
def realistic(project: Project) -> Project:
    project.use_settings({name: process for name, (process, _) in REALISTIC.items()})
    return project


@pytest.mark.parametrize("name", list(REALISTIC))
def test_dry_run_prints_the_native_command(realistic: Project, name: str) -> None:
    result = realistic.manage("prodserver", name, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout == REALISTIC[name][1] + "\n"
    assert result.stderr == ""


def test_list_shows_every_process_backend_and_command(realistic: Project) -> None:
    result = realistic.manage("prodserver", "--list")
    assert result.returncode == 0, result.stderr
    classes = {
        "gunicorn": "GunicornServer",
        "waitress": "WaitressServer",
        "uvicorn": "UvicornServer",
        "uvicorn-wsgi": "UvicornWSGIServer",
        "granian": "GranianASGIServer",
        "granian-wsgi": "GranianWSGIServer",
    }
    assert result.stdout.splitlines() == [
        f"{name}\t{classes[name]}\t{command}" for name, (_, command) in REALISTIC.items()
    ]
    assert result.stderr == ""


def test_name_defaults_to_the_first_process(project: Project) -> None:
    project.use_settings(
        {
            "api": {"BACKEND": UVICORN, "ARGS": {"port": 9000}},
            "web": {"BACKEND": GUNICORN},
        }
    )
    result = project.manage("prodserver", "--dry-run")
    assert result.stdout == "uvicorn mysite.asgi:application --lifespan=off --port=9000\n"


@pytest.mark.parametrize(
    "argv",
    [
        ("web", "--dry-run", "--", "--workers=8", "--timeout", "5"),
        ("--dry-run", "web", "--", "--workers=8", "--timeout", "5"),
        ("--skip-checks", "web", "--dry-run", "--", "--workers=8", "--timeout", "5"),
    ],
    ids=["name-option-dashdash", "option-name-dashdash", "options-around-name"],
)
def test_extra_args_are_appended(project: Project, argv: tuple[str, ...]) -> None:
    project.use_settings(WEB)
    result = project.manage("prodserver", *argv)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "gunicorn mysite.wsgi:application --bind=127.0.0.1:8000 --workers=2 --workers=8 "
        "--timeout 5\n"
    )


def test_extra_args_without_a_name(project: Project) -> None:
    project.use_settings(
        {"api": {"BACKEND": UVICORN, "ARGS": {"workers": 2}}, "web": {"BACKEND": GUNICORN}}
    )
    result = project.manage("prodserver", "--dry-run", "--", "--workers=8")
    assert result.stdout == (
        "uvicorn mysite.asgi:application --lifespan=off --workers=2 --workers=8\n"
    )
    # An extra arg can also replace a backend default.
    result = project.manage("prodserver", "--dry-run", "--", "--lifespan", "on")
    assert result.stdout == ("uvicorn mysite.asgi:application --workers=2 --lifespan on\n")


@pytest.mark.server
def test_extra_args_last_value_wins_in_the_real_server(project: Project) -> None:
    """``-- --workers=3`` beats ARGS' workers=1: Gunicorn really forks three workers."""
    port = free_port()
    project.use_settings(
        {"web": {"BACKEND": GUNICORN, "ARGS": {"bind": f"127.0.0.1:{port}", "workers": 1}}}
    )
    proc = project.start("prodserver", "--", "--workers=3")
    assert wait_for_http(f"http://127.0.0.1:{port}/", proc) == 200
    assert http_get(f"http://127.0.0.1:{port}/")[1] == "Hello from django-prodserver\n"
    # The manage.py process is Gunicorn's master; its children are the workers.
    workers = descendants(proc.pid)
    deadline = time.monotonic() + 30
    while len(workers) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        workers = descendants(proc.pid)
    assert len(workers) == 3  # with ARGS' value there would only ever be one
    assert project.stop(proc) == 0
    log = project.output(proc)
    assert (
        f'prodserver: starting "web": gunicorn mysite.wsgi:application '
        f"--bind=127.0.0.1:{port} --workers=1 --workers=3" in log
    )


def test_settings_option(project: Project) -> None:
    other = project.use_settings({"other": {"BACKEND": WAITRESS}})
    project.use_settings(WEB)  # the environment points at this one
    result = project.manage("prodserver", "--dry-run", f"--settings={other}")
    assert result.stdout == "waitress-serve mysite.wsgi:application\n"


def test_pythonpath_option(project: Project) -> None:
    elsewhere = project.tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "settings_elsewhere.py").write_text(
        "from mysite.settings import *  # noqa: F403\n"
        f"PRODUCTION_PROCESSES = {{'far': {{'BACKEND': {GRANIAN!r}}}}}\n"
    )
    result = project.manage(
        "prodserver",
        "--dry-run",
        f"--pythonpath={elsewhere}",
        "--settings=settings_elsewhere",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "granian --interface=asginl mysite.asgi:application\n"


def test_start_runs_only_prodserver_checks(project: Project) -> None:
    """Django's other checks are manage.py check's job: they would slow every start."""
    project.use_settings(WEB, STATICFILES_DIRS="not-a-list")
    result = project.manage("prodserver", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gunicorn mysite.wsgi:application")
    assert "staticfiles.E001" in project.manage("check").stderr

    result = project.manage("prodserver", "--dry-run", "--skip-checks")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gunicorn mysite.wsgi:application")


def test_checks_ignore_other_processes(project: Project) -> None:
    """A worker that cannot run in the web image does not stop the web server."""
    write_backends(project)
    project.use_settings(
        {**WEB, "worker": {"BACKEND": "custom_backends.NotInstalled"}},
    )
    result = project.manage("prodserver", "web", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    check = project.manage("check")  # manage.py check names it, as a warning (split images)
    assert check.returncode == 0
    assert "(prodserver.W002)" in check.stderr


def test_help_lists_every_option() -> None:
    from django_prodserver.management.commands.prodserver import Command

    help_text = Command().create_parser("manage.py", "prodserver").format_help()
    for option in ("--list", "--dry-run", "--show-secrets", "--skip-checks"):
        assert option in help_text
    assert "instead of ***, to copy a command into a shell" in " ".join(help_text.split())


def test_call_command_in_process(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """call_command takes the same arguments, including those after --."""
    from django.core.management import CommandError, call_command

    settings.PRODUCTION_PROCESSES = WEB
    call_command("prodserver", "web", "--dry-run", "--", "--workers=8")
    assert capsys.readouterr().out == (
        "gunicorn mysite.wsgi:application --bind=127.0.0.1:8000 --workers=2 --workers=8\n"
    )
    call_command("prodserver", dry_run=True, server_args=["--timeout=5"])
    assert capsys.readouterr().out.endswith("--workers=2 --timeout=5\n")
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN, "ARGS": {"env": "DATABASE_URL=postgres://a:S3CRET@db/a"}}
    }
    call_command("prodserver", "--dry-run")
    assert capsys.readouterr().out.endswith("'--env=DATABASE_URL=postgres://a:***@db/a'\n")
    call_command("prodserver", "--dry-run", "--show-secrets")
    assert capsys.readouterr().out.endswith(" --env=DATABASE_URL=postgres://a:S3CRET@db/a\n")
    with pytest.raises(CommandError, match="argument --show-secrets: add --dry-run or --list"):
        call_command("prodserver", "--show-secrets")
    with pytest.raises(CommandError, match="unrecognized arguments: extra"):
        call_command("prodserver", "web", "extra")
    with pytest.raises(CommandError, match=re.escape('Unknown process "nope"')):
        call_command("prodserver", "nope")
