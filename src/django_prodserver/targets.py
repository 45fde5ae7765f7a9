"""Where a web server finds Django: the WSGI or ASGI application as ``module:attribute``.

Defaults follow Django's own settings so that a fresh ``startproject`` works unchanged:
``WSGI_APPLICATION`` for WSGI servers; ``ASGI_APPLICATION`` for ASGI servers, or else the
``asgi`` module that ``startproject`` writes beside the ``wsgi`` one. A process's ``APP``
overrides both.
"""

from __future__ import annotations

from django.conf import settings

from django_prodserver.errors import ProdserverError


def import_target(dotted: str) -> str:
    """Turn ``mysite.wsgi.application`` into the ``mysite.wsgi:application`` servers expect."""
    if ":" in dotted:
        return dotted
    module, _, attribute = dotted.rpartition(".")
    if not module:
        raise ProdserverError(
            f'"{dotted}" is not a dotted path to an application. '
            'Write it as "mysite.wsgi.application".'
        )
    return f"{module}:{attribute}"


def wsgi_application(process: str, app: str | None) -> str:
    """The WSGI application for ``process``, as a dotted path."""
    if app:
        return app
    path = getattr(settings, "WSGI_APPLICATION", None)
    if not path:
        raise ProdserverError(
            f'PRODUCTION_PROCESSES["{process}"] needs a WSGI application, but the '
            'WSGI_APPLICATION setting is not set. Set WSGI_APPLICATION = "mysite.wsgi.application" '
            f'or give the process an "APP".'
        )
    return str(path)


def asgi_application(process: str, app: str | None) -> str:
    """The ASGI application for ``process``, as a dotted path."""
    if app:
        return app
    path = getattr(settings, "ASGI_APPLICATION", None)
    if path:
        return str(path)
    wsgi = getattr(settings, "WSGI_APPLICATION", None) or ""
    module, _, attribute = str(wsgi).rpartition(".")
    package, _, leaf = module.rpartition(".")
    if leaf == "wsgi":
        return f"{package}.asgi.{attribute}" if package else f"asgi.{attribute}"
    raise ProdserverError(
        f'PRODUCTION_PROCESSES["{process}"] needs an ASGI application: set '
        'ASGI_APPLICATION = "mysite.asgi.application" or give the process an "APP".'
    )
