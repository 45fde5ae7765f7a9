"""Settings of the example project that the docs and the tests use.

It is what ``django-admin startproject mysite`` writes, trimmed, with production values and
``PRODUCTION_PROCESSES`` added.
"""

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-not-secret-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "django_prodserver",
    # Workers: Django Tasks (database backend) and Django-Q2 (ORM broker). Django 6 has the
    # task framework built in (django.tasks); Django 5.2 needs the django_tasks backport app.
    *(["django_tasks"] if django.VERSION < (6, 0) else []),
    "django_tasks_db",
    "django_q",
    "mysite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DATABASE_PATH", BASE_DIR / "db.sqlite3"),
    }
}

STATIC_URL = "static/"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django Tasks: the database backend and its db_worker come from django-tasks-db.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Django-Q2 with the database as its broker (no Redis needed); retry must exceed timeout.
Q_CLUSTER = {"name": "mysite", "orm": "default", "workers": 2, "timeout": 60, "retry": 120}

# Celery reads CELERY_* settings (see mysite/celery.py).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

PRODUCTION_PROCESSES = {
    "web": {
        "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer",
        "ARGS": {"bind": "127.0.0.1:8000", "workers": 2},
    },
    "waitress": {
        "BACKEND": "django_prodserver.backends.waitress.WaitressServer",
        "ARGS": {"listen": "127.0.0.1:8000", "threads": 4},
    },
    "uvicorn": {
        "BACKEND": "django_prodserver.backends.uvicorn.UvicornServer",
        "ARGS": {"host": "127.0.0.1", "port": 8000, "workers": 2},
    },
    "uvicorn-wsgi": {
        "BACKEND": "django_prodserver.backends.uvicorn.UvicornWSGIServer",
        "ARGS": {"host": "127.0.0.1", "port": 8000, "workers": 2},
    },
    "granian": {
        "BACKEND": "django_prodserver.backends.granian.GranianASGIServer",
        "ARGS": {"host": "127.0.0.1", "port": 8000, "workers": 2},
    },
    "granian-wsgi": {
        "BACKEND": "django_prodserver.backends.granian.GranianWSGIServer",
        "ARGS": {"host": "127.0.0.1", "port": 8000, "workers": 2},
    },
    "worker": {
        "BACKEND": "django_prodserver.backends.celery.CeleryWorker",
        "APP": "mysite.celery.app",
        "ARGS": {"concurrency": 2, "loglevel": "info"},
    },
    "beat": {
        "BACKEND": "django_prodserver.backends.celery.CeleryBeat",
        "APP": "mysite.celery.app",
        "ARGS": {"loglevel": "info"},
    },
    "tasks": {
        "BACKEND": "django_prodserver.backends.django_tasks.DjangoTasksWorker",
        "ARGS": {"queue_name": "default"},
    },
    # Django-Q2 takes its workers, timeout and broker from Q_CLUSTER above.
    "qcluster": {"BACKEND": "django_prodserver.backends.django_q2.DjangoQ2Worker"},
}
