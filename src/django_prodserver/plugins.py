"""Backends that other packages register, and the lookup of a short ``BACKEND`` name.

A package publishes a backend under the entry-point group ``django_prodserver.backends``
(entry name = the short name, value = ``module:Class``); ``"BACKEND": "that-name"`` then works
like a built-in short name. Built-in names (:data:`~django_prodserver.backends.SHORT_NAMES`)
win over a plugin that registers the same name, so installing a package never changes what
an existing setting starts. Entry points are read only when a short name is not built in (or
to suggest one), so a start with a built-in backend pays nothing for them.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from django_prodserver.backends import SHORT_NAMES

#: The entry-point group packages register their backends in.
ENTRY_POINT_GROUP = "django_prodserver.backends"


def is_short_name(backend: str) -> bool:
    """Whether ``BACKEND`` is a short name (``gunicorn``), not a dotted path."""
    return "." not in backend and ":" not in backend


def plugin_backends() -> dict[str, EntryPoint]:
    """Every backend registered in :data:`ENTRY_POINT_GROUP`, by short name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def distribution_name(entry_point: EntryPoint) -> str:
    """The name of the installed package that registered ``entry_point``."""
    dist = getattr(entry_point, "dist", None)
    return str(dist.name) if dist is not None else "(unknown distribution)"


def short_name_of(dotted_path: str) -> str | None:
    """The built-in short name of a backend class's dotted path, if it has one."""
    return next((short for short, path in SHORT_NAMES.items() if path == dotted_path), None)


def all_short_names() -> list[str]:
    """Built-in short names, then those of installed plugins."""
    return [*SHORT_NAMES, *(name for name in plugin_backends() if name not in SHORT_NAMES)]
