"""The example project's Celery app: ``APP = "mysite.celery.app"`` in PRODUCTION_PROCESSES.

Configuration comes from Django settings whose names start with ``CELERY_`` (for example
``CELERY_BROKER_URL``), so one settings module configures both. The tasks live in
:mod:`mysite.celery_tasks` rather than ``tasks.py``, which keeps them apart from the other
worker backends' tasks; ``related_name`` tells autodiscovery where to look.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

app = Celery("mysite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(related_name="celery_tasks")
