"""Workers: enqueue-to-done latency and the rate of a burst of tiny tasks, per worker backend.

Each worker runs under ``manage.py prodserver NAME`` in a project of its own (private SQLite
database, migrated; Celery gets a redis-server on a free loopback port). The tasks live in
modules written into the run directory, so the numbers do not depend on what the example
project's tasks happen to do. A backend whose module is not in ``django_prodserver`` yet is
skipped with a message rather than failing the whole run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils.module_loading import import_string

from benchmarks.procs import BenchError, Proc, free_port, run
from benchmarks.project import ROOT, ProcessSpec, Project
from benchmarks.stats import median


@dataclass(frozen=True)
class WorkerBench:
    spec: ProcessSpec
    needs_redis: bool = False


WORKER_BACKENDS: tuple[WorkerBench, ...] = (
    WorkerBench(
        ProcessSpec(
            "celery",
            "Celery",
            "django_prodserver.backends.celery.CeleryWorker",
            '{"concurrency": 2, "loglevel": "warning"}',
            app="bench_celery.app",
        ),
        needs_redis=True,
    ),
    WorkerBench(
        ProcessSpec(
            "django-tasks",
            "Django Tasks",
            "django_prodserver.backends.django_tasks.DjangoTasksWorker",
            "{}",
        )
    ),
    WorkerBench(
        ProcessSpec(
            "django-q2", "Django-Q2", "django_prodserver.backends.django_q2.DjangoQ2Worker", "{}"
        )
    ),
)

# Task modules written into the run directory (importable through PYTHONPATH).
TASK_MODULES = {
    "bench_tasks.py": '''"""The benchmark task's body: record when it finished, under its key."""

import os
import time
from pathlib import Path


def mark(key: str) -> None:
    done = Path(os.environ["BENCH_DONE_DIR"])
    tmp = done / f".{key}.tmp"
    tmp.write_text(repr(time.time()))
    tmp.rename(done / key)
''',
    "bench_celery.py": '''"""A Celery app configured from the Django settings, and its task."""

import os

from celery import Celery

import bench_tasks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings")
app = Celery("bench")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.task(name="bench.mark", ignore_result=True)
def mark(key: str) -> None:
    bench_tasks.mark(key)
''',
    "bench_django_tasks.py": '''"""The benchmark task for Django Tasks."""

from django_tasks import task

import bench_tasks


@task()
def mark(key: str) -> None:
    bench_tasks.mark(key)
''',
}


def unavailable(bench: WorkerBench) -> str | None:
    """Why this worker backend cannot be measured yet, or None if it can."""
    try:
        import_string(bench.spec.backend)
    except ImportError as exc:
        return f"{bench.spec.backend} is not available yet ({exc}); skipped"
    return None


def start_redis(project: Project) -> tuple[Proc, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise BenchError("redis-server is not installed (make system-deps); Celery skipped")
    port = free_port()
    workdir = project.root / "redis"
    workdir.mkdir(exist_ok=True)
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    proc = project.start(argv, project.env(), "redis", cwd=workdir)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.stop()
    raise BenchError(f"redis-server did not answer on port {port}:\n{proc.log_tail()}")


def measure_worker(
    project: Project, bench: WorkerBench, latency_tasks: int, burst: int, broker: str | None
) -> dict[str, object]:
    done = project.root / "done" / bench.spec.name
    done.mkdir(parents=True)
    extra = {"BENCH_DONE_DIR": str(done)}
    if broker:
        extra["CELERY_BROKER_URL"] = broker
    command = project.manage(
        "prodserver", bench.spec.name, "--dry-run", env=project.env(extra=extra)
    )
    worker = project.start(
        project.manage_argv("prodserver", bench.spec.name),
        project.env(extra=extra),
        f"{bench.spec.name}-worker",
    )
    client_env = project.env(extra=extra)
    client_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), client_env["PYTHONPATH"]])
    try:
        output = run(
            [
                sys.executable,
                "-m",
                "benchmarks.worker_client",
                bench.spec.name,
                f"--latency-tasks={latency_tasks}",
                f"--burst={burst}",
            ],
            env=client_env,
            cwd=project.root,
            timeout=600,
        ).stdout
    except BenchError as exc:
        raise BenchError(f"{exc}\nworker log:\n{worker.log_tail()}") from None
    finally:
        worker.stop(graceful=True)
    data: dict[str, object] = json.loads(output.strip().splitlines()[-1])
    latencies = data["latencies"]
    assert isinstance(latencies, list)
    data.update(
        label=bench.spec.label,
        command=command.strip(),
        latency_median=median(latencies),
        latency_max=max(latencies) if latencies else None,
    )
    return data


def run_workers(
    workdir: Path, latency_tasks: int, burst: int, log: Callable[[str], None]
) -> dict[str, object]:
    results: dict[str, object] = {}
    available = []
    for bench in WORKER_BACKENDS:
        reason = unavailable(bench)
        if reason:
            results[bench.spec.name] = {"label": bench.spec.label, "skipped": reason}
            log(f"  {bench.spec.name}: {reason}")
        else:
            available.append(bench)
    if not available:
        return results
    workdir.mkdir(parents=True, exist_ok=True)
    for name, source in TASK_MODULES.items():
        (workdir / name).write_text(source)
    project = Project(workdir, [bench.spec for bench in available])
    try:
        project.migrate()
    except BenchError as exc:
        for bench in available:
            results[bench.spec.name] = {"label": bench.spec.label, "error": str(exc)}
        log(f"  migrate failed, workers skipped: {exc}")
        return results
    for bench in available:
        redis: Proc | None = None
        try:
            broker = None
            if bench.needs_redis:
                redis, broker = start_redis(project)
            results[bench.spec.name] = measure_worker(project, bench, latency_tasks, burst, broker)
            entry = results[bench.spec.name]
            assert isinstance(entry, dict)
            log(
                f"  {bench.spec.name}: latency median {entry['latency_median']:.4f} s, "
                f"{entry['tasks_per_second']:.1f} tasks/s"
            )
        except (BenchError, ValueError, KeyError) as exc:
            results[bench.spec.name] = {"label": bench.spec.label, "error": str(exc)}
            log(f"  {bench.spec.name}: FAILED: {exc}")
        finally:
            if redis is not None:
                redis.stop()
    return results
