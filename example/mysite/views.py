"""Views the tests and benchmarks call: a plain one, a slow one, one per worker, one on the DB."""

import os
import time

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest, HttpResponse, JsonResponse


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
