"""Fork safety of the worker backends on PostgreSQL: no worker uses a connection it did not open.

The standard of issue 10. An app whose ``AppConfig.ready()`` runs one query (so the process that
``manage.py prodserver`` starts holds an open PostgreSQL connection before the server forks),
``CONN_MAX_AGE = 600``, and a task that records the pid of the process that runs it and the
PostgreSQL backend pid of the connection it queries on (``pg_backend_pid()``, with the backend's
start time, since pids are soon reused on a busy machine; inside a short ``pg_sleep`` so that the
workers' queries overlap). Many tasks are enqueued at once from another process. Then:

* every worker process that ran tasks used backend pids that no other worker process used;
* none of them is the backend the parent (the prodserver process) opened in ``ready()``;
* no two processes of the worker hold the same socket to PostgreSQL (an inherited socket shows
  in both, used or not), looked at once all tasks are done;
* every task ran once and none failed; SIGTERM then stops the worker with status 0.

The same holds for workers forked again later (Celery's ``max_tasks_per_child``, Django-Q2's
``recycle``). Each case also runs the native command that ``--dry-run`` prints, in the same
project and database, and the two must behave alike (see :meth:`Run.shape`). Django Tasks'
``db_worker`` does not fork: there the checks are that it runs on PostgreSQL and keeps no more
than its one connection however many tasks it runs. One difference from native is known and
marked ``xfail``: prodserver closes the connection ``ready()`` opened before ``db_worker``
starts, so with ``CONN_MAX_AGE`` its tasks use a second connection where native reuses it.

Run with ``-s`` to see the pids of each run.
"""

from __future__ import annotations

import importlib.metadata
import json
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from packaging.version import Version

from conftest import MANAGE_PY, PostgresServer, Project, RedisServer, descendants

pytestmark = [pytest.mark.server, pytest.mark.postgres]

CELERY = "django_prodserver.backends.celery.CeleryWorker"
DJANGO_Q2 = "django_prodserver.backends.django_q2.DjangoQ2Worker"
DJANGO_TASKS = "django_prodserver.backends.django_tasks.DjangoTasksWorker"
PRODSERVER = [sys.executable, str(MANAGE_PY), "prodserver", "worker"]
Q_CLUSTER = {"name": "forks", "orm": "default", "workers": 2, "timeout": 60, "retry": 120}

#: A PostgreSQL connection in pg_stat_activity, as "backend pid@start time": pids are reused.
BACKEND_ID = "pid || '@' || (extract(epoch FROM backend_start) * 1000000)::bigint"

#: The app written into the test's directory: one query in ready(), and the task.
READYQUERY = {
    "__init__.py": "",
    "apps.py": f"BACKEND_ID = {BACKEND_ID!r}\n"
    + '''
import json
import os

from django.apps import AppConfig
from django.conf import settings
from django.db import connection


def log(role, **fields):
    """Append one JSON line to settings.READYQUERY_LOG (one write: lines never interleave).

    Pids are reused quickly on a busy machine, so a process is "pid@start time" here.
    """
    with open("/proc/self/stat") as stat:
        started = stat.read().rsplit(")", 1)[1].split()[19]
    record = {"role": role, "pid": os.getpid(), "process": f"{os.getpid()}@{started}", **fields}
    with open(settings.READYQUERY_LOG, "a") as stream:
        stream.write(json.dumps(record) + "\\n")


def backend_pid(seconds=0.0):
    """This process's PostgreSQL connection, after ``seconds`` in it: "backend pid@start"."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {BACKEND_ID} FROM pg_stat_activity, pg_sleep(%s) WHERE pid = pg_backend_pid()",
            [seconds],
        )
        return cursor.fetchone()[0]


class ReadyQueryConfig(AppConfig):
    name = "readyquery"

    def ready(self):
        log("ready", backend=backend_pid())
''',
    "tasks.py": '''
import os

from readyquery.apps import backend_pid, log

try:  # Django 6: the tasks framework is built in.
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport.
    from django_tasks import task


def record(run, n, seconds):
    """The task (Django-Q2 runs plain functions): who ran task n, on which connection."""
    backend = backend_pid(seconds)
    log("task", run=run, n=n, backend=backend)
    return [os.getpid(), backend]


@task()
def record_task(run, n, seconds):
    return record(run, n, seconds)
''',
    "celery_tasks.py": """
from celery import shared_task

from readyquery.tasks import record

record_celery = shared_task(name="readyquery.record")(record)
""",
}

#: Per backend: the shell code that enqueues ``record(run, n, seconds)``.
ENQUEUE = {
    CELERY: (
        "import mysite.celery\nfrom readyquery.celery_tasks import record_celery",
        "record_celery.delay({run!r}, {n}, {seconds})",
    ),
    DJANGO_Q2: (
        "from django_q.tasks import async_task",
        "async_task('readyquery.tasks.record', {run!r}, {n}, {seconds})",
    ),
    DJANGO_TASKS: (
        "from readyquery.tasks import record_task",
        "record_task.enqueue({run!r}, {n}, {seconds})",
    ),
}


def pid(identity: str) -> int:
    """The pid part of a "pid@start time" identity."""
    return int(identity.split("@")[0])


@dataclass
class Run:
    """What one worker run (prodserver or native) did, seen from the outside.

    Processes and connections are "pid@start time" strings, see ``READYQUERY``.
    """

    label: str
    parent: int
    parent_backend: str
    tasks: list[dict[str, Any]]
    #: The exit status after SIGTERM (None while it runs).
    status: int | None
    #: Connections to the project's database once the tasks were done.
    live_backends: set[str]
    #: Sockets to PostgreSQL held by more than one process of the worker: local address -> pids.
    shared_sockets: dict[str, list[int]]
    #: The state of each socket to PostgreSQL, per process of the worker ("ESTABLISHED", ...).
    sockets_per_process: dict[int, list[str]]
    #: The end of the worker's log, once it stopped (shown when an assertion about it fails).
    log: str = ""

    @property
    def workers(self) -> dict[str, list[str]]:
        """Worker process -> the connection of each task it ran, in task order."""
        found: dict[str, list[str]] = {}
        for task in sorted(self.tasks, key=lambda t: t["n"]):
            found.setdefault(task["process"], []).append(task["backend"])
        return found

    def connection_use(self) -> str:
        backends = [len(set(b)) for b in self.workers.values()]
        if all(count == 1 for count in backends):
            return "one connection per worker process"
        if sum(backends) == len(self.tasks):
            return "a new connection per task"
        return "mixed"

    def shape(self) -> dict[str, Any]:
        """What must be the same under prodserver and the native command."""
        return {
            "exit status": self.status,
            "tasks run": sorted(t["n"] for t in self.tasks),
            "worker processes": len(self.workers),
            "tasks run in the parent": sum(t["pid"] == self.parent for t in self.tasks),
            "connections": self.connection_use(),
            "shared sockets": len(self.shared_sockets),
        }

    def describe(self) -> str:
        workers = "; ".join(
            f"worker {pid(worker)}: backends {sorted({pid(b) for b in backends})}"
            for worker, backends in self.workers.items()
        )
        return (
            f"{self.label}: parent pid {self.parent}, ready() backend {pid(self.parent_backend)}; "
            f"{workers}; PostgreSQL sockets per process {self.sockets_per_process}; "
            f"ready() connection still open: {self.parent_backend in self.live_backends}; "
            f"{self.shape()}"
        )

    def assert_no_shared_connection(self) -> None:
        """Each connection belongs to one worker process, and none is the parent's."""
        owner: dict[str, str] = {}
        for worker, backends in self.workers.items():
            for backend in backends:
                other = owner.setdefault(backend, worker)
                assert other == worker, f"backend {backend} used by workers {other} and {worker}"
        assert self.parent_backend not in owner, (
            f"a worker used the connection the parent opened in ready() ({self.parent_backend})"
        )
        assert not self.shared_sockets, f"processes share a socket: {self.shared_sockets}"


@dataclass
class Probe:
    """The example project on a PostgreSQL database, with the readyquery app installed."""

    project: Project
    log: Path
    pg_port: int

    def use(self, process: dict[str, Any], **values: Any) -> None:
        self.project.use_settings(
            {"worker": process},
            extra='INSTALLED_APPS = [*INSTALLED_APPS, "readyquery"]',
            READYQUERY_LOG=str(self.log),
            **values,
        )

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def enqueue(self, backend: str, run: str, count: int, seconds: float) -> None:
        """Enqueue ``count`` tasks at once, from another process."""
        header, call = ENQUEUE[backend]
        calls = [call.format(run=run, n=n, seconds=seconds) for n in range(count)]
        self.project.manage(
            "shell", "--verbosity=0", "--command", "\n".join([header, *calls]), check=True
        )

    def outcomes(self, backend: str, proc: subprocess.Popen[str]) -> Counter[str]:
        """Tasks that succeeded and failed, as the worker itself reports them."""
        if backend == CELERY:  # no result backend: its log says (loglevel info)
            output = self.project.output(proc)
            return Counter(ok=output.count(" succeeded in "), failed=output.count(" raised "))
        sql = {
            DJANGO_Q2: "SELECT success, count(*) FROM django_q_task GROUP BY success",
            DJANGO_TASKS: "SELECT status = 'SUCCESSFUL', count(*) "
            "FROM django_tasks_database_dbtaskresult WHERE status IN ('SUCCESSFUL', 'FAILED') "
            "GROUP BY status",
        }[backend]
        return Counter({"ok" if ok else "failed": n for ok, n in self.project.query(sql)})

    def live_backends(self) -> set[str]:
        rows = self.project.query(
            f"SELECT {BACKEND_ID} FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return {str(backend) for (backend,) in rows}

    def sockets(self, pid: int) -> tuple[dict[str, list[int]], dict[int, list[str]]]:
        """Sockets to PostgreSQL of ``pid`` and its descendants: shared ones, states per process."""
        holders: dict[str, list[int]] = {}
        per_process: dict[int, list[str]] = {}
        for process in [psutil.Process(pid), *descendants(pid)]:
            try:
                connections = process.net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue  # a worker replaced meanwhile
            mine = [c for c in connections if c.raddr and c.raddr.port == self.pg_port]
            per_process[process.pid] = [conn.status for conn in mine]
            for conn in mine:
                holders.setdefault(f"{conn.laddr.ip}:{conn.laddr.port}", []).append(process.pid)
        return {a: p for a, p in holders.items() if len(p) > 1}, per_process

    def run(
        self,
        label: str,
        argv: list[str],
        backend: str,
        count: int,
        seconds: float,
        settled: Callable[[Run], bool] = lambda run: True,
    ) -> Run:
        """Start ``argv``, enqueue ``count`` tasks, wait until all ran, look, stop with SIGTERM.

        ``settled(run)`` says when the connections are in the state to record (a backend ends
        a moment after its client closes it; a native command may close its own a bit later).
        """
        proc = self.project.start_command(argv)
        wait(lambda: self.ready_backend(proc.pid) is not None, proc, "ready() ran")
        parent_backend = str(self.ready_backend(proc.pid))
        before = self.outcomes(backend, proc)
        self.enqueue(backend, label, count, seconds)

        def look() -> Run:
            tasks = [r for r in self.records() if r["role"] == "task" and r["run"] == label]
            shared, per_process = self.sockets(proc.pid)
            live = self.live_backends()
            return Run(label, proc.pid, parent_backend, tasks, None, live, shared, per_process)

        def done() -> bool:
            finished = self.outcomes(backend, proc) - before == Counter(ok=count)
            return finished and len(look().tasks) == count

        wait(done, proc, f"{count} tasks done")
        run = look()

        def settle() -> bool:
            nonlocal run
            run = look()
            return settled(run)

        try:
            wait(settle, proc, "the connections settled", timeout=20)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {run.describe()}") from None
        children = descendants(proc.pid)
        run.status = self.project.stop(proc, signal.SIGTERM)
        run.log = self.project.output(proc)[-3000:]
        _, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"{label}: children outlived the worker: {alive}"
        assert self.outcomes(backend, proc) - before == Counter(ok=count), "a task failed"
        return run

    def ready_backend(self, pid: int) -> str | None:
        """The connection that ``ready()`` used in process ``pid``, once it has run."""
        for record in self.records():
            if record["role"] == "ready" and record["pid"] == pid:
                return str(record["backend"])
        return None

    def prodserver_and_native(
        self, backend: str, count: int, seconds: float, **kwargs: Any
    ) -> tuple[Run, Run]:
        """Run the worker with prodserver, then with its native command, in this project."""
        native = self.project.native_argv("worker")
        runs = (
            self.run("prodserver", PRODSERVER, backend, count, seconds, **kwargs),
            self.run("native", native, backend, count, seconds, **kwargs),
        )
        for run in runs:
            print(run.describe())
        return runs


def wait(
    condition: Callable[[], bool], proc: subprocess.Popen[str], what: str, timeout: float = 60
) -> None:
    """Poll ``condition()`` until it holds; fail if ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited with {proc.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def probe(project: Project, postgres_server: PostgresServer, tmp_path: Path) -> Probe:
    app = tmp_path / "readyquery"
    app.mkdir()
    for name, source in READYQUERY.items():
        (app / name).write_text(source.lstrip())
    project.databases = postgres_server.databases_setting(
        postgres_server.create_database(), CONN_MAX_AGE=600
    )
    return Probe(project, tmp_path / "readyquery.jsonl", postgres_server.port)


def assert_forked_workers_are_safe(runs: tuple[Run, Run], reforked: bool) -> None:
    """Checks for a forking worker, under prodserver and natively; then the two must match.

    ``reforked``: each worker process runs one task and is replaced by a new fork.
    """
    for run in runs:
        run.assert_no_shared_connection()
        assert run.status == 0, run.log
        assert len(run.workers) >= 2, "the tasks did not run concurrently"
        if reforked:
            assert len(run.workers) == len(run.tasks)
    prodserver, native = runs
    assert prodserver.shape() == native.shape()


def celery_worker(**args: Any) -> dict[str, Any]:
    return {
        "BACKEND": CELERY,
        "APP": "mysite.celery.app",
        "ARGS": {"pool": "prefork", "concurrency": 2, "loglevel": "info", **args},
    }


@pytest.mark.parametrize(
    ("args", "count"),
    [pytest.param({}, 40, id="pool"), pytest.param({"max_tasks_per_child": 1}, 12, id="reforked")],
)
def test_celery_prefork_workers_never_share_a_connection(
    probe: Probe, redis_server: RedisServer, args: dict[str, Any], count: int
) -> None:
    probe.use(
        celery_worker(**args),
        CELERY_BROKER_URL=redis_server.url,
        CELERY_TASK_DEFAULT_QUEUE=f"forks-{uuid.uuid4().hex[:12]}",
    )
    probe.project.migrate()
    runs = probe.prodserver_and_native(CELERY, count, seconds=0.1)
    assert_forked_workers_are_safe(runs, reforked=bool(args))
    prodserver, native = runs
    # prodserver closes what manage.py opened before the worker starts (usage: native fidelity).
    assert prodserver.sockets_per_process[prodserver.parent] == [], prodserver.describe()
    # Natively, Celery's Django fixup closes the parent's connections from Celery 5.6 on; before,
    # the parent keeps the one ready() opened (idle, never used by a child: checked above).
    if Version(importlib.metadata.version("celery")) >= Version("5.6"):
        assert native.sockets_per_process[native.parent] == [], native.describe()


@pytest.mark.parametrize(
    ("q_cluster", "count"),
    [pytest.param({}, 20, id="pool"), pytest.param({"recycle": 1}, 10, id="reforked")],
)
def test_django_q2_workers_never_share_a_connection(
    probe: Probe, q_cluster: dict[str, Any], count: int
) -> None:
    probe.use({"BACKEND": DJANGO_Q2}, Q_CLUSTER={**Q_CLUSTER, **q_cluster})
    probe.project.migrate()
    runs = probe.prodserver_and_native(DJANGO_Q2, count, seconds=0.1)
    assert_forked_workers_are_safe(runs, reforked=bool(q_cluster))


def db_worker_stop_race(run: Run) -> bool:
    """django-tasks-db's SIGTERM handler calls ``sys.exit(0)`` wherever the worker is; when
    that is inside its poll's transaction on PostgreSQL, the rollback fails and the worker exits
    1 with this error. The same code runs natively (``db_worker``), so both can hit it.
    """
    return run.status == 1 and "can't change 'autocommit' now" in run.log


def only_the_tasks_connections_open(run: Run) -> bool:
    return run.live_backends == {task["backend"] for task in run.tasks}


@pytest.mark.parametrize("max_age", [600, 0])
def test_django_tasks_db_worker_holds_one_connection_at_most(probe: Probe, max_age: int) -> None:
    """db_worker runs tasks in its own process: one connection, reused or renewed, never more.

    With ``CONN_MAX_AGE = 600`` every task uses the connection ``ready()`` opened, and once the
    tasks are done it is the only one to the database. With 0, Django closes it between tasks:
    every task gets a new one, and the old ones are gone.
    """
    assert probe.project.databases is not None
    probe.project.databases["default"]["CONN_MAX_AGE"] = max_age
    probe.use({"BACKEND": DJANGO_TASKS, "ARGS": {"interval": 0.1}})
    probe.project.migrate()

    def settled(run: Run) -> bool:
        return only_the_tasks_connections_open(run) if max_age else len(run.live_backends) <= 1

    runs = probe.prodserver_and_native(DJANGO_TASKS, 10, seconds=0.05, settled=settled)
    for run in runs:
        assert run.status == 0 or db_worker_stop_race(run), run.log
        ((worker, backends),) = run.workers.items()
        assert pid(worker) == run.parent, "db_worker runs tasks in its own process"
        if max_age:
            assert len(set(backends)) == 1
            assert run.live_backends == set(backends)
        else:
            assert len(set(backends)) == len(backends)
            assert len(run.live_backends) <= 1
        assert list(run.sockets_per_process) == [run.parent]
        assert len(run.sockets_per_process[run.parent]) <= 1
    prodserver, native = runs
    assert prodserver.shape() == native.shape()
    if max_age:  # the one difference: see the xfail test below
        assert {task["backend"] for task in native.tasks} == {native.parent_backend}


def test_django_q2_parent_keeps_no_connection_like_native(probe: Probe) -> None:
    """Once the cluster runs, its main process holds no connection, as ``qcluster``'s.

    prodserver closes every connection before it starts a backend, so the sentinel inherits
    none; ``qcluster`` closes its own when its ``handle()`` returns, after the sentinel has
    inherited it and closed it on the server. Without that, prodserver's main process kept the
    connection ``ready()`` opened, dead, its socket in CLOSE_WAIT, for as long as it ran.
    """
    probe.use({"BACKEND": DJANGO_Q2}, Q_CLUSTER=Q_CLUSTER)
    probe.project.migrate()

    def parent_closed(run: Run) -> bool:
        return run.sockets_per_process[run.parent] == []

    for label, argv in [
        ("native", probe.project.native_argv("worker")),
        ("prodserver", PRODSERVER),
    ]:
        run = probe.run(label, argv, DJANGO_Q2, 2, seconds=0, settled=parent_closed)
        print(run.describe())
        assert run.sockets_per_process[run.parent] == []
        assert run.status == 0, run.log


def test_db_worker_reconnects_once_after_release_documented_difference(probe: Probe) -> None:
    """prodserver closes every connection before any backend starts, db_worker included.

    Native db_worker keeps using the connection ready() opened; under prodserver the tasks run
    on one new connection, and the ready() one is closed (the documented, deliberate
    difference: one reconnect at start, in exchange for one rule for every backend).
    """
    probe.use({"BACKEND": DJANGO_TASKS, "ARGS": {"interval": 0.1}})
    probe.project.migrate()
    runs = probe.prodserver_and_native(
        DJANGO_TASKS, 2, seconds=0, settled=only_the_tasks_connections_open
    )
    prodserver, native = runs
    assert {task["backend"] for task in native.tasks} == {native.parent_backend}
    assert len({task["backend"] for task in prodserver.tasks}) == 1
    assert prodserver.parent_backend not in {task["backend"] for task in prodserver.tasks}
