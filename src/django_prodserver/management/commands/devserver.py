"""``manage.py devserver``: Django's development server, named to pair with ``prodserver``.

It is ``runserver`` (the staticfiles variant when ``django.contrib.staticfiles`` is installed,
exactly as ``runserver`` itself resolves), so every ``runserver`` option works. One difference:
with ``--noreload``, SIGTERM stops it like CONTROL-C (exit status 0), as it already does with
the auto-reloader; plain ``runserver --noreload`` dies of the signal instead.
"""

import signal
from typing import Any

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

    def run(self, **options: Any) -> None:
        if not options["use_reloader"]:
            # runserver turns KeyboardInterrupt into a clean exit; let SIGTERM take that path.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
        super().run(**options)
