"""Every system check id of django-prodserver: its level and what it means, in one table.

A problem is reported as a Django check message whose class (``Error`` or ``Warning``) comes
from this table, never from reading the id. ``manage.py check``, ``prodserver --list`` and
``prodserver NAME`` all get their messages through :func:`check_message`, so they say the same
thing; the docs' table of ids is tested against this one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import checks

Level = type[checks.Error] | type[checks.Warning]


@dataclass(frozen=True)
class CheckId:
    """One check id: its message class, whether it stops ``prodserver NAME``, its meaning."""

    level: Level
    meaning: str
    #: A warning that still stops the process it is about from starting.
    blocks_start: bool = False


CHECK_IDS: dict[str, CheckId] = {
    "prodserver.W001": CheckId(
        checks.Warning, "PRODUCTION_PROCESSES is not defined.", blocks_start=True
    ),
    "prodserver.W002": CheckId(
        checks.Warning,
        "The backend's package is not installed in this environment.",
        blocks_start=True,
    ),
    "prodserver.E001": CheckId(checks.Error, "PRODUCTION_PROCESSES is not a dict."),
    "prodserver.E002": CheckId(checks.Error, "PRODUCTION_PROCESSES is empty."),
    "prodserver.E003": CheckId(checks.Error, "A process is not a dict, or has unknown keys."),
    "prodserver.E004": CheckId(checks.Error, "A process has no BACKEND, or it is not a string."),
    "prodserver.E005": CheckId(checks.Error, "BACKEND cannot be imported."),
    "prodserver.E006": CheckId(checks.Error, "BACKEND is not a backend class."),
    "prodserver.E007": CheckId(checks.Error, "A Celery process has no APP."),
    "prodserver.E009": CheckId(
        checks.Error, "A web server's application is not configured (WSGI_APPLICATION)."
    ),
    "prodserver.E010": CheckId(checks.Error, "ARGS breaks the ARGS rule."),
    "prodserver.E011": CheckId(checks.Error, "APP is not a non-empty string."),
    "prodserver.E012": CheckId(checks.Error, "The server's own parser rejects the arguments."),
    "prodserver.E013": CheckId(checks.Error, "A Celery process's APP cannot be imported."),
    "prodserver.E014": CheckId(checks.Error, "A Celery process's APP is not a Celery app."),
    "prodserver.E015": CheckId(checks.Error, "A process name cannot be typed on the command line."),
    "prodserver.E016": CheckId(checks.Error, "The application's module cannot be found."),
    "prodserver.E017": CheckId(checks.Error, "The worker's app is not in INSTALLED_APPS."),
    "prodserver.E018": CheckId(checks.Error, "TASKS has no backend for the Django Tasks worker."),
    "prodserver.E019": CheckId(checks.Error, "The TASKS backend cannot be imported."),
    "prodserver.E020": CheckId(
        checks.Error, "The TASKS backend does not store tasks in the database."
    ),
}


def check_message(
    check_id: str, msg: str, hint: str | None = None, obj: object = None
) -> checks.CheckMessage:
    """The message for ``check_id``, of the class its row in :data:`CHECK_IDS` names."""
    return CHECK_IDS[check_id].level(msg, hint=hint or None, obj=obj, id=check_id)


def blocks_start(message: checks.CheckMessage) -> bool:
    """Whether ``message`` stops ``prodserver NAME`` from starting the process it is about."""
    row = CHECK_IDS.get(message.id or "")
    return message.is_serious() or (row is not None and row.blocks_start)
