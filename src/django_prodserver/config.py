"""The value objects of a process's configuration: what one entry of the setting says.

They depend on nothing else in the package, so that backends, the registry of processes
(:mod:`django_prodserver.processes`) and the checks can all use them without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_prodserver.args import ArgsSetting

#: The setting every process is read from.
SETTING = "PRODUCTION_PROCESSES"


@dataclass(frozen=True)
class ProcessConfig:
    """One validated entry of ``PRODUCTION_PROCESSES``.

    ``backend`` is the backend class (a subclass of
    :class:`~django_prodserver.backends.base.BaseServerBackend`); ``args`` is ``ARGS`` as
    written, and ``app`` is ``APP`` or ``None``.
    """

    name: str
    backend: type[Any]
    args: ArgsSetting
    app: str | None = None

    @property
    def setting(self) -> str:
        """How messages name this process's entry: ``PRODUCTION_PROCESSES["web"]``."""
        return f'{SETTING}["{self.name}"]'
