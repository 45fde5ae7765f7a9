"""Celery: ``celery --app=<APP> worker ARGS`` and ``celery --app=<APP> beat ARGS``.

Both run Celery's own command line in this process, with the same options and environment
variables as the ``celery`` program, so ``celery worker --help`` documents ARGS. Celery's
``app.start()`` would also run it, but it drops the command's exit status (a worker that gives
up on its broker would then look like a clean stop), so the backend calls the command itself.

Beat keeps the last run time of each periodic task in a schedule file. Celery writes it to the
working directory, which is read-only in many containers, so :class:`CeleryBeat` defaults to a
private directory of the user in the system's temporary directory (see :func:`schedule_dir`).

An unreachable broker is left to Celery's own retry settings, so that a worker started a
little before its broker still comes up: each attempt logs the broker URL (password hidden)
and the reason; after ``CELERY_BROKER_CONNECTION_MAX_RETRIES`` attempts (100 by default, 2 s
apart growing to 30 s: about 47 minutes) the process stops with status 1.
``CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = False`` makes the first failure final. Beat
connects only when a task is due, so it notices a missing broker only then.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import os
import stat
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.core import checks
from django.utils.module_loading import import_string

from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ClickParser, ParsedArgs
from django_prodserver.errors import ArgsRejected, ProdserverError

if TYPE_CHECKING:
    import click

#: Celery's own defaults for the two settings that decide whether beat uses a schedule file.
CELERY_DEFAULT_SCHEDULE = "celerybeat-schedule"
CELERY_DEFAULT_SCHEDULER = "celery.beat:PersistentScheduler"


class AppUnusable(ProdserverError):
    """``APP`` does not lead to a Celery app; carries the check id, the problem and the fix."""

    def __init__(self, check_id: str, problem: str, hint: str) -> None:
        super().__init__(f"{problem} {hint}")
        self.check_id = check_id
        self.problem = problem
        self.hint = hint


def _import(path: str) -> Any:
    """Import ``module.attribute``, or the module itself when ``path`` names one.

    A module is never a Celery app, but importing it lets the error suggest the attribute.
    """
    try:
        return import_string(path)
    except ImportError as exc:
        try:
            return importlib.import_module(path)
        except ModuleNotFoundError as inner:
            if inner.name == path:
                raise exc from None  # not a module either: the first error says more
            raise


def load_app(path: str) -> Any:
    """Import the object at ``path`` and return it if it is a Celery app, else raise AppUnusable."""
    from celery import Celery

    try:
        app = _import(path)
    except Exception as exc:  # the user's module may fail in any way while importing
        raise AppUnusable(
            "prodserver.E013",
            f'"{path}" cannot be imported ({type(exc).__name__}: {exc}).',
            'Give the dotted path of your Celery app, e.g. "mysite.celery.app".',
        ) from None
    if isinstance(app, Celery):
        return app
    hint = 'Give the dotted path of the Celery() instance, e.g. "mysite.celery.app".'
    for attribute in ("app", "celery"):
        if isinstance(getattr(app, attribute, None), Celery):
            hint = f'Did you mean "{path}.{attribute}"?'
            break
    raise AppUnusable(
        "prodserver.E014", f'"{path}" is a {type(app).__name__}, not a Celery app.', hint
    )


def schedule_dir() -> Path:
    """Where beat keeps its schedule file unless told otherwise.

    The system's temporary directory is writable in a container whose application directory
    is not; a subdirectory per user, private to that user, keeps other local users from
    planting a schedule file there (it is a pickle-based shelve that beat loads).
    """
    uid = f"-{os.getuid()}" if hasattr(os, "getuid") else ""
    return Path(tempfile.gettempdir()) / f"django-prodserver{uid}"


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (mode 0700) or check that it is this user's own, unshared directory."""
    try:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        info = path.lstat()
    except OSError as exc:
        raise ProdserverError(
            f"beat cannot create its schedule directory {path} ({exc.strerror}). "
            'Set "schedule" in ARGS to a file in a writable directory.'
        ) from None
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    if not stat.S_ISDIR(info.st_mode) or not mine:
        raise ProdserverError(
            f"{path} is not a directory owned by this user, so beat will not keep its schedule "
            'there. Remove it, or set "schedule" in ARGS to a file in a writable directory.'
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)


class _CeleryCommand(BaseServerBackend):
    """What worker and beat share: the app, the ``celery`` command, its parser."""

    program = "celery"
    package = "celery"
    extra = "celery"
    requires_app = True
    #: The ``celery`` subcommand this backend runs.
    subcommand: ClassVar[str] = ""

    def check_settings(self) -> list[checks.CheckMessage]:
        messages = super().check_settings()
        if messages or not self.config.app:
            return messages
        try:
            load_app(self.config.app)
        except AppUnusable as exc:
            setting = f'{self.config.setting}["APP"]'
            messages.append(self.message(exc.check_id, f"{setting}: {exc.problem}", exc.hint))
        return messages

    @property
    def app(self) -> Any:
        assert self.config.app  # config_problems() refuses a process without one
        return load_app(self.config.app)

    def native_prefix(self) -> list[str]:
        return [self.program, f"--app={self.config.app}", self.subcommand]

    def click_command(self) -> click.Command:
        """Celery's click command for the subcommand, with the options the app adds to it."""
        from celery.bin.celery import celery

        command: click.Command = celery.commands[self.subcommand]
        added = [
            *self.app.user_options.get(self.subcommand, ()),
            *self.app.user_options.get("preload", ()),
        ]
        full = copy.copy(command)
        full.params = [*command.params, *(p for p in added if p not in command.params)]
        return full

    def arg_parser(self) -> ClickParser:
        from celery.bin.base import CLIContext

        obj = CLIContext(app=self.app, no_color=True, workdir=None)
        prefix = f"CELERY_{self.subcommand.upper()}"
        return ClickParser(
            self.click_command,
            f"{self.program} {self.subcommand}",
            obj=obj,
            auto_envvar_prefix=prefix,
        )

    def validate_args(self, args: Sequence[str]) -> ParsedArgs | None:
        try:
            parsed = super().validate_args(args)
        except ArgsRejected:
            raise
        except Exception as exc:  # e.g. --pool=gevent without gevent: an import fails
            raise ArgsRejected(f"{type(exc).__name__}: {exc}") from None
        if parsed and parsed.value("detach"):
            raise ArgsRejected(
                "--detach is not supported: prodserver keeps the process in the foreground, "
                "where the container or service manager can signal and watch it"
            )
        return parsed

    def start_server(self, *args: str) -> None:
        import click
        from celery.bin.celery import celery
        from kombu.exceptions import OperationalError

        argv = [f"--app={self.config.app}", self.subcommand, *args]
        # Celery sends stdout and stderr to its log; give them back for Django's last words.
        stdio = sys.stdout, sys.stderr
        try:
            status = celery.main(
                args=argv,
                prog_name=self.program,
                standalone_mode=False,
                auto_envvar_prefix="CELERY",
            )
        except click.exceptions.Abort:
            raise SystemExit(130) from None  # interrupted: the conventional 128 + SIGINT
        except click.ClickException as exc:
            raise ArgsRejected(exc.format_message()) from None
        except OperationalError as exc:
            # Beat gives up on the broker by raising (the worker logs it and exits 1).
            broker = self.app.connection_for_write().as_uri()
            raise ProdserverError(
                f'process "{self.name}" (celery {self.subcommand}) cannot reach the broker '
                f"{broker}: {exc} Check CELERY_BROKER_URL and that the broker is running; "
                "CELERY_BROKER_CONNECTION_MAX_RETRIES says how often Celery retries first."
            ) from None
        finally:
            sys.stdout, sys.stderr = stdio
        if isinstance(status, int) and status != 0:
            raise SystemExit(status)


class CeleryWorker(_CeleryCommand):
    """Run a Celery worker: ``celery --app=<APP> worker ARGS``.

    SIGTERM is Celery's warm shutdown: the worker takes no new task, finishes the running
    ones, returns the ones it had fetched but not started to the broker, then exits with
    status 0. An embedded beat (``"beat": True``) keeps Celery's default schedule file in the
    working directory unless ``schedule`` is set; a separate :class:`CeleryBeat` is better.
    """

    subcommand = "worker"


class CeleryBeat(_CeleryCommand):
    """Run Celery beat, the periodic task scheduler: ``celery --app=<APP> beat ARGS``.

    Run exactly one beat per app, or each periodic task is sent once per beat. Unless ARGS
    or the ``CELERY_BEAT_SCHEDULE_FILENAME`` setting name the schedule file, or another
    scheduler is configured, the file is
    ``<temporary directory>/django-prodserver-<uid>/celerybeat-schedule-<APP>``.
    """

    subcommand = "beat"

    def default_schedule(self) -> Path:
        """The schedule file used when the user names none."""
        return schedule_dir() / f"{CELERY_DEFAULT_SCHEDULE}-{self.config.app}"

    def uses_default_schedule(self) -> bool:
        """Whether beat would write Celery's default file in the working directory.

        Asks the parse of the command line (``--schedule``/``-s``, ``--scheduler``/``-S`` and
        the ``CELERY_BEAT_SCHEDULE*`` variables the celery program reads count as given) and
        then the app's configuration.
        """
        try:
            parsed = self.parsed_args
        except ArgsRejected:
            parsed = None  # the checks report it; --list still shows the command line
        if parsed is not None and parsed.given & {"schedule", "scheduler"}:
            return False
        conf = self.app.conf
        return bool(
            conf.beat_schedule_filename == CELERY_DEFAULT_SCHEDULE
            and conf.beat_scheduler == CELERY_DEFAULT_SCHEDULER
        )

    def start_args(self) -> list[str]:
        """The command line parsed once, plus the private schedule file when none is named."""
        if self.uses_default_schedule():
            return [f"--schedule={self.default_schedule()}", *self.server_args]
        return list(self.server_args)

    def start_server(self, *args: str) -> None:
        if f"--schedule={self.default_schedule()}" in args:
            ensure_private_dir(schedule_dir())
        super().start_server(*args)
