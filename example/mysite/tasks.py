"""Example background tasks for the Django Tasks and Django-Q2 workers.

Each task leaves a trace another process can read: ``PATH.started`` when it begins (so a test
knows a task is in flight before it sends a stop signal), then ``PATH`` with ``text`` when it
is done. Django-Q2 runs plain functions by dotted path::

    from django_q.tasks import async_task
    async_task("mysite.tasks.write_file", "/tmp/done.txt")

Django Tasks runs functions decorated with ``@task``::

    from mysite.tasks import write_file_task
    write_file_task.enqueue("/tmp/done.txt")
"""

import os
import time
from pathlib import Path

try:  # Django 6: the tasks framework is built in.
    from django.tasks import task
except ImportError:  # Django 5.2: the django-tasks backport.
    from django_tasks import task


def write_file(path: str, text: str = "done", seconds: float = 0) -> int:
    """Mark ``PATH.started``, work for ``seconds``, then write ``text`` to ``path``.

    Returns the worker's process id, which Django-Q2 stores as the task result.
    """
    Path(f"{path}.started").write_text(str(os.getpid()))
    time.sleep(seconds)
    Path(path).write_text(text)
    return os.getpid()


@task()
def write_file_task(path: str, text: str = "done", seconds: float = 0) -> int:
    """The same work as a Django Tasks task (enqueue it with ``write_file_task.enqueue``)."""
    return write_file(path, text, seconds)
