"""Views the tests and benchmarks call: a plain one, a slow one, one per worker, one on the DB.

The benchmark's workloads are ``/`` and ``/db/`` plus four that a real site has: a sync view
that waits on I/O (``/io/``), the same wait in an ``async def`` view (``/async-io/``), an
``async def`` view using the async ORM (``/async-db/``) and a larger HTML page rendered from a
template (``/page/``).
"""

import asyncio
import os
import time
from pathlib import Path

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import Context, Engine

#: The wait of ``/io/`` and ``/async-io/``: a call to another service, say.
IO_WAIT = 0.05

# The example's settings have no TEMPLATES: the page has an engine of its own, with Django's
# default (cached) loaders, so nothing else in the project changes.
_TEMPLATES = Engine(dirs=[str(Path(__file__).resolve().parent / "templates")])


def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello from django-prodserver\n", content_type="text/plain")


def slow(request: HttpRequest) -> HttpResponse:
    """Sleep ``?seconds=`` (default 2) so a test can stop the server mid-request."""
    seconds = float(request.GET.get("seconds", "2"))
    time.sleep(seconds)
    return HttpResponse(f"slept {seconds}\n", content_type="text/plain")


def pid(request: HttpRequest) -> JsonResponse:
    """The serving process, so a test can count distinct workers."""
    return JsonResponse({"pid": os.getpid()})


def db(request: HttpRequest) -> JsonResponse:
    """Read the database (content types always exist after migrate)."""
    return JsonResponse({"content_types": ContentType.objects.count()})


def io_wait(request: HttpRequest) -> JsonResponse:
    """Wait ``IO_WAIT`` seconds with the thread blocked, as a sync call to an API would."""
    time.sleep(IO_WAIT)
    return JsonResponse({"waited": IO_WAIT})


async def async_io_wait(request: HttpRequest) -> JsonResponse:
    """The same wait in an ``async def`` view: the event loop serves others meanwhile."""
    await asyncio.sleep(IO_WAIT)
    return JsonResponse({"waited": IO_WAIT})


async def async_db(request: HttpRequest) -> JsonResponse:
    """The query of ``/db/`` through the async ORM."""
    return JsonResponse({"content_types": await ContentType.objects.acount()})


def page(request: HttpRequest) -> HttpResponse:
    """A larger HTML page (about 22 kB): a table of 100 rows rendered from a template."""
    rows = [
        {"id": n, "name": f"Item {n}", "price": n * 1.25, "tags": ["new", "sale"][: n % 3]}
        for n in range(1, 101)
    ]
    html = _TEMPLATES.get_template("mysite/page.html").render(
        Context({"title": "Catalogue", "rows": rows})
    )
    return HttpResponse(html)
