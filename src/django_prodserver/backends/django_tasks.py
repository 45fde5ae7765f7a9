"""Django Tasks: ``manage.py db_worker ARGS``, the database worker from django-tasks-db.

``django-tasks`` 0.12 (the backport of ``django.tasks`` for Django 5.2) ships no worker; the
database backend and ``db_worker`` live in ``django-tasks-db``. On Django 6 ``django.tasks`` is
built in and ``django-tasks-db`` alone is enough, so this module imports only
``django_tasks_db`` (which picks ``django.tasks`` or the backport itself), never ``django_tasks``.

``db_worker`` auto-reloads when ``DEBUG`` is on. Under the reloader SIGTERM kills the child
that runs the task and leaves it RUNNING in the database, so ``--no-reload`` is the default here
(ARGS ``"reload": True`` turns reloading back on, for development only).

The command runs through ``call_command`` in this process: its own SIGTERM/SIGINT handlers are
installed in the main thread, so a stop signal lets the running task finish and then exits 0,
and a second one aborts the task (it is then marked FAILED, not left RUNNING).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django_prodserver.backends._parsers import parse_management_command
from django_prodserver.backends.base import BaseServerBackend, ConfigProblem

if TYPE_CHECKING:
    from django_prodserver.config import ProcessConfig

APP = "django_tasks_db"
COMMAND = "db_worker"
DEFAULT_ALIAS = "default"


class DjangoTasksWorker(BaseServerBackend):
    """Run Django Tasks queued in the database with django-tasks-db's ``db_worker``."""

    program = "db_worker"
    package = APP
    extra = "django-tasks"
    default_args = {"no_reload": True}

    def native_prefix(self) -> list[str]:
        return ["python", "manage.py", COMMAND]

    def validate_args(self, args: Sequence[str]) -> None:
        parse_management_command(APP, COMMAND, args)

    @classmethod
    def config_problems(cls, config: ProcessConfig) -> list[ConfigProblem]:
        problems = super().config_problems(config)
        if problems:
            return problems
        from django.apps import apps

        setting = f'PRODUCTION_PROCESSES["{config.name}"]'
        if not apps.is_installed(APP):
            return [
                ConfigProblem(
                    f'{setting} uses {cls.__name__}, but "{APP}" is not in INSTALLED_APPS.',
                    f'Add "{APP}" to INSTALLED_APPS and run manage.py migrate.',
                )
            ]
        problem = _tasks_setting_problem(setting, cls.__name__, _backend_alias(config))
        return [problem] if problem else []

    def start_server(self, *args: str) -> None:
        from django.core.management import call_command

        # call_command, not run_from_argv: no system checks (prodserver skips them too) and
        # a CommandError reaches prodserver, which prints it as one line.
        call_command(COMMAND, *args)


def _backend_alias(config: ProcessConfig) -> str:
    """The TASKS alias the worker will serve: its ``--backend`` option, else ``default``."""
    from django_prodserver.args import ArgsTypeError, translate_args

    try:
        args = translate_args(config.args)
    except ArgsTypeError:
        return DEFAULT_ALIAS
    alias = DEFAULT_ALIAS
    for index, arg in enumerate(args):
        match = re.fullmatch(r"--backend(?:=(.*))?", arg)
        if match:
            value = match.group(1)
            if value is None and index + 1 < len(args):
                value = args[index + 1]
            alias = value or alias
    return alias


def _tasks_setting_problem(setting: str, backend_name: str, alias: str) -> ConfigProblem | None:
    """Say whether ``TASKS[alias]`` is missing or not a django-tasks-db database backend."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    example = 'TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}'
    tasks = getattr(settings, "TASKS", None)
    entry = tasks.get(alias) if isinstance(tasks, dict) else None
    path = entry.get("BACKEND") if isinstance(entry, dict) else None
    if not isinstance(path, str):
        return ConfigProblem(
            f'{setting} uses {backend_name}, but the TASKS setting has no "{alias}" backend, '
            "so there is no database queue to work on.",
            f"Set {example}.",
        )
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        return ConfigProblem(
            f'{setting} uses {backend_name}, but TASKS["{alias}"]["BACKEND"] "{path}" cannot '
            f"be imported ({exc}).",
            f"Set {example}.",
        )
    from django_tasks_db import DatabaseBackend

    if not (isinstance(backend_class, type) and issubclass(backend_class, DatabaseBackend)):
        return ConfigProblem(
            f"{setting} uses {backend_name}, which runs tasks stored in the database, but "
            f'TASKS["{alias}"] uses "{path}".',
            f"Set {example}.",
        )
    return None
