"""Django's ASGI application for a server that always speaks the lifespan protocol (Hypercorn).

Django's ASGI handler refuses the ``lifespan`` scope with an exception, and Hypercorn, which
has no option to leave lifespan out, logs ``ASGI Framework Lifespan error, continuing without
Lifespan support`` in every worker at every start. This wrapper answers the lifespan protocol
itself (startup and shutdown complete at once: Django has nothing to run there) and hands every
other scope, HTTP and WebSocket, to the application unchanged.

The application is the ``module:attribute`` in ``DJANGO_PRODSERVER_ASGI_APPLICATION``, which
:class:`~django_prodserver.backends.hypercorn.HypercornServer` sets and ``--dry-run`` shows. The
server imports this module in each worker.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.utils.module_loading import import_string

from django_prodserver.targets import ASGI_APP_ENV as APP_ENV

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _asgi_application() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    path = os.environ.get(APP_ENV)
    if not path:
        raise RuntimeError(
            f"{APP_ENV} is not set: it names the ASGI application to serve, "
            'e.g. "mysite.asgi:application".'
        )
    app: Callable[[Scope, Receive, Send], Awaitable[None]] = import_string(path.replace(":", "."))
    return app


django_application = _asgi_application()


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``lifespan`` here; pass every other scope to Django's application."""
    if scope["type"] != "lifespan":
        await django_application(scope, receive, send)
        return
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
