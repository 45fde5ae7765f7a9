"""System checks for ``PRODUCTION_PROCESSES``, run by ``manage.py check``.

Structure, backend imports, installed packages and the application target are checked always
(cheap: no server is imported). Running each process's ARGS through its server's own parser
imports the servers, so it is a deployment check: ``manage.py check --deploy``.

``prodserver NAME`` runs Django's checks before starting; there only process NAME matters (a
worker whose package is not installed in the web image must not stop the web server), so
:func:`only_process` narrows these checks to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from django.core import checks

from django_prodserver.backends.base import ConfigProblem
from django_prodserver.config import (
    ProcessConfig,
    args_problem,
    configured_processes,
    load_process,
    target_problem,
)

_ONLY_PROCESS: ContextVar[str | None] = ContextVar("prodserver_only_process", default=None)


@contextlib.contextmanager
def only_process(name: str) -> Iterator[None]:
    """Check only process ``name`` of ``PRODUCTION_PROCESSES`` inside this block."""
    token = _ONLY_PROCESS.set(name)
    try:
        yield
    finally:
        _ONLY_PROCESS.reset(token)


def _to_message(problem: ConfigProblem) -> checks.CheckMessage:
    # Problems that quote ARGS come masked with their backend's secret options; masking again
    # here covers any other problem a backend reports.
    problem = problem.masked()
    level = checks.Warning if problem.id.startswith("prodserver.W") else checks.Error
    return level(problem.msg, hint=problem.hint or None, id=problem.id)


def _processes(raw: Mapping[Any, Any] | None) -> Iterator[tuple[str, Any]]:
    only = _ONLY_PROCESS.get()
    for name, process in (raw or {}).items():
        if only is None or name == only:
            yield str(name), process


def _sound_processes() -> Iterator[ProcessConfig]:
    raw, _ = configured_processes()
    for name, process in _processes(raw):
        config, _ = load_process(name, process)
        if config is not None:
            yield config


@checks.register("prodserver")
def check_production_processes(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Validate the shape of every configured process and that it finds its application."""
    raw, problems = configured_processes()
    for name, process in _processes(raw):
        config, process_problems = load_process(name, process)
        problems += process_problems
        if config is not None and (problem := target_problem(config.backend(config))):
            problems.append(problem)
    return [_to_message(problem) for problem in problems]


@checks.register("prodserver", deploy=True)
def check_production_args(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Run every sound process's ARGS through its server's own argument parser."""
    messages: list[checks.CheckMessage] = []
    for config in _sound_processes():
        backend = config.backend(config)
        if target_problem(backend) is None and (problem := args_problem(backend)):
            messages.append(_to_message(problem))
    return messages
