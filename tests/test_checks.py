"""``manage.py check`` and ``check --deploy`` report every PRODUCTION_PROCESSES problem.

In-process through ``call_command("check")`` with the ``settings`` fixture, and through a real
``manage.py check`` subprocess for the exit status and the printed hint. The deployment
check runs each process's ARGS through the real parser of Gunicorn, Uvicorn, Granian and
Waitress.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from pytest_django.fixtures import Settings

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.processes import processes

B = "django_prodserver.backends."
GUNICORN = B + "gunicorn.GunicornServer"
HERE = __name__


class NotInstalledBackend(BaseServerBackend):
    program = "nothing"
    package = "definitely_not_installed_pkg"
    extra = "nothing"


class NeedsApp(BaseServerBackend):
    requires_app = True


class NotABackend:
    pass


def run_check(*, deploy: bool = False) -> str:
    """Run ``manage.py check`` in this process; return what it reports ("" if all is well)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        # databases=[]: on Django 6.1 the model checks otherwise open every database (an
        # SQLite JSONField asks it what it supports), which these in-process tests do not allow.
        call_command("check", deploy=deploy, databases=[], stdout=out, stderr=err)
    except SystemCheckError as exc:
        return str(exc)
    return out.getvalue() + err.getvalue()


def prodserver_ids(report: str) -> list[str]:
    return re.findall(r"\(prodserver\.([EW]\d{3})\)", report)


def test_example_settings_pass_check_and_deploy_check() -> None:
    assert "System check identified no issues" in run_check()
    assert prodserver_ids(run_check(deploy=True)) == []


def test_check_messages_carry_ids_and_hints(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": GUNICORN, "ARGS": "--workers=2"}}
    messages = checks.run_checks(tags=["prodserver"])
    assert [(type(m), m.id) for m in messages] == [(checks.Error, "prodserver.E010")]
    assert messages[0].msg.startswith('PRODUCTION_PROCESSES["web"]["ARGS"] must be a dict')
    assert messages[0].hint is not None
    assert messages[0].hint.startswith("Write ARGS as a dict")


CHECK_CASES = [
    pytest.param(None, "W001", "PRODUCTION_PROCESSES setting is not defined", id="missing"),
    pytest.param(["web"], "E001", "must be a dict of process names", id="not-a-dict"),
    pytest.param({}, "E002", "PRODUCTION_PROCESSES is empty", id="empty"),
    pytest.param(
        {"web": "gunicorn"}, "E003", 'PRODUCTION_PROCESSES["web"] must be a dict', id="process-str"
    ),
    pytest.param(
        {"web": {"BACKEND": GUNICORN, "ARG": {}}}, "E003", "unknown key(s) 'ARG'", id="unknown-key"
    ),
    pytest.param(
        {"web": {"ARGS": {}}},
        "E004",
        'PRODUCTION_PROCESSES["web"] has no "BACKEND"',
        id="no-backend",
    ),
    pytest.param(
        {"web": {"BACKEND": B + "gunicorn.Gunicorn"}},
        "E005",
        f'Did you mean "{GUNICORN}"?',
        id="typo",
    ),
    pytest.param(
        {"web": {"BACKEND": "nowhere_pkg.Server"}},
        "E005",
        "No module named 'nowhere_pkg'",
        id="no-module",
    ),
    pytest.param(
        {"web": {"BACKEND": f"{HERE}.NotABackend"}},
        "E006",
        "is not a backend class",
        id="not-backend",
    ),
    pytest.param(
        {"worker": {"BACKEND": f"{HERE}.NeedsApp"}}, "E007", 'needs "APP"', id="needs-app"
    ),
    pytest.param(
        {"web": {"BACKEND": f"{HERE}.NotInstalledBackend"}},
        "W002",
        'HINT: Install it: pip install "django-prodserver[nothing]"',
        id="not-installed",
    ),
    pytest.param(
        {"web": {"BACKEND": GUNICORN, "ARGS": 8}},
        "E010",
        '["web"]["ARGS"] must be a dict',
        id="args-int",
    ),
    pytest.param(
        {"web": {"BACKEND": GUNICORN, "ARGS": {"bind": [True]}}},
        "E010",
        '["bind"] must hold only',
        id="bool-in-list",
    ),
    pytest.param(
        {"web": {"BACKEND": GUNICORN, "APP": ["x"]}},
        "E011",
        '["web"]["APP"] must be',
        id="app-list",
    ),
    pytest.param({"-web": {"BACKEND": GUNICORN}}, "E015", "process name '-web'", id="dash-name"),
]


@pytest.mark.parametrize(("processes", "error_id", "text"), CHECK_CASES)
def test_check_reports(settings: Settings, processes: Any, error_id: str, text: str) -> None:
    if processes is None:
        del settings.PRODUCTION_PROCESSES
    else:
        settings.PRODUCTION_PROCESSES = processes
    report = run_check()
    assert prodserver_ids(report) == [error_id]
    assert text in report
    assert "HINT:" in report
    expected_level = "WARNINGS:" if error_id.startswith("W") else "ERRORS:"
    assert expected_level in report


def test_check_reports_a_missing_application(settings: Settings) -> None:
    settings.WSGI_APPLICATION = None
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN},
        "asgi": {"BACKEND": B + "uvicorn.UvicornServer"},
        "explicit": {"BACKEND": GUNICORN, "APP": "mysite.wsgi.application"},
    }
    report = run_check()
    assert prodserver_ids(report) == ["E009", "E009"]
    assert 'PRODUCTION_PROCESSES["web"] needs a WSGI application' in report
    assert 'PRODUCTION_PROCESSES["asgi"] needs an ASGI application' in report
    assert '"explicit"' not in report


def test_every_broken_process_is_reported(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN},
        "a": {"BACKEND": "nope.Nope"},
        "b": {"BACKEND": GUNICORN, "ARGS": "x"},
        "c": {},
    }
    assert sorted(prodserver_ids(run_check())) == ["E004", "E005", "E010"]


def test_one_process_is_checked_alone(settings: Settings) -> None:
    """What prodserver NAME uses: another process's problem does not block this one."""
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN},
        "worker": {"BACKEND": f"{HERE}.NotInstalledBackend"},
    }
    assert prodserver_ids(run_check()) == ["W002"]
    assert processes.backend("web").check() == []
    assert [m.id for m in processes.backend("worker").check()] == ["prodserver.W002"]


def test_check_list_and_start_share_one_path(settings: Settings) -> None:
    """manage.py check reports exactly what each backend's check() answers."""
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN, "ARGS": {"workerz": 2}},
        "worker": {"BACKEND": f"{HERE}.NotInstalledBackend"},
        "celery": {"BACKEND": f"{HERE}.NeedsApp"},
    }
    per_backend = [m for name in processes for m in processes.backend(name).check()]
    reported = [m for m in checks.run_checks(tags=["prodserver"], include_deployment_checks=True)]
    assert sorted(reported, key=str) == sorted(per_backend, key=str)
    assert {m.obj for m in reported} == {"web", "worker", "celery"}


def test_missing_setting_warns_but_does_not_block_migrate(project: Any) -> None:
    """Adding the app before configuring it must not break every other manage.py command."""
    project.use_settings(extra="del PRODUCTION_PROCESSES")
    result = project.manage("check")
    assert result.returncode == 0
    assert "(prodserver.W001) The PRODUCTION_PROCESSES setting is not defined." in result.stderr
    result = project.manage("migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    result = project.manage("prodserver")
    assert result.returncode == 1
    assert result.stderr.startswith("ProdserverError: The PRODUCTION_PROCESSES setting is not")


# -- check --deploy: the servers' own parsers --------------------------------------------

DEPLOY_CASES = [
    pytest.param(
        "gunicorn.GunicornServer",
        {"workerz": 2},
        "unrecognized arguments: --workerz=2",
        id="gunicorn-flag",
    ),
    pytest.param(
        "gunicorn.GunicornServer",
        {"workers": "many"},
        "invalid int value: 'many'",
        id="gunicorn-value",
    ),
    pytest.param(
        "gunicorn.GunicornServer",
        {"timeout": -5},
        "Value must be positive",
        id="gunicorn-validator",
    ),
    pytest.param(
        "uvicorn.UvicornServer", {"workerz": 2}, "No such option '--workerz'", id="uvicorn-flag"
    ),
    pytest.param(
        "uvicorn.UvicornServer", {"lifespan": "maybe"}, "'maybe' is not one of", id="uvicorn-value"
    ),
    pytest.param(
        "uvicorn.UvicornWSGIServer",
        {"port": "http"},
        "'http' is not a valid integer",
        id="uvicorn-wsgi-value",
    ),
    pytest.param(
        "granian.GranianASGIServer", {"workerz": 2}, "No such option '--workerz'", id="granian-flag"
    ),
    pytest.param(
        "granian.GranianWSGIServer",
        {"workers": "many"},
        "'many' is not a valid integer",
        id="granian-value",
    ),
    pytest.param(
        "waitress.WaitressServer",
        {"workerz": 2},
        "option --workerz not recognized",
        id="waitress-flag",
    ),
    pytest.param("waitress.WaitressServer", {"threads": "many"}, "'many'", id="waitress-value"),
]


@pytest.mark.parametrize(("backend", "args", "text"), DEPLOY_CASES)
def test_deploy_check_runs_the_servers_parser(
    settings: Settings, backend: str, args: dict[str, Any], text: str
) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": B + backend, "ARGS": args}}
    assert prodserver_ids(run_check()) == []  # the plain check imports no server
    report = run_check(deploy=True)
    assert prodserver_ids(report) == ["E012"]
    assert 'PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by' in report
    assert text in report
    assert "HINT: Fix that ARGS entry" in report


def test_deploy_check_accepts_realistic_args(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {
        "gunicorn": {
            "BACKEND": GUNICORN,
            "ARGS": {"bind": ["127.0.0.1:8000", "unix:/tmp/x.sock"], "workers": 3, "preload": True},
        },
        "uvicorn": {
            "BACKEND": B + "uvicorn.UvicornServer",
            "ARGS": {"host": "127.0.0.1", "port": 8000, "lifespan": "on", "no_access_log": True},
        },
        "granian": {
            "BACKEND": B + "granian.GranianASGIServer",
            "ARGS": {"host": "127.0.0.1", "port": 8000, "workers": 2, "backpressure": 32},
        },
        "waitress": {
            "BACKEND": B + "waitress.WaitressServer",
            "ARGS": {"listen": ["127.0.0.1:8000", "127.0.0.1:8001"], "threads": 8},
        },
    }
    assert prodserver_ids(run_check(deploy=True)) == []


# -- the real manage.py ------------------------------------------------------------------


def test_manage_py_check_exit_status_and_output(project: Any) -> None:
    project.use_settings(
        {
            "web": {"BACKEND": GUNICORN, "ARGS": {"--workers": 2}},
            "worker": {"BACKEND": B + "uvicorn.UvicornServr"},
        }
    )
    result = project.manage("check")
    assert result.returncode == 1
    assert "(prodserver.E010)" in result.stderr
    assert 'key "--workers" must be written without the leading dashes: "workers"' in result.stderr
    assert "(prodserver.E005)" in result.stderr
    assert f'HINT: Did you mean "{B}uvicorn.UvicornServer"?' in result.stderr
    assert "Traceback" not in result.stderr


def test_manage_py_check_deploy_for_four_servers(project: Any) -> None:
    project.use_settings(
        {
            "gunicorn": {"BACKEND": GUNICORN, "ARGS": {"bnd": "127.0.0.1:8000"}},
            "uvicorn": {"BACKEND": B + "uvicorn.UvicornServer", "ARGS": {"port": "eighty"}},
            "granian": {"BACKEND": B + "granian.GranianASGIServer", "ARGS": {"interface": "x"}},
            "waitress": {"BACKEND": B + "waitress.WaitressServer", "ARGS": {"prot": 8000}},
        }
    )
    assert project.manage("check").returncode == 0
    result = project.manage("check", "--deploy")
    assert result.returncode == 1
    assert result.stderr.count("(prodserver.E012)") == 4
    for name in ("gunicorn", "uvicorn", "granian", "waitress"):
        assert f'PRODUCTION_PROCESSES["{name}"]["ARGS"] was rejected by' in result.stderr
    assert "Traceback" not in result.stderr


# -- one table of ids, one validation path, no import cycles --------------------------------


def test_docs_table_lists_exactly_the_check_ids_in_the_code() -> None:
    from conftest import ROOT
    from django_prodserver.check_ids import CHECK_IDS

    text = (ROOT / "docs" / "configuration.rst").read_text()
    table = text[text.index("   * - Id") :]
    table = table[: table.index("\n\n", table.index("prodserver.E0"))]
    documented = re.findall(r"\* - ``(prodserver\.[EW]\d{3})``", table)
    assert sorted(documented) == sorted(CHECK_IDS)
    used = set()
    for path in (ROOT / "src" / "django_prodserver").rglob("*.py"):
        used |= set(re.findall(r'"(prodserver\.[EW]\d{3})"', path.read_text()))
    assert used == set(CHECK_IDS), "every id in the code is in the table, and only those"


def test_no_module_of_the_package_imports_one_that_imports_it_back() -> None:
    """A graph of the package's own imports (TYPE_CHECKING ones included) has no cycle."""
    import ast

    from conftest import ROOT

    src = ROOT / "src"
    graph: dict[str, set[str]] = {}
    for path in (src / "django_prodserver").rglob("*.py"):
        module = ".".join(path.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        imports = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imports.add(node.module)
            elif isinstance(node, ast.Import):
                imports |= {alias.name for alias in node.names}
        graph[module] = {m for m in imports if m.startswith("django_prodserver") and m != module}
    # A package's __init__ is imported by its submodules on the way; not a cycle of ours.
    for module, deps in graph.items():
        graph[module] = {d for d in deps if not module.startswith(d + ".")}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == target or (dep not in seen and reaches(dep, target, seen | {dep})):
                return True
        return False

    cycles = sorted(m for m in graph if reaches(m, m, {m}))
    assert cycles == []


class LegacyBackend(BaseServerBackend):
    """A backend written for 0.1: config_problems() returning ConfigProblem objects."""

    program = "legacy"

    @classmethod
    def config_problems(cls, config: Any) -> list[Any]:
        from django_prodserver.backends.base import ConfigProblem

        return [
            ConfigProblem("legacy says no", "fix it", id="legacy.E001"),
            ConfigProblem("legacy warns", "maybe", id="legacy.W001"),
        ]


def test_config_problems_still_works_with_a_deprecation_warning(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {"old": {"BACKEND": f"{HERE}.LegacyBackend"}}
    with pytest.warns(DeprecationWarning, match="config_problems\\(\\) is deprecated"):
        messages = processes.backend("old").check()
    assert [(type(m), m.id, m.obj) for m in messages] == [
        (checks.Error, "legacy.E001", "old"),
        (checks.Warning, "legacy.W001", "old"),
    ]


class OwnWarningBackend(BaseServerBackend):
    program = "own"

    def check_settings(self) -> list[checks.CheckMessage]:
        return [checks.Warning("just so you know", obj=self.name, id="own.W001")]


def test_a_custom_backends_warning_stays_a_warning(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {"own": {"BACKEND": f"{HERE}.OwnWarningBackend"}}
    report = run_check()
    assert "WARNINGS:" in report and "own: (own.W001) just so you know" in report
    assert "ERRORS:" not in report
