"""Where a web server finds Django: the WSGI or ASGI application as ``module:attribute``.

Defaults follow Django's own settings so that a fresh ``startproject`` works unchanged:
``WSGI_APPLICATION`` for WSGI servers; ``ASGI_APPLICATION`` for ASGI servers, or else the
``asgi`` module that ``startproject`` writes beside the ``wsgi`` one. A process's ``APP``
overrides both.

The module is looked up (not imported) before anything starts: a server that cannot import it
fails only in its workers, and some (Uvicorn with several workers) then exit with status 0, so
a deploy with a missing ``asgi.py`` would look like a clean stop. ``check`` reports it instead.
"""

from __future__ import annotations

import importlib.util

from django.conf import settings

from django_prodserver.errors import ProdserverError


class TargetMissing(ProdserverError):
    """The application's module cannot be found; reported by the checks as ``E016``."""

    check_id = "prodserver.E016"


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


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package is missing or broken
        return False


def wsgi_target(process: str, app: str | None) -> str:
    """The WSGI application as ``module:attribute``, once its module is known to exist."""
    target = import_target(wsgi_application(process, app))
    module = target.partition(":")[0]
    if not _module_exists(module):
        where = 'the process\'s "APP"' if app else "the WSGI_APPLICATION setting"
        raise TargetMissing(
            f'PRODUCTION_PROCESSES["{process}"] serves {target}, but the module "{module}" '
            f"cannot be found. Check {where}."
        )
    return target


def asgi_target(process: str, app: str | None) -> str:
    """The ASGI application as ``module:attribute``, once its module is known to exist."""
    target = import_target(asgi_application(process, app))
    module = target.partition(":")[0]
    if _module_exists(module):
        return target
    if app or getattr(settings, "ASGI_APPLICATION", None):
        where = 'the process\'s "APP"' if app else "the ASGI_APPLICATION setting"
        fix = f"Check {where}."
    else:
        fix = (
            f"Add {module.replace('.', '/')}.py (startproject writes one beside wsgi.py), set "
            "ASGI_APPLICATION to your ASGI application, or use a WSGI backend such as "
            "GunicornServer."
        )
    raise TargetMissing(
        f'PRODUCTION_PROCESSES["{process}"] serves {target}, but the module "{module}" '
        f"cannot be found. {fix}"
    )
