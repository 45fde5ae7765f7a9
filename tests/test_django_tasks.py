"""DjangoTasksWorker on a real database: ``manage.py prodserver NAME`` runs ``db_worker``.

Tasks are enqueued by a separate ``manage.py shell`` process and leave files behind (see
``example/mysite/tasks.py``); their state is read back from the database the worker uses. The
main journey (migrate, enqueue, run, stop mid-task) runs on SQLite and on a fresh PostgreSQL
database (the ``database`` fixture); the rest on SQLite.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import django
import pytest

from conftest import Project, descendants, project_processes

pytestmark = pytest.mark.server

BACKEND = "django_prodserver.backends.django_tasks.DjangoTasksWorker"
DATABASE_TASKS = {
    "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "other"]}
}


def use_worker(project: Project, args: object = None, **values: object) -> None:
    process: dict[str, object] = {"BACKEND": BACKEND}
    if args is not None:
        process["ARGS"] = args
    values.setdefault("TASKS", DATABASE_TASKS)
    project.use_settings({"tasks": process}, **values)


def enqueue(project: Project, *tasks: tuple[Path, float, str]) -> list[str]:
    """Enqueue ``write_file_task(path, seconds=...)`` on a queue, from another process."""
    code = "\n".join(
        [
            "import json",
            "from mysite.tasks import write_file_task",
            "ids = []",
            *(
                f"ids.append(str(write_file_task.using(queue_name={queue!r})"
                f".enqueue({str(path)!r}, seconds={seconds!r}).id))"
                for path, seconds, queue in tasks
            ),
            "print(json.dumps(ids))",
        ]
    )
    ids: list[str] = project.shell_json(code)
    return ids


def task_rows(project: Project) -> dict[str, tuple[str, object]]:
    """Task id (hex) -> (status, return value), read straight from the database.

    SQLite stores the id as hex and the value as JSON text; PostgreSQL as uuid and jsonb.
    """
    rows = project.query("SELECT id, status, return_value FROM django_tasks_database_dbtaskresult")
    return {
        str(task_id).replace("-", ""): (
            str(status),
            json.loads(value) if isinstance(value, str) else value,
        )
        for task_id, status, value in rows
    }


def statuses(project: Project) -> dict[str, str]:
    """Task id (hex) -> status."""
    return {task_id: status for task_id, (status, _) in task_rows(project).items()}


def status_of(project: Project, task_id: str) -> str:
    return statuses(project)[task_id.replace("-", "")]


def wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> float:
    """Wait until ``path`` exists; return the seconds waited. Fail if ``proc`` exits first."""
    start = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited with {proc.returncode} before {path.name}")
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_django_6_uses_django_tasks_not_the_backport(project: Project) -> None:
    """Django 6 runs the built-in ``django.tasks`` with django-tasks-db; 5.2 the backport.

    The ``django-tasks`` extra installs the backport on Django 6 too (see the CHANGELOG); the
    example project then leaves it out of INSTALLED_APPS and nothing may import it.
    """
    use_worker(project)
    code = textwrap.dedent(
        """
        import json, sys
        from django.apps import apps
        try:
            from django.tasks import task_backends
        except ImportError:
            from django_tasks import task_backends
        from mysite.tasks import write_file_task
        bases = type(task_backends["default"]).__mro__
        print(json.dumps({
            "task": type(write_file_task).__module__,
            "backend": [c.__module__ for c in bases if c.__name__ == "BaseTaskBackend"],
            "backport_app": apps.is_installed("django_tasks"),
            "backport_imported": "django_tasks" in sys.modules,
        }))
        """
    )
    result = project.manage("shell", "--verbosity=0", "--command", code, check=True)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    if django.VERSION >= (6, 0):
        assert found == {
            "task": "django.tasks.base",
            "backend": ["django.tasks.backends.base"],
            "backport_app": False,
            "backport_imported": False,
        }
    else:
        assert found == {
            "task": "django_tasks.base",
            "backend": ["django_tasks.backends.base"],
            "backport_app": True,
            "backport_imported": True,
        }


def test_runs_tasks_enqueued_by_another_process(project: Project, database: str) -> None:
    # DEBUG on is the trap: db_worker would then start its auto-reloader by default.
    use_worker(project, DEBUG=True)
    project.migrate()
    paths = [project.tmp_path / f"done-{n}.txt" for n in range(3)]
    ids = enqueue(project, *((path, 0, "default") for path in paths))
    assert [status_of(project, task_id) for task_id in ids] == ["READY"] * 3

    proc = project.start("prodserver", "tasks")
    seconds = wait_for_file(paths[0], proc)
    print(f"\nDjangoTasksWorker ({database}): start to first task done: {seconds:.2f} s")

    for path in paths:
        wait_for_file(path, proc)
        assert path.read_text() == "done"
    deadline = time.monotonic() + 20
    while set(statuses(project).values()) != {"SUCCESSFUL"} and time.monotonic() < deadline:
        time.sleep(0.05)
    # Each result is in the database: the task returns the pid of the process that ran it.
    rows = task_rows(project)
    assert [rows[task_id.replace("-", "")] for task_id in ids] == [("SUCCESSFUL", proc.pid)] * 3
    assert descendants(proc.pid) == [], "db_worker must not run under the auto-reloader"
    assert project.stop(proc) == 0
    assert "db_worker --no-reload" in project.output(proc)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_lets_the_running_task_finish(
    project: Project, database: str, sig: int
) -> None:
    use_worker(project, DEBUG=True)
    project.migrate()
    running, waiting = project.tmp_path / "running.txt", project.tmp_path / "waiting.txt"
    running_id, waiting_id = enqueue(project, (running, 2, "default"), (waiting, 0, "default"))
    proc = project.start("prodserver", "tasks")
    wait_for_file(Path(f"{running}.started"), proc)
    assert status_of(project, running_id) == "RUNNING"
    assert descendants(proc.pid) == [], "db_worker must not run under the auto-reloader"

    assert project.stop(proc, sig) == 0
    assert running.read_text() == "done", "the task in flight was not allowed to finish"
    assert status_of(project, running_id) == "SUCCESSFUL"
    # The next task was not started, and is still queued for the next worker.
    assert not Path(f"{waiting}.started").exists()
    assert status_of(project, waiting_id) == "READY"
    assert "RUNNING" not in statuses(project).values()
    assert project_processes(project) == []


def test_queue_name_selects_the_queue(project: Project) -> None:
    use_worker(project, {"queue_name": "other"})
    project.migrate()
    on_default, on_other = project.tmp_path / "default.txt", project.tmp_path / "other.txt"
    # The default-queue task is older, so a worker serving every queue would run it first.
    default_id, other_id = enqueue(project, (on_default, 0, "default"), (on_other, 0, "other"))
    proc = project.start("prodserver", "tasks")
    wait_for_file(on_other, proc)
    assert project.stop(proc) == 0

    assert status_of(project, other_id) == "SUCCESSFUL"
    assert status_of(project, default_id) == "READY"
    assert not on_default.exists()
    assert "db_worker --no-reload --queue-name=other" in project.output(proc)


def test_dry_run_prints_the_native_command(project: Project) -> None:
    use_worker(project, {"queue_name": "default", "interval": 0.5})
    result = project.manage("prodserver", "tasks", "--dry-run", "--", "--max-tasks=10")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "python manage.py db_worker --no-reload --queue-name=default --interval=0.5 --max-tasks=10"
    )
    # An explicit reload setting replaces the default instead of fighting it.
    use_worker(project, {"reload": True})
    result = project.manage("prodserver", "tasks", "--dry-run")
    assert result.stdout.strip() == "python manage.py db_worker --reload"


WITHOUT_APP = 'INSTALLED_APPS = [a for a in INSTALLED_APPS if a != "django_tasks_db"]'


@pytest.mark.parametrize(
    ("args", "values", "extra", "expected"),
    [
        pytest.param(
            None,
            {},
            WITHOUT_APP,
            '"django_tasks_db" is not in INSTALLED_APPS',
            id="app-not-installed",
        ),
        pytest.param(
            None,
            {},
            # Simulate an environment without the package.
            f'import sys\nsys.modules["django_tasks_db"] = None\n{WITHOUT_APP}',
            'the "django_tasks_db" package is not installed. Install it: '
            'pip install "django-prodserver[django-tasks]"',
            id="package-missing",
        ),
        pytest.param(
            None,
            {"TASKS": {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}},
            "",
            'TASKS["default"] uses "django_tasks.backends.immediate.ImmediateBackend"',
            id="not-the-database-backend",
        ),
        pytest.param(
            {"backend": "missing"},
            {},
            "",
            'the TASKS setting has no "missing" backend',
            id="unknown-backend-alias",
        ),
        pytest.param(
            {"concurrency": 4},
            {},
            "",
            "rejected by db_worker: unrecognized arguments: --concurrency=4",
            id="unknown-flag",
        ),
        pytest.param(
            {"settings": "other.settings"},
            {},
            "",
            "--settings belongs to manage.py: give it to prodserver itself",
            id="manage-py-option",
        ),
    ],
)
def test_bad_configuration_is_one_clear_line(
    project: Project, args: object, values: dict[str, object], extra: str, expected: str
) -> None:
    process: dict[str, object] = {"BACKEND": BACKEND}
    if args is not None:
        process["ARGS"] = args
    values.setdefault("TASKS", DATABASE_TASKS)
    project.use_settings({"tasks": process}, extra=extra, **values)
    result = project.manage("prodserver", "tasks", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert 'PRODUCTION_PROCESSES["tasks"]' in lines[0]
