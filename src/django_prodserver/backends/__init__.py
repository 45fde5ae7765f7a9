"""Built-in backends. Each lives in its own module and imports its server only when it runs."""

BUILTIN_BACKENDS = (
    "django_prodserver.backends.gunicorn.GunicornServer",
    "django_prodserver.backends.waitress.WaitressServer",
    "django_prodserver.backends.uvicorn.UvicornServer",
    "django_prodserver.backends.uvicorn.UvicornWSGIServer",
    "django_prodserver.backends.granian.GranianASGIServer",
    "django_prodserver.backends.granian.GranianWSGIServer",
    "django_prodserver.backends.daphne.DaphneServer",
    "django_prodserver.backends.hypercorn.HypercornServer",
    "django_prodserver.backends.celery.CeleryWorker",
    "django_prodserver.backends.celery.CeleryBeat",
    "django_prodserver.backends.flower.CeleryFlower",
    "django_prodserver.backends.django_tasks.DjangoTasksWorker",
    "django_prodserver.backends.django_q2.DjangoQ2Worker",
)
