"""CeleryWorker and CeleryBeat on a real redis-server: ``manage.py prodserver NAME`` runs Celery.

Tasks (``example/mysite/celery_tasks.py``) are enqueued by a separate ``manage.py shell``
process and leave files behind. Each test sends its tasks to a queue of its own, so a task
left over by one test never reaches another test's worker.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from conftest import MANAGE_PY, Project, RedisServer, descendants, free_port

pytestmark = pytest.mark.server

WORKER = "django_prodserver.backends.celery.CeleryWorker"
BEAT = "django_prodserver.backends.celery.CeleryBeat"
APP = "mysite.celery.app"


@dataclass
class Celery:
    """The example project wired to the session's redis-server, with a private default queue."""

    project: Project
    redis: RedisServer
    queue: str

    def use(self, processes: dict[str, Any], **values: Any) -> None:
        values.setdefault("CELERY_BROKER_URL", self.redis.url)
        self.project.use_settings(processes, CELERY_TASK_DEFAULT_QUEUE=self.queue, **values)

    def enqueue(self, *tasks: Path | tuple[Path, float], queue: str | None = None) -> None:
        """Send ``write_file(path[, seconds])`` per task, in order, from another process."""
        options = {"queue": queue} if queue else {}
        code = "from mysite.celery_tasks import write_file\n"
        for task in tasks:
            path, seconds = task if isinstance(task, tuple) else (task, 0)
            code += f"write_file.apply_async(({str(path)!r}, {path.stem!r}, {seconds!r}), "
            code += f"**{options!r})\n"
        self.project.manage("shell", "--verbosity=0", "--command", code, check=True)

    def queued(self, queue: str) -> int:
        """Messages waiting in ``queue`` on the broker (a Redis list named after the queue)."""
        client = redis.Redis(port=self.redis.port)
        try:
            return int(client.llen(queue))
        finally:
            client.close()


@pytest.fixture
def celery(project: Project, redis_server: RedisServer) -> Iterator[Celery]:
    # Beat's default schedule file lives in the temporary directory, the project's own.
    yield Celery(project, redis_server, f"test-{uuid.uuid4().hex[:12]}")


def worker(args: object = None, app: str | None = APP, backend: str = WORKER) -> dict[str, Any]:
    process: dict[str, Any] = {"BACKEND": backend}
    if app is not None:
        process["APP"] = app
    if args is not None:
        process["ARGS"] = args
    return process


def wait_for(condition: Any, proc: subprocess.Popen[str], what: str, timeout: float = 60) -> float:
    """Poll ``condition()`` until true; return the seconds waited. Fail if ``proc`` exits."""
    start = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {what}")
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def wait_ready(project: Project, proc: subprocess.Popen[str]) -> None:
    """Wait for the worker's "ready." line (it needs loglevel info)."""
    wait_for(lambda: " ready." in project.output(proc), proc, "worker ready")


def stop_cleanly(project: Project, proc: subprocess.Popen[str]) -> None:
    """SIGTERM; the process must exit 0 and leave none of its children behind."""
    children = descendants(proc.pid)
    status = project.stop(proc, signal.SIGTERM)
    assert status == 0, project.output(proc)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphans after SIGTERM: {alive}"


def record(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_worker_runs_a_task_enqueued_by_another_process(celery: Celery, tmp_path: Path) -> None:
    celery.use({"worker": worker({"loglevel": "info"})})
    done = tmp_path / "first.json"
    started = time.monotonic()
    proc = celery.project.start("prodserver", "worker")
    celery.enqueue(done)
    wait_for(done.exists, proc, "the task's file")
    elapsed = time.monotonic() - started
    print(f"celery worker: start to first task done {elapsed:.2f} s")

    assert record(done)["content"] == "first"
    assert record(done)["pid"] in {p.pid for p in descendants(proc.pid)}  # a pool process
    output = celery.project.output(proc)
    assert f'starting "worker": celery --app={APP} worker --loglevel=info' in output
    stop_cleanly(celery.project, proc)


def test_concurrency_sets_the_number_of_pool_processes(celery: Celery, tmp_path: Path) -> None:
    # The machine's default would be its CPU count; 3 differs from it on a 2-core runner.
    default = os.cpu_count()
    concurrency = 3 if default != 3 else 4
    celery.use({"worker": worker({"concurrency": concurrency, "loglevel": "info"})})
    proc = celery.project.start("prodserver", "worker")
    wait_ready(celery.project, proc)
    pool = descendants(proc.pid)
    assert len(pool) == concurrency
    assert f"concurrency: {concurrency} (prefork)" in celery.project.output(proc)
    stop_cleanly(celery.project, proc)


def test_queues_limits_what_the_worker_consumes(celery: Celery, tmp_path: Path) -> None:
    special = f"{celery.queue}-special"
    celery.use({"worker": worker({"queues": special, "loglevel": "info"})})
    ignored, taken = tmp_path / "ignored.json", tmp_path / "taken.json"
    celery.enqueue(ignored)  # default queue, sent first
    celery.enqueue(taken, queue=special)
    assert celery.queued(celery.queue) == 1

    proc = celery.project.start("prodserver", "worker")
    wait_for(taken.exists, proc, "the task on the named queue")
    stop_cleanly(celery.project, proc)
    assert not ignored.exists()
    assert celery.queued(celery.queue) == 1  # still waiting for a worker of that queue


def test_beat_sends_periodic_tasks_that_a_worker_runs(celery: Celery, tmp_path: Path) -> None:
    ticks = tmp_path / "ticks.txt"
    schedule = {
        "tick": {
            "task": "mysite.celery_tasks.append_line",
            "schedule": 1.0,
            "args": [str(ticks), "tick"],
        }
    }
    celery.use(
        {"worker": worker({"loglevel": "info"}), "beat": worker(backend=BEAT)},
        CELERY_BEAT_SCHEDULE=schedule,
    )
    beat = celery.project.start("prodserver", "beat")
    proc = celery.project.start("prodserver", "worker")

    def two_ticks() -> bool:
        return ticks.exists() and ticks.read_text().count("tick\n") >= 2

    wait_for(two_ticks, beat, "two periodic tasks")
    # The schedule went to the documented default: a private directory in TMPDIR.
    private = celery.project.tmpdir / f"django-prodserver-{os.getuid()}"
    assert list(private.glob(f"celerybeat-schedule-{APP}*"))
    assert private.stat().st_mode & 0o777 == 0o700
    stop_cleanly(celery.project, beat)
    stop_cleanly(celery.project, proc)


def test_sigterm_lets_the_running_task_finish_and_loses_nothing(
    celery: Celery, tmp_path: Path
) -> None:
    celery.use({"worker": worker({"concurrency": 1, "loglevel": "info"})})
    slow = tmp_path / "slow.json"
    waiting = [tmp_path / f"waiting{i}.json" for i in range(3)]
    proc = celery.project.start("prodserver", "worker")
    celery.enqueue((slow, 4), *waiting)  # one worker process: the others wait behind it
    wait_for(slow.with_name("slow.json.started").exists, proc, "the slow task to start")
    assert not slow.exists() and not any(path.exists() for path in waiting)

    stop_at = time.monotonic()
    stop_cleanly(celery.project, proc)
    print(f"celery worker: SIGTERM to exit {time.monotonic() - stop_at:.2f} s, mid-task")
    assert slow.exists(), "the running task did not finish"
    assert "Warm shutdown" in celery.project.output(proc)
    # The tasks the worker had fetched but not started went back to the broker.
    assert not any(path.exists() for path in waiting)
    assert celery.queued(celery.queue) == len(waiting)

    again = celery.project.start("prodserver", "worker")
    for path in waiting:
        wait_for(path.exists, again, f"{path.name} after the restart")
    wait_ready(celery.project, again)
    stop_cleanly(celery.project, again)
    assert celery.queued(celery.queue) == 0


@pytest.mark.timeout(240)
def test_remap_sigterm_puts_the_running_task_back_when_every_process_is_signalled(
    celery: Celery, tmp_path: Path
) -> None:
    """The platform guide's Procfile: Heroku signals every process of a dyno, pool processes
    included. With ``REMAP_SIGTERM=SIGQUIT`` and late acks, the task they were running goes
    back on the queue (a cold shutdown) and the next worker runs it; prodserver's worker and
    the native command end the same way (each on a queue of its own)."""
    queues = {side: f"{celery.queue}-{side}" for side in ("native", "prodserver")}
    celery.use(
        {
            side: worker({"concurrency": 1, "loglevel": "info", "queues": queue})
            for side, queue in queues.items()
        },
        CELERY_TASK_ACKS_LATE=True,
        # The pool processes get the signal too and die mid-task: without this, Celery
        # acknowledges a task whose process was lost (5.3 does; 5.7 restores it first).
        CELERY_TASK_REJECT_ON_WORKER_LOST=True,
    )
    statuses = {}
    for side, queue in queues.items():
        argv = (
            [sys.executable, str(MANAGE_PY), "prodserver", side]
            if side == "prodserver"
            else celery.project.native_argv(side)
        )
        proc = celery.project.start_command(argv, env={"REMAP_SIGTERM": "SIGQUIT"})
        slow = tmp_path / f"{side}.json"
        celery.enqueue((slow, 6), queue=queue)
        wait_for(slow.with_name(f"{side}.json.started").exists, proc, f"{side}: the task to start")

        os.killpg(proc.pid, signal.SIGTERM)  # the main process and its pool, as a dyno stops
        statuses[side] = proc.wait(timeout=60)
        output = celery.project.output(proc)
        assert "Cold shutdown" in output, output
        assert not slow.exists(), f"{side}: the task was not cut off"
        assert celery.queued(queue) == 1, output

    print(f"exit status after SIGTERM to the process group with REMAP_SIGTERM: {statuses}")
    assert statuses["prodserver"] == statuses["native"]
    again = [celery.project.start("prodserver", side) for side in queues]
    for side, proc in zip(queues, again, strict=True):
        wait_for((tmp_path / f"{side}.json").exists, proc, f"{side}: the task, run again")
    for proc in again:
        stop_cleanly(celery.project, proc)


BAD_PROCESSES = {
    "no-app": (worker(app=None), 'uses CeleryWorker, which needs "APP"', "prodserver.E007"),
    "not-celery": (
        worker(app="mysite.settings"),
        "is a module, not a Celery app",
        "prodserver.E014",
    ),
    "module": (worker(app="mysite.celery"), 'Did you mean "mysite.celery.app"?', "prodserver.E014"),
    "missing": (worker(app="mysite.nowhere.app"), "cannot be imported", "prodserver.E013"),
}


@pytest.mark.parametrize("name", list(BAD_PROCESSES))
def test_a_wrong_app_is_one_clear_line(celery: Celery, name: str) -> None:
    process, message, check_id = BAD_PROCESSES[name]
    celery.use({name: process})
    result = celery.project.manage("prodserver", name)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    check = celery.project.manage("check")
    assert check_id in check.stderr and message in check.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"no_such_flag": 1}, "No such option '--no-such-flag'"),
        ({"concurrency": "many"}, "Invalid value for '-c' / '--concurrency'"),
        ({"detach": True}, "--detach is not supported"),
    ],
)
def test_worker_args_are_checked_by_celery_before_starting(
    celery: Celery, args: dict[str, Any], message: str
) -> None:
    celery.use({"worker": worker(args)})
    result = celery.project.manage("prodserver", "worker")
    assert result.returncode == 1
    assert message in result.stderr
    assert "starting" not in result.stderr  # refused before anything started
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_unreachable_broker_is_reported_and_gives_up(celery: Celery, name: str) -> None:
    # Celery retries 100 times by default (about 47 minutes); its setting bounds that. Beat
    # talks to the broker only to send a task, so it gets one due every second.
    url = f"redis://127.0.0.1:{free_port()}/0"
    celery.use(
        {"worker": worker(), "beat": worker(backend=BEAT)},
        CELERY_BROKER_URL=url,
        CELERY_BROKER_CONNECTION_MAX_RETRIES=1,
        CELERY_BEAT_SCHEDULE={"tick": {"task": "mysite.celery_tasks.append_line", "schedule": 1.0}},
    )
    started = time.monotonic()
    proc = celery.project.start("prodserver", name)
    status = proc.wait(timeout=90)
    print(f"celery {name}: unreachable broker, gave up after {time.monotonic() - started:.1f} s")
    output = celery.project.output(proc)
    assert status == 1
    assert url.replace("redis://", "redis://:**@") in output  # the broker, password hidden
    assert "Connection refused" in output
    expected = {
        "worker": 'process "worker" (celery) stopped with status 1',
        "beat": 'process "beat" (celery beat) cannot reach the broker',
    }
    assert expected[name] in output


def test_dry_run_prints_the_native_commands(celery: Celery, tmp_path: Path) -> None:
    celery.use(
        {
            "worker": worker({"concurrency": 4, "loglevel": "info"}),
            "beat": worker({"loglevel": "info"}, backend=BEAT),
            "beat-file": worker({"schedule": "/var/lib/beat/schedule"}, backend=BEAT),
        }
    )
    project = celery.project

    def dry_run(*args: str) -> str:
        return project.manage("prodserver", "--dry-run", *args, check=True).stdout.strip()

    schedule = (
        celery.project.tmpdir / f"django-prodserver-{os.getuid()}" / f"celerybeat-schedule-{APP}"
    )
    assert dry_run("worker") == f"celery --app={APP} worker --concurrency=4 --loglevel=info"
    assert dry_run("beat") == shlex.join(
        ["celery", f"--app={APP}", "beat", f"--schedule={schedule}", "--loglevel=info"]
    )
    assert dry_run("beat-file") == f"celery --app={APP} beat --schedule=/var/lib/beat/schedule"
    assert dry_run("beat", "--", "-s", "here") == f"celery --app={APP} beat --loglevel=info -s here"

    # A schedule file or scheduler named in Celery's own settings is left to Celery.
    celery.use(
        {"beat": worker(backend=BEAT)},
        CELERY_BEAT_SCHEDULER="celery.beat:PersistentScheduler",
        CELERY_BEAT_SCHEDULE_FILENAME="/var/lib/beat/schedule",
    )
    assert dry_run("beat") == f"celery --app={APP} beat"
