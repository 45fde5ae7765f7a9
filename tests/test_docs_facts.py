"""Facts the docs state about the servers' own behaviour, checked against the installed versions.

* Celery's time zone (docs/backends/celery.md, {ref}`celery-beat-time-zone`): a Celery app
  configured from Django's settings uses Django's ``TIME_ZONE`` when ``CELERY_TIMEZONE`` is not
  set, so ``crontab(hour=7)`` is 07:00 in that zone. Both settings tables of the page give that
  default, and link to the explanation.
* Django-Q2's retry/timeout warning (docs/troubleshooting.md, ``ts-q2-retry-timeout``): it
  appears exactly when ``timeout`` is larger than ``retry`` or not set.
"""

from __future__ import annotations

import datetime
import re

import pytest
from celery import Celery
from celery.schedules import crontab
from django.test import override_settings

import docs_blocks
from conftest import Project

CELERY_PAGE = docs_blocks.docs_root() / "backends" / "celery.md"
TROUBLESHOOTING = docs_blocks.docs_root() / "troubleshooting.md"


def django_configured_celery() -> Celery:
    """The app every Celery page shows: configured from Django's settings, CELERY_ namespace."""
    app = Celery("docs-facts", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    return app


@pytest.mark.parametrize(
    ("values", "zone"),
    [
        ({"TIME_ZONE": "Europe/Berlin"}, "Europe/Berlin"),
        ({"TIME_ZONE": "Europe/Berlin", "CELERY_TIMEZONE": "Asia/Tokyo"}, "Asia/Tokyo"),
        ({"TIME_ZONE": "UTC"}, "UTC"),
    ],
)
def test_celery_time_zone_follows_django(values: dict[str, str], zone: str) -> None:
    with override_settings(**values):
        app = django_configured_celery()
        assert str(app.timezone) == zone
        # crontab(hour=7, minute=0) is due at 07:00 in that zone.
        schedule = crontab(hour=7, minute=0, app=app)
        last_run = datetime.datetime(2026, 11, 26, 8, 0, tzinfo=app.timezone)
        start, delta, _ = schedule.remaining_delta(last_run)
        due = start + delta  # the next run after 08:00 on 26 November
        assert (due.day, due.hour, due.minute, str(due.tzinfo)) == (27, 7, 0, zone)


def test_celery_page_gives_django_time_zone_as_the_default() -> None:
    rows = [
        (line, cells)
        for table in docs_blocks.tables(CELERY_PAGE)
        for line, cells in table.rows
        if cells and "CELERY_TIMEZONE" in cells[0]
    ]
    assert len(rows) >= 2, "both settings tables list CELERY_TIMEZONE"
    for line, cells in rows:
        assert "TIME_ZONE" in cells[1].replace("CELERY_TIMEZONE", ""), (
            f"celery.md:{line}: the default of CELERY_TIMEZONE is Django's TIME_ZONE"
        )
        assert "celery-beat-time-zone" in cells[1], f"celery.md:{line}: link the explanation"
    assert not re.search(r"UTC unless|does not change it", docs_blocks.read(CELERY_PAGE))


@pytest.mark.server
@pytest.mark.parametrize(
    ("timeout", "retry", "warns"),
    [(60, 120, False), (60, 60, False), (120, 60, True), (None, 60, True)],
)
def test_django_q2_warning_condition(
    project: Project, timeout: int | None, retry: int, warns: bool
) -> None:
    cluster = {"name": "mysite", "orm": "default", "retry": retry}
    if timeout is not None:
        cluster["timeout"] = timeout
    project.use_settings(Q_CLUSTER=cluster)
    result = project.manage("shell", "-c", "import django_q.conf", check=True)
    assert ("Retry and timeout are misconfigured" in result.stderr) is warns, result.stderr
    text = docs_blocks.read(TROUBLESHOOTING)
    entry = text[text.index("(ts-q2-retry-timeout)=") :]
    entry = " ".join(entry[: entry.index("**Fix.**")].split())
    assert "`timeout` is larger than `retry` or not set (equal values pass)" in entry
