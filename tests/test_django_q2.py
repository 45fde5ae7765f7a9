"""DjangoQ2Worker with the ORM broker: ``manage.py prodserver NAME`` runs a cluster.

Tasks are enqueued with ``async_task`` by a separate ``manage.py shell`` process and leave files
behind (see ``example/mysite/tasks.py``); results and the queue are read back from the
database. The main journey (migrate, enqueue, run, stop mid-task) runs on SQLite and on a fresh
PostgreSQL database (the ``database`` fixture); the rest on SQLite. Every process the cluster
forks has the project directory as its working directory, which is how the tests find orphans
after the command has exited.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest

from conftest import Project, descendants, free_port, project_processes

pytestmark = pytest.mark.server

BACKEND = "django_prodserver.backends.django_q2.DjangoQ2Worker"
Q_CLUSTER = {"name": "mysite", "orm": "default", "workers": 2, "timeout": 60, "retry": 120}


def use_cluster(project: Project, args: object = None, **q_cluster: object) -> None:
    process: dict[str, object] = {"BACKEND": BACKEND}
    if args is not None:
        process["ARGS"] = args
    project.use_settings({"qcluster": process}, Q_CLUSTER={**Q_CLUSTER, **q_cluster})


def enqueue(project: Project, *tasks: tuple[Path, float, str | None]) -> list[str]:
    """``async_task("mysite.tasks.write_file", path, seconds=...)`` from another process."""
    code = "\n".join(
        [
            "import json",
            "from django_q.tasks import async_task",
            "ids = []",
            *(
                f"ids.append(async_task('mysite.tasks.write_file', {str(path)!r}, "
                f"seconds={seconds!r}, cluster={cluster!r}))"
                for path, seconds, cluster in tasks
            ),
            "print(json.dumps(ids))",
        ]
    )
    ids: list[str] = project.shell_json(code)
    return ids


def results(project: Project) -> dict[str, bool]:
    """Finished tasks: id -> success."""
    return {str(i): bool(ok) for i, ok in project.query("SELECT id, success FROM django_q_task")}


def task_results(project: Project, ids: list[str]) -> list[object]:
    """What each task returned, as Django-Q2 reads it back from the database (signed pickles)."""
    code = "import json\nfrom django_q.tasks import result\n"
    code += f"print(json.dumps([result(task_id) for task_id in {ids!r}]))"
    values: list[object] = project.shell_json(code)
    return values


def queued(project: Project) -> list[tuple[str, datetime]]:
    """Tasks still in the ORM broker: (queue name, locked until).

    SQLite returns the time as naive UTC text, PostgreSQL as an aware datetime.
    """
    locks = [
        (str(key), lock if isinstance(lock, datetime) else datetime.fromisoformat(str(lock)))
        for key, lock in project.query("SELECT key, lock FROM django_q_ormq")
    ]
    return [
        (key, lock.astimezone(timezone.utc) if lock.tzinfo else lock.replace(tzinfo=timezone.utc))
        for key, lock in locks
    ]


def wait_for(
    condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 60
) -> float:
    """Wait until ``condition()`` is true; return the seconds waited. Fail if ``proc`` exits."""
    start = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"cluster exited with {proc.returncode} before {what}")
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_runs_tasks_enqueued_by_another_process(project: Project, database: str) -> None:
    use_cluster(project)
    project.migrate()
    paths = [project.tmp_path / f"done-{n}.txt" for n in range(3)]
    ids = enqueue(project, *((path, 0, None) for path in paths))

    proc = project.start("prodserver", "qcluster")
    seconds = wait_for(paths[0].exists, proc, "the first task ran")
    print(f"\nDjangoQ2Worker ({database}): start to first task done: {seconds:.2f} s")
    # The monitor saves each result, then acknowledges (deletes) the queued task.
    wait_for(lambda: queued(project) == [], proc, "the tasks were acknowledged")
    assert results(project) == dict.fromkeys(ids, True)
    # Each task returned the pid of the worker that ran it, a process of this cluster.
    workers = {int(Path(f"{path}.started").read_text()) for path in paths}
    assert set(task_results(project, ids)) == workers
    assert workers <= {p.pid for p in descendants(proc.pid)}
    # A sentinel, 2 workers, a pusher and a monitor, all below the command's own process.
    assert len(descendants(proc.pid)) == 5
    assert len(project_processes(project)) == 1 + 5  # what the orphan checks look for

    assert project.stop(proc) == 0
    assert project_processes(project) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_lets_the_running_task_finish(
    project: Project, database: str, sig: int
) -> None:
    use_cluster(project, workers=1)
    project.migrate()
    running = project.tmp_path / "running.txt"
    paths = [running, project.tmp_path / "next-1.txt", project.tmp_path / "next-2.txt"]
    ids = enqueue(project, (running, 2, None), (paths[1], 0, None), (paths[2], 0, None))
    proc = project.start("prodserver", "qcluster")
    wait_for(Path(f"{running}.started").exists, proc, "the first task started")
    assert not running.exists()  # still in flight when the signal arrives

    assert project.stop(proc, sig) == 0
    assert running.read_text() == "done", "the task in flight was not allowed to finish"
    finished = results(project)
    assert finished[ids[0]] is True
    assert all(finished.values()), "a task failed or was cut short"
    # Nothing is lost: each task either ran to the end or is still queued, unlocked, for the
    # next start (not hidden until Q_CLUSTER["retry"] expires).
    left = queued(project)
    assert len(finished) + len(left) == len(ids)
    now = datetime.now(timezone.utc)
    assert all(lock <= now for _, lock in left)
    for task_id, path in zip(ids, paths, strict=True):
        assert (task_id in finished) == path.exists()
    assert project_processes(project) == []


def test_workers_setting_takes_effect(project: Project) -> None:
    use_cluster(project, workers=3)
    project.migrate()
    paths = [project.tmp_path / f"task-{n}.txt" for n in range(3)]
    enqueue(project, *((path, 1.5, None) for path in paths))
    proc = project.start("prodserver", "qcluster")
    wait_for(lambda: all(path.exists() for path in paths), proc, "three tasks ran")
    # Three 1.5-second tasks, three workers: each worker took one.
    pids = {Path(f"{path}.started").read_text() for path in paths}
    assert len(pids) == 3
    sentinel = psutil.Process(proc.pid).children()
    assert len(sentinel) == 1
    assert len(sentinel[0].children()) == 3 + 2  # workers + pusher + monitor
    assert project.stop(proc) == 0
    assert project_processes(project) == []


def test_name_selects_the_queue(project: Project) -> None:
    use_cluster(project, {"name": "other"})
    project.migrate()
    on_default, on_other = project.tmp_path / "default.txt", project.tmp_path / "other.txt"
    _, other_id = enqueue(project, (on_default, 0, None), (on_other, 0, "other"))
    proc = project.start("prodserver", "qcluster")
    wait_for(lambda: other_id in results(project), proc, "the task on queue other ran")
    assert project.stop(proc) == 0

    assert on_other.exists()
    assert not Path(f"{on_default}.started").exists()
    assert [key for key, _ in queued(project)] == ["mysite"]
    assert "python manage.py qcluster --name=other" in project.output(proc)


def test_run_once_returns_by_itself(project: Project) -> None:
    use_cluster(project, {"run_once": True})
    project.migrate()
    paths = [project.tmp_path / "first.txt", project.tmp_path / "second.txt"]
    enqueue(project, *((path, 0, None) for path in paths))
    proc = project.start("prodserver", "qcluster")
    assert proc.wait(timeout=60) == 0
    # One round: at least the first fetched task ran; the rest is still queued, not lost.
    finished = results(project)
    assert paths[0].exists() or paths[1].exists()
    assert all(finished.values())
    assert len(finished) + len(queued(project)) == len(paths)
    assert project_processes(project) == []


def test_dry_run_prints_the_native_command(project: Project) -> None:
    use_cluster(project, {"run_once": True})
    result = project.manage("prodserver", "qcluster", "--dry-run", "--", "--name=other")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "python manage.py qcluster --run-once --name=other"


WITHOUT_APP = 'INSTALLED_APPS = [a for a in INSTALLED_APPS if a != "django_q"]'


@pytest.mark.parametrize(
    ("args", "extra", "expected"),
    [
        pytest.param(None, WITHOUT_APP, '"django_q" is not in INSTALLED_APPS', id="app-missing"),
        pytest.param(
            None,
            # Simulate an environment without the package.
            f'import sys\nsys.modules["django_q"] = None\n{WITHOUT_APP}',
            'the "django_q" package is not installed. Install it: '
            'pip install "django-prodserver[django-q2]"',
            id="package-missing",
        ),
        pytest.param(
            {"workers": 4},
            "",
            "rejected by qcluster: unrecognized arguments: --workers=4 (qcluster takes only "
            "--run-once and --name; workers, timeout and the broker are set in the Q_CLUSTER "
            "setting)",
            id="unknown-flag",
        ),
    ],
)
def test_bad_configuration_is_one_clear_line(
    project: Project, args: object, extra: str, expected: str
) -> None:
    process: dict[str, object] = {"BACKEND": BACKEND}
    if args is not None:
        process["ARGS"] = args
    project.use_settings({"qcluster": process}, extra=extra, Q_CLUSTER=Q_CLUSTER)
    result = project.manage("prodserver", "qcluster", timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert 'PRODUCTION_PROCESSES["qcluster"]' in lines[0]


def test_unreachable_broker_fails_instead_of_hanging(project: Project) -> None:
    redis = {"host": "127.0.0.1", "port": free_port(), "socket_connect_timeout": 1}
    project.use_settings(
        {"qcluster": {"BACKEND": BACKEND}},
        Q_CLUSTER={"name": "mysite", "workers": 1, "timeout": 60, "retry": 120, "redis": redis},
    )
    result = project.manage("prodserver", "qcluster", timeout=60)
    assert result.returncode == 1
    assert "Can not connect to Redis server" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        'prodserver: process "qcluster" (qcluster) stopped with status 1; its log above says why.'
    )
    assert project_processes(project) == []


def test_a_dead_sentinel_ends_the_process_with_status_1(project: Project) -> None:
    use_cluster(project, workers=1)
    project.migrate()
    proc = project.start("prodserver", "qcluster")
    wait_for(lambda: len(descendants(proc.pid)) == 4, proc, "the cluster started")
    (sentinel,) = psutil.Process(proc.pid).children()
    orphans = sentinel.children()
    try:
        sentinel.kill()
        assert proc.wait(timeout=30) == 1
        assert f"the Django-Q2 sentinel (pid {sentinel.pid}) was killed by signal 9" in (
            project.output(proc)
        )
    finally:
        # The sentinel's children are no longer below the command: end them here.
        for child in orphans:
            with contextlib.suppress(psutil.Error):
                child.kill()
        psutil.wait_procs(orphans, timeout=10)


def test_sigterm_to_the_whole_group_does_not_hang(project: Project) -> None:
    # systemd's default KillMode and Heroku signal every process, so the sentinel dies at
    # once; Cluster.stop() would then wait forever for it. The task is cut short but stays in
    # the ORM broker (locked until Q_CLUSTER["retry"]), so it runs again later.
    use_cluster(project, workers=1)
    project.migrate()
    running = project.tmp_path / "running.txt"
    enqueue(project, (running, 3, None))
    proc = project.start("prodserver", "qcluster")
    wait_for(Path(f"{running}.started").exists, proc, "the task started")

    os.killpg(proc.pid, signal.SIGTERM)  # the project runs it in its own session
    assert proc.wait(timeout=30) == 1
    assert "sentinel (pid" in project.output(proc)
    assert "was killed by SIGTERM (sent to the whole process group?" in project.output(proc)
    assert not running.exists()
    assert results(project) == {}
    assert len(queued(project)) == 1
    assert project_processes(project) == []
