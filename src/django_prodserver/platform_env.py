"""``$PORT`` and ``$WEB_CONCURRENCY``: the platform conventions, for every web backend.

Heroku-style platforms, Render, Fly, Cloud Run and many Kubernetes charts tell a web process
where to listen with ``PORT`` and how many worker processes to run with ``WEB_CONCURRENCY``.
Gunicorn reads both itself, Uvicorn only the second, Granian and Waitress neither. Here one
rule applies to every backend that declares its address and worker options (see
:attr:`~django_prodserver.backends.base.BaseServerBackend.address_options`): when the
process's ARGS and the arguments after ``--`` set no address, it listens on ``0.0.0.0:$PORT``;
when they set no worker count, ``$WEB_CONCURRENCY`` is it. Explicit options always win, and the
result is written on the command line, so ``--dry-run`` and ``--list`` show it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

from django_prodserver.args import ArgValue
from django_prodserver.errors import ProdserverError


class PlatformAware(Protocol):
    """What the rule needs of a backend (see ``BaseServerBackend.address_options``)."""

    name: str

    @property
    def address_options(self) -> tuple[str, ...]: ...
    @property
    def port_args(self) -> Mapping[str, str]: ...
    @property
    def workers_option(self) -> str | None: ...
    @property
    def worker_options(self) -> tuple[str, ...]: ...


class BadPlatformVariable(ProdserverError):
    """``PORT`` or ``WEB_CONCURRENCY`` is set to something that is not a positive integer."""

    check_id = "prodserver.W003"


def mentions_any(args: Sequence[str], options: Sequence[str]) -> bool:
    """Whether ``args`` sets one of ``options`` (``--bind``, ``--bind=...``, ``-b...``)."""
    for word in args:
        for option in options:
            if option.startswith("--"):
                if word == option or word.startswith(f"{option}="):
                    return True
            elif word.startswith(option):
                return True
    return False


def _positive_int(variable: str, process: str, largest: int, meaning: str) -> int | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    if raw.isdigit() and 0 < int(raw) <= largest:
        return int(raw)
    raise BadPlatformVariable(
        f'The environment variable {variable} is "{raw}", which is not {meaning}, so process '
        f'"{process}" cannot use it. Set {variable} to {meaning} or unset it (the platform '
        "usually sets it; an address or worker count in ARGS takes precedence over it)."
    )


def platform_args(backend: PlatformAware, user_args: Sequence[str]) -> Mapping[str, ArgValue]:
    """ARGS entries that ``$PORT`` and ``$WEB_CONCURRENCY`` add for ``backend``."""
    added: dict[str, ArgValue] = {}
    if backend.port_args and not mentions_any(user_args, backend.address_options):
        port = _positive_int("PORT", backend.name, 65535, "a port number from 1 to 65535")
        if port is not None:
            added.update({k: v.format(port=port) for k, v in backend.port_args.items()})
    if backend.workers_option and not mentions_any(user_args, backend.worker_options):
        workers = _positive_int(
            "WEB_CONCURRENCY", backend.name, 10_000, "a positive number of processes"
        )
        if workers is not None:
            added[backend.workers_option] = workers
    return added
