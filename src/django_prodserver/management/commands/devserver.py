"""``manage.py devserver``: Django's development server, named to pair with ``prodserver``.

It is ``runserver`` unchanged (the staticfiles variant when ``django.contrib.staticfiles`` is
installed, exactly as ``runserver`` itself resolves), so every ``runserver`` option works.
"""

from django.apps import apps

if apps.is_installed("django.contrib.staticfiles"):
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as RunserverCommand,
    )
else:  # pragma: no cover - depends on INSTALLED_APPS
    from django.core.management.commands.runserver import (  # type: ignore[assignment]
        Command as RunserverCommand,
    )


class Command(RunserverCommand):
    help = "Start Django's development server (runserver). Never use it in production."
