"""Reading and validating the ``PRODUCTION_PROCESSES`` setting.

The same functions serve the system checks (``manage.py check``) and ``prodserver`` at start-up,
so both report a problem with the same words. Each problem names the setting, the process and
the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from django_prodserver.args import ArgsSetting, ArgsTypeError, translate_args
from django_prodserver.backends import BUILTIN_BACKENDS
from django_prodserver.backends.base import BaseServerBackend, ConfigProblem
from django_prodserver.errors import ProdserverError

SETTING = "PRODUCTION_PROCESSES"
KNOWN_KEYS = ("BACKEND", "ARGS", "APP")
EXAMPLE = (
    'PRODUCTION_PROCESSES = {"web": {"BACKEND": '
    '"django_prodserver.backends.gunicorn.GunicornServer", "ARGS": {"bind": "0.0.0.0:8000"}}}'
)


@dataclass(frozen=True)
class ProcessConfig:
    """One validated entry of ``PRODUCTION_PROCESSES``."""

    name: str
    backend: type[BaseServerBackend]
    args: ArgsSetting
    app: str | None = None


def configured_processes() -> tuple[Mapping[str, Any] | None, list[ConfigProblem]]:
    """Return the raw setting and the problems with its overall shape."""
    raw = getattr(settings, SETTING, None)
    if raw is None:
        return None, [
            ConfigProblem(
                f"The {SETTING} setting is not defined.",
                f"Add it to your settings, e.g. {EXAMPLE}",
                id="prodserver.E001",
            )
        ]
    if not isinstance(raw, Mapping):
        return None, [
            ConfigProblem(
                f"{SETTING} must be a dict of process names to process settings, "
                f"not {type(raw).__name__}.",
                f"Write it as {EXAMPLE}",
                id="prodserver.E001",
            )
        ]
    if not raw:
        return raw, [
            ConfigProblem(
                f"{SETTING} is empty: there is no process to start.",
                f"Add at least one process, e.g. {EXAMPLE}",
                id="prodserver.E002",
            )
        ]
    return raw, []


def _suggest_backend(path: str) -> str:
    close = difflib.get_close_matches(path, BUILTIN_BACKENDS, n=1, cutoff=0.6)
    if close:
        return f'Did you mean "{close[0]}"?'
    return "Use one of: " + ", ".join(BUILTIN_BACKENDS) + ", or the dotted path of your own."


def _load_backend(
    setting: str, path: object
) -> tuple[type[BaseServerBackend] | None, list[ConfigProblem]]:
    if not isinstance(path, str) or not path:
        return None, [
            ConfigProblem(
                f'{setting} has no "BACKEND".',
                'Add "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer" '
                "(or another backend class).",
                id="prodserver.E004",
            )
        ]
    try:
        backend = import_string(path)
    except ImportError as exc:
        return None, [
            ConfigProblem(
                f'{setting}["BACKEND"] "{path}" cannot be imported ({exc}).',
                _suggest_backend(path),
                id="prodserver.E005",
            )
        ]
    if not (isinstance(backend, type) and issubclass(backend, BaseServerBackend)):
        return None, [
            ConfigProblem(
                f'{setting}["BACKEND"] "{path}" is not a backend class.',
                "Point it at a subclass of django_prodserver.backends.base.BaseServerBackend. "
                + _suggest_backend(path),
                id="prodserver.E006",
            )
        ]
    return backend, []


def load_process(name: str, raw: object) -> tuple[ProcessConfig | None, list[ConfigProblem]]:
    """Validate one entry of the setting; return it as a :class:`ProcessConfig` if it is sound."""
    setting = f'{SETTING}["{name}"]'
    if not isinstance(raw, Mapping):
        return None, [
            ConfigProblem(
                f'{setting} must be a dict with a "BACKEND" key, not {type(raw).__name__}.',
                'Write it as {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServer", '
                '"ARGS": {...}}.',
                id="prodserver.E003",
            )
        ]
    problems: list[ConfigProblem] = []
    unknown = [key for key in raw if key not in KNOWN_KEYS]
    if unknown:
        problems.append(
            ConfigProblem(
                f"{setting} has unknown key(s) {', '.join(map(repr, unknown))}.",
                f'Use only {", ".join(KNOWN_KEYS)}; server options belong inside "ARGS".',
                id="prodserver.E003",
            )
        )
    backend, backend_problems = _load_backend(setting, raw.get("BACKEND"))
    problems += backend_problems
    args = raw.get("ARGS", {})
    try:
        translate_args(args)
    except ArgsTypeError as exc:
        problems.append(
            ConfigProblem(
                f'{setting}["ARGS"]: {exc}.',
                'Use a dict such as {"workers": 4, "preload": True} or a list of strings '
                'such as ["--workers=4"].',
                id="prodserver.E010",
            )
        )
    app = raw.get("APP")
    if app is not None and (not isinstance(app, str) or not app):
        problems.append(
            ConfigProblem(
                f'{setting}["APP"] must be a dotted path string, not {app!r}.',
                'Write it as "APP": "mysite.celery.app".',
                id="prodserver.E011",
            )
        )
        app = None
    if backend is None or problems:
        return None, problems
    config = ProcessConfig(
        name=name, backend=backend, args=args if args is not None else {}, app=app
    )
    problems += backend.config_problems(config)
    return (None if problems else config), problems


def get_process(name: str | None) -> ProcessConfig:
    """Return the named process (the first one when ``name`` is None) or raise one clear error."""
    raw, problems = configured_processes()
    if problems or raw is None:
        raise ProdserverError(_line(problems[0]))
    if name is None:
        name = next(iter(raw))
    if name not in raw:
        names = ", ".join(str(n) for n in raw)
        raise ProdserverError(
            f'Unknown process "{name}": {SETTING} defines {names}. '
            f"Run one of those, e.g. manage.py prodserver {next(iter(raw))}."
        )
    config, problems = load_process(name, raw[name])
    if config is None:
        raise ProdserverError(_line(problems[0]))
    return config


def _line(problem: ConfigProblem) -> str:
    return f"{problem.msg} {problem.hint}"


def all_process_names() -> Sequence[str]:
    """Names of every configured process, in settings order (empty if the setting is unusable)."""
    raw, _ = configured_processes()
    return [str(name) for name in raw] if raw else []
