"""Django's WSGI application as an ASGI application, for :class:`UvicornWSGIServer`.

Uvicorn deprecated its built-in WSGI support and recommends a2wsgi, which runs the WSGI
application in a thread pool. The application is ``WSGI_APPLICATION`` (as ``runserver`` uses
it), or the dotted path in ``DJANGO_PRODSERVER_WSGI_APPLICATION`` when the process sets ``APP``.
Uvicorn imports this module in each worker.
"""

from __future__ import annotations

import os

from a2wsgi import WSGIMiddleware
from django.core.servers.basehttp import get_internal_wsgi_application
from django.utils.module_loading import import_string


def _wsgi_application() -> object:
    path = os.environ.get("DJANGO_PRODSERVER_WSGI_APPLICATION")
    if path:
        import django

        django.setup(set_prefix=False)
        return import_string(path.replace(":", "."))
    return get_internal_wsgi_application()


application = WSGIMiddleware(_wsgi_application())  # type: ignore[arg-type]
