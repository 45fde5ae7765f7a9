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

from django.core import checks

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ManagementCommandParser
from django_prodserver.errors import ArgsRejected

APP = "django_tasks_db"
COMMAND = "db_worker"
DEFAULT_ALIAS = "default"
EXAMPLE = 'TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}'


class DjangoTasksWorker(BaseServerBackend):
    """Run Django Tasks queued in the database with django-tasks-db's ``db_worker``."""

    program = "db_worker"
    package = APP
    extra = "django-tasks"
    default_args = {"no_reload": True}

    def native_prefix(self) -> list[str]:
        return ["python", "manage.py", COMMAND]

    def arg_parser(self) -> ManagementCommandParser:
        # --backend is parsed as the name given, not checked against TASKS by the converter
        # db_worker gives it: check_settings() says what is wrong with TASKS, with the fix.
        return ManagementCommandParser(APP, COMMAND, unchecked=("backend_name",))

    def check_settings(self) -> list[checks.CheckMessage]:
        messages = super().check_settings()
        if messages:
            return messages
        from django.apps import apps

        if not apps.is_installed(APP):
            return [
                self.message(
                    "prodserver.E017",
                    f'{self.config.setting} uses {type(self).__name__}, but "{APP}" is not in '
                    "INSTALLED_APPS.",
                    f'Add "{APP}" to INSTALLED_APPS and run manage.py migrate.',
                )
            ]
        try:
            parsed = self.parsed_args
        except ArgsRejected:
            return []  # check_args() reports the parser's verdict
        alias = parsed.value("backend_name") if parsed else None
        problem = self._tasks_setting_problem(alias or DEFAULT_ALIAS)
        return [problem] if problem else []

    def start_server(self, *args: str) -> None:
        self.arg_parser().run(args)

    def _tasks_setting_problem(self, alias: str) -> checks.CheckMessage | None:
        """Say whether ``TASKS[alias]`` is missing or not a django-tasks-db database backend."""
        from django.conf import settings
        from django.utils.module_loading import import_string

        setting, backend = self.config.setting, type(self).__name__
        tasks = getattr(settings, "TASKS", None)
        entry = tasks.get(alias) if isinstance(tasks, dict) else None
        path = entry.get("BACKEND") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            return self.message(
                "prodserver.E018",
                f'{setting} uses {backend}, but the TASKS setting has no "{alias}" backend, '
                "so there is no database queue to work on.",
                f"Set {EXAMPLE}.",
            )
        try:
            backend_class = import_string(path)
        except ImportError as exc:
            return self.message(
                "prodserver.E019",
                f'{setting} uses {backend}, but TASKS["{alias}"]["BACKEND"] "{path}" cannot '
                f"be imported ({exc}).",
                f"Set {EXAMPLE}.",
            )
        from django_tasks_db import DatabaseBackend

        if not (isinstance(backend_class, type) and issubclass(backend_class, DatabaseBackend)):
            return self.message(
                "prodserver.E020",
                f"{setting} uses {backend}, which runs tasks stored in the database, but "
                f'TASKS["{alias}"] uses "{path}".',
                f"Set {EXAMPLE}.",
            )
        return None
