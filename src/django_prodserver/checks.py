"""System checks for ``PRODUCTION_PROCESSES``, run by ``manage.py check``.

Both functions ask the registry of processes (:mod:`django_prodserver.processes`), which asks
each backend (:meth:`~django_prodserver.backends.base.BaseServerBackend.check`): the same path
``prodserver --list`` and ``prodserver NAME`` take. Settings, installed packages and the
application are checked always (cheap: no server is imported). Running each process's command
line through its server's own parser imports the servers, so it is a deployment check:
``manage.py check --deploy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks

from django_prodserver.processes import processes


@checks.register("prodserver")
def check_production_processes(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every problem of every process that can be seen without importing a server."""
    return processes.check(parse=False)


@checks.register("prodserver", deploy=True)
def check_production_args(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Run every sound process's command line through its server's own argument parser."""
    return processes.parser_verdicts()
