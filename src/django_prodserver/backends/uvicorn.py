"""Uvicorn: ``uvicorn <ASGI target> ARGS``, and Uvicorn serving Django's WSGI application.

Django does not speak the ASGI lifespan protocol, so ``--lifespan=off`` is the default (with
``auto`` Uvicorn logs Django's refusal at every start). Uvicorn's own ``--interface=wsgi`` is
deprecated in favour of a2wsgi, so :class:`UvicornWSGIServer` serves
:mod:`django_prodserver.wsgi_as_asgi`, which wraps the WSGI application with a2wsgi.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from django_prodserver.backends._parsers import parse_click, run_click
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.targets import asgi_application, import_target

#: Environment variable that tells :mod:`django_prodserver.wsgi_as_asgi` which WSGI app to wrap.
WSGI_APP_ENV = "DJANGO_PRODSERVER_WSGI_APPLICATION"


class UvicornServer(BaseServerBackend):
    """Serve Django's ASGI application with Uvicorn."""

    program = "uvicorn"
    package = "uvicorn"
    extra = "uvicorn"
    default_args = {"lifespan": "off"}

    def leading_args(self) -> list[str]:
        return [import_target(asgi_application(self.name, self.config.app))]

    def validate_args(self, args: Sequence[str]) -> None:
        from uvicorn.main import main

        parse_click(main, self.program, args)

    def start_server(self, *args: str) -> None:
        from uvicorn.main import main

        run_click(main, self.program, args)


class UvicornWSGIServer(UvicornServer):
    """Serve Django's WSGI application with Uvicorn, through the a2wsgi adapter."""

    def leading_args(self) -> list[str]:
        return ["django_prodserver.wsgi_as_asgi:application"]

    def native_prefix(self) -> list[str]:
        # Only an explicit APP needs the variable; otherwise WSGI_APPLICATION is used.
        prefix = [f"{WSGI_APP_ENV}={self.config.app}"] if self.config.app else []
        return [*prefix, self.program]

    def start_server(self, *args: str) -> None:
        if self.config.app:
            os.environ[WSGI_APP_ENV] = self.config.app
        super().start_server(*args)
