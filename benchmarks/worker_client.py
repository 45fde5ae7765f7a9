"""Enqueue benchmark tasks and wait for them; run as ``python -m benchmarks.worker_client``.

It runs in its own process with the benchmark settings (Django set up, as a web request that
enqueues would have it), so the harness itself never holds a database connection or a Celery
app. Each task writes the wall-clock time it finished into a file named after it
(``bench_tasks.mark``), so enqueue-to-done is measured from two clocks of one machine and not
from when this process happened to poll. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

Enqueue = Callable[[str], object]


def _enqueuer(system: str) -> Enqueue:
    import django

    django.setup()
    if system == "celery":
        from bench_celery import mark as celery_mark  # type: ignore[import-not-found]

        return lambda key: celery_mark.delay(key)
    if system == "django-tasks":
        from bench_django_tasks import mark as tasks_mark  # type: ignore[import-not-found]

        return lambda key: tasks_mark.enqueue(key)
    if system == "django-q2":
        from django_q.tasks import async_task

        return lambda key: async_task("bench_tasks.mark", key)
    raise SystemExit(f"unknown system {system}")


def _wait(done_dir: Path, keys: list[str], timeout: float, poll: float) -> dict[str, float]:
    """Wait until every key's file exists; return key -> finish time (what is there by then)."""
    deadline = time.monotonic() + timeout
    wanted = set(keys)
    while time.monotonic() < deadline:
        present = wanted.intersection(os.listdir(done_dir))
        if len(present) == len(wanted):
            break
        time.sleep(poll)
    return {
        key: float((done_dir / key).read_text())
        for key in wanted.intersection(os.listdir(done_dir))
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("system", choices=["celery", "django-tasks", "django-q2"])
    parser.add_argument("--latency-tasks", type=int, default=20)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--gap-min", type=float, default=0.1)
    parser.add_argument("--gap-spread", type=float, default=1.0)
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument("--burst-timeout", type=float, default=120.0)
    options = parser.parse_args()
    done_dir = Path(os.environ["BENCH_DONE_DIR"])
    enqueue = _enqueuer(options.system)

    # The first task also waits for the worker to be up; it is not a latency sample.
    started = time.time()
    enqueue("ready")
    if not _wait(done_dir, ["ready"], options.ready_timeout, 0.01):
        raise SystemExit(
            f"the {options.system} worker ran no task within {options.ready_timeout} s"
        )
    ready_after = time.time() - started

    # A polling worker checks right after finishing a task; enqueueing the next one at once
    # would always meet that check. A random gap meets the worker anywhere in its interval,
    # as independent requests would. Seeded, so every worker gets the same gaps.
    gaps = random.Random(6)
    latencies = []
    for index in range(options.latency_tasks):
        key = f"latency-{index}"
        time.sleep(options.gap_min + gaps.random() * options.gap_spread)
        enqueued = time.time()
        enqueue(key)
        finished = _wait(done_dir, [key], 60.0, 0.002)
        if key not in finished:
            raise SystemExit(f"latency task {index} did not finish within 60 s")
        latencies.append(finished[key] - enqueued)

    keys = [f"burst-{index}" for index in range(options.burst)]
    burst_start = time.time()
    for key in keys:
        enqueue(key)
    enqueue_seconds = time.time() - burst_start
    finished = _wait(done_dir, keys, options.burst_timeout, 0.02)
    last = max(finished.values()) if finished else burst_start
    print(
        json.dumps(
            {
                "ready_after_seconds": ready_after,
                "latencies": latencies,
                "burst_tasks": options.burst,
                "burst_done": len(finished),
                "burst_enqueue_seconds": enqueue_seconds,
                "burst_seconds": last - burst_start,
                "tasks_per_second": len(finished) / (last - burst_start) if finished else 0.0,
            }
        )
    )


if __name__ == "__main__":
    main()
