"""Celery tasks of the example project; the tests enqueue them from another process.

Each task writes a file, so a test can see that a worker really ran it and in which process.
"""

import json
import os
import time
from pathlib import Path

from mysite.celery import app


@app.task
def write_file(path: str, content: str = "done", seconds: float = 0.0) -> str:
    """Write ``path``; with ``seconds``, first mark ``<path>.started`` and sleep that long.

    The marker lets a test stop the worker while the task is surely running. The file holds
    the content, the worker process id and the time, as JSON; it is written under a temporary
    name and renamed, so a reader never sees half of it.
    """
    target = Path(path)
    if seconds:
        target.with_name(target.name + ".started").touch()
        time.sleep(seconds)
    record = {"content": content, "pid": os.getpid(), "time": time.time()}
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(record))
    partial.replace(target)
    return content


@app.task
def append_line(path: str, line: str) -> None:
    """Append one line to ``path``: periodic (beat) tasks use it to count their runs."""
    with Path(path).open("a") as stream:
        stream.write(line + "\n")
