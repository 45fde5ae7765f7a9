"""System checks for ``PRODUCTION_PROCESSES``, run by ``manage.py check``.

Structure, backend imports and installed packages are checked always (cheap: no server is
imported). Running each process's ARGS through its server's own parser imports the servers,
so it is a deployment check: ``manage.py check --deploy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks

from django_prodserver.backends.base import ConfigProblem
from django_prodserver.config import SETTING, configured_processes, load_process
from django_prodserver.errors import ArgsRejected, ProdserverError


def _to_message(problem: ConfigProblem) -> checks.CheckMessage:
    level = checks.Warning if problem.id.startswith("prodserver.W") else checks.Error
    return level(problem.msg, hint=problem.hint, id=problem.id)


@checks.register("prodserver")
def check_production_processes(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Validate the shape of every configured process."""
    raw, problems = configured_processes()
    if raw is not None:
        for name, process in raw.items():
            problems += load_process(str(name), process)[1]
    return [_to_message(problem) for problem in problems]


@checks.register("prodserver", deploy=True)
def check_production_args(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Run every sound process's ARGS through its server's own argument parser."""
    raw, _ = configured_processes()
    messages: list[checks.CheckMessage] = []
    for name, process in (raw or {}).items():
        config, _ = load_process(str(name), process)
        if config is None:
            continue
        backend = config.backend(config)
        try:
            backend.validate_args(backend.prep_server_args())
        except (ArgsRejected, ProdserverError) as exc:
            messages.append(
                checks.Error(
                    f'{SETTING}["{name}"]["ARGS"] rejected by {backend.program}: {exc}',
                    hint=f"Use {backend.program}'s own long option names (see "
                    f"{backend.program} --help), without the leading dashes.",
                    id="prodserver.E012",
                )
            )
    return messages
