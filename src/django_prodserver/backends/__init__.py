"""Built-in backends. Each lives in its own module and imports its server only when it runs.

:data:`SHORT_NAMES` is the one table of built-in short names: ``"BACKEND": "gunicorn"`` means
the class it maps to. A backend added later gets its row here; packages add their own through
the ``django_prodserver.backends`` entry-point group (see :mod:`django_prodserver.plugins`).
"""

#: Short name -> dotted path of each built-in backend class, in the order the docs list them.
SHORT_NAMES: dict[str, str] = {
    "gunicorn": "django_prodserver.backends.gunicorn.GunicornServer",
    "waitress": "django_prodserver.backends.waitress.WaitressServer",
    "uvicorn": "django_prodserver.backends.uvicorn.UvicornServer",
    "uvicorn-wsgi": "django_prodserver.backends.uvicorn.UvicornWSGIServer",
    "granian": "django_prodserver.backends.granian.GranianASGIServer",
    "granian-wsgi": "django_prodserver.backends.granian.GranianWSGIServer",
    "daphne": "django_prodserver.backends.daphne.DaphneServer",
    "hypercorn": "django_prodserver.backends.hypercorn.HypercornServer",
    "celery-worker": "django_prodserver.backends.celery.CeleryWorker",
    "celery-beat": "django_prodserver.backends.celery.CeleryBeat",
    "flower": "django_prodserver.backends.flower.CeleryFlower",
    "django-tasks": "django_prodserver.backends.django_tasks.DjangoTasksWorker",
    "django-q2": "django_prodserver.backends.django_q2.DjangoQ2Worker",
}

#: The dotted path of every built-in backend.
BUILTIN_BACKENDS = tuple(SHORT_NAMES.values())
