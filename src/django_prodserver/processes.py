"""The registry of configured processes: ``PRODUCTION_PROCESSES`` read once, backends by name.

In the manner of Django's ``caches`` and ``connections``, :data:`processes` reads the setting
when first asked (again after a test changes it) and hands out backend instances by process
name. The system checks, ``prodserver --list`` and ``prodserver NAME`` all go through it, so
they report a problem with the same message and id.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from django_prodserver.args import ArgsTypeError, translate_args
from django_prodserver.backends import BUILTIN_BACKENDS
from django_prodserver.backends.base import BaseServerBackend, message_line
from django_prodserver.check_ids import blocks_start, check_message
from django_prodserver.config import SETTING, ProcessConfig
from django_prodserver.errors import ProdserverError
from django_prodserver.masking import is_secret_option, mask_text

KNOWN_KEYS = ("BACKEND", "ARGS", "APP")
EXAMPLE = (
    'PRODUCTION_PROCESSES = {"web": {"BACKEND": '
    '"django_prodserver.backends.gunicorn.GunicornServer", "ARGS": {"bind": "0.0.0.0:8000"}}}'
)
ARGS_HINT = (
    'Write ARGS as a dict such as {"workers": 4, "preload": True} (keys are the server\'s long '
    'options without the dashes) or as a list of strings such as ["--workers=4"].'
)


class ProcessRegistry:
    """The configured processes, each loaded (its backend imported, its entry checked) once."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[ProcessConfig | None, list[checks.CheckMessage]]] = {}

    def reset(self) -> None:
        """Forget what was read (the setting changed)."""
        self._loaded.clear()

    @property
    def raw(self) -> Any:
        return getattr(settings, SETTING, None)

    def setting_messages(self) -> list[checks.CheckMessage]:
        """Problems with the setting as a whole (not one process)."""
        raw = self.raw
        if raw is None:
            # A warning: migrate and devserver must work before any process is configured.
            return [
                check_message(
                    "prodserver.W001",
                    f"The {SETTING} setting is not defined.",
                    f"Add it to your settings, e.g. {EXAMPLE}",
                )
            ]
        if not isinstance(raw, Mapping):
            return [
                check_message(
                    "prodserver.E001",
                    f"{SETTING} must be a dict of process names to process settings, not "
                    f"{type(raw).__name__}.",
                    f"Write it as {EXAMPLE}",
                )
            ]
        if not raw:
            return [
                check_message(
                    "prodserver.E002",
                    f"{SETTING} is empty: there is no process to start.",
                    f"Add at least one process, e.g. {EXAMPLE}",
                )
            ]
        return [message for name in raw if (message := _name_message(name)) is not None]

    def names(self) -> list[str]:
        """Every configured process name, in settings order (none if the setting is unusable)."""
        raw = self.raw
        return [str(name) for name in raw] if isinstance(raw, Mapping) else []

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def load(self, name: str) -> tuple[ProcessConfig | None, list[checks.CheckMessage]]:
        """Process ``name``'s entry, checked: its config if sound, and its problems."""
        if name not in self._loaded:
            entry = next(value for key, value in self.raw.items() if str(key) == name)
            self._loaded[name] = load_entry(name, entry)
        return self._loaded[name]

    def backend(self, name: str, extra_args: Sequence[str] = ()) -> BaseServerBackend:
        """A backend instance for process ``name``; one clear error if it cannot be had."""
        for message in self.setting_messages():
            raise ProdserverError(message_line(message))
        names = self.names()
        if name not in names:
            listed = ", ".join(f'"{n}"' for n in names)
            close = difflib.get_close_matches(name, names, n=1)
            fix = f'Did you mean "{close[0]}"?' if close else "Run one of those."
            raise ProdserverError(
                f'Unknown process "{name}": {SETTING} defines {listed}. '
                f"{fix} manage.py prodserver --list shows them with their commands."
            )
        config, messages = self.load(name)
        if config is None:
            raise ProdserverError(message_line(messages[0]))
        backend: BaseServerBackend = config.backend(config, extra_args)
        return backend

    def default_name(self) -> str:
        """The process ``prodserver`` starts when given no name: the first one."""
        for message in self.setting_messages():
            raise ProdserverError(message_line(message))
        return self.names()[0]

    def check(self, *, parse: bool = False) -> list[checks.CheckMessage]:
        """Every problem of every process (``parse``: also ask each server's parser)."""
        messages = self.setting_messages()
        for name in self.names():
            config, load_messages = self.load(name)
            messages += load_messages
            if config is not None:
                messages += config.backend(config).check(parse=parse)
        return messages

    def parser_verdicts(self) -> list[checks.CheckMessage]:
        """What each server's own parser says of its sound process's command line."""
        messages = []
        for name in self.names():
            config, _ = self.load(name)
            if config is not None:
                backend = config.backend(config)
                if not backend.check(parse=False):
                    messages += backend.check_args()
        return messages


def _name_message(name: object) -> checks.CheckMessage | None:
    # A name is typed on the command line (manage.py prodserver NAME), so it must be a string
    # that argparse will not take for an option.
    if isinstance(name, str) and name.strip() and not name.startswith("-"):
        return None
    return check_message(
        "prodserver.E015",
        f"{SETTING} has the process name {name!r}, which cannot be typed as "
        "manage.py prodserver NAME.",
        'Name each process with a string that does not start with "-", e.g. "web" or "worker".',
    )


def suggest_backend(path: str) -> str:
    """Name the built-in backend the user most likely meant, or list them all."""
    close = difflib.get_close_matches(path, BUILTIN_BACKENDS, n=1, cutoff=0.6)
    if not close:
        # "gunicorn", "GunicornServer", "backends.uvicorn.Uvicorn": match the last words.
        words = path.lower().replace(":", ".").split(".")
        for builtin in BUILTIN_BACKENDS:
            module, cls = builtin.lower().split(".")[-2:]
            if words[-1] in (module, cls) or (len(words) > 1 and words[-2] == module):
                close = [builtin]
                break
    if close:
        return f'Did you mean "{close[0]}"?'
    return "Use one of: " + ", ".join(BUILTIN_BACKENDS) + ", or the dotted path of your own."


def _import_backend(
    name: str, setting: str, path: object
) -> tuple[type[BaseServerBackend] | None, list[checks.CheckMessage]]:
    def problem(check_id: str, msg: str, hint: str) -> list[checks.CheckMessage]:
        return [check_message(check_id, msg, hint, obj=name)]

    if path is None or path == "":
        return None, problem(
            "prodserver.E004",
            f'{setting} has no "BACKEND".',
            'Add "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer" '
            "(or another backend class).",
        )
    if not isinstance(path, str):
        return None, problem(
            "prodserver.E004",
            f'{setting}["BACKEND"] must be a dotted path string, not '
            f"{type(path).__name__} {path!r}.",
            'Write it as a string, e.g. "django_prodserver.backends.gunicorn.GunicornServer".',
        )
    try:
        backend = import_string(path)
    except ImportError as exc:
        return None, problem(
            "prodserver.E005",
            f'{setting}["BACKEND"] "{path}" cannot be imported ({exc}).',
            suggest_backend(path),
        )
    except Exception as exc:  # a custom backend's module that fails while importing
        return None, problem(
            "prodserver.E005",
            f'{setting}["BACKEND"] "{path}" cannot be imported: its module raised '
            f"{type(exc).__name__}: {exc}.",
            f'Fix the error in that module; python -c "import {path.rpartition(".")[0]}" '
            "shows where it is.",
        )
    if not (isinstance(backend, type) and issubclass(backend, BaseServerBackend)):
        return None, problem(
            "prodserver.E006",
            f'{setting}["BACKEND"] "{path}" is not a backend class.',
            "Point it at a subclass of django_prodserver.backends.base.BaseServerBackend. "
            + suggest_backend(path),
        )
    return backend, []


def _suggest_keys(unknown: Sequence[object]) -> str:
    for key in unknown:
        close = difflib.get_close_matches(str(key).upper(), KNOWN_KEYS, n=1, cutoff=0.6)
        if close and close[0] != key:
            return f'Did you mean "{close[0]}"? Use only {", ".join(KNOWN_KEYS)}.'
    return f'Use only {", ".join(KNOWN_KEYS)}; server options belong inside "ARGS".'


def load_entry(name: str, raw: object) -> tuple[ProcessConfig | None, list[checks.CheckMessage]]:
    """Check one entry of the setting; return it as a :class:`ProcessConfig` if it is sound."""
    setting = f'{SETTING}["{name}"]'
    if not isinstance(raw, Mapping):
        return None, [
            check_message(
                "prodserver.E003",
                f'{setting} must be a dict with a "BACKEND" key, not {type(raw).__name__}.',
                'Write it as {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServer", '
                '"ARGS": {...}}.',
                obj=name,
            )
        ]
    messages: list[checks.CheckMessage] = []
    unknown = [key for key in raw if key not in KNOWN_KEYS]
    if unknown:
        messages.append(
            check_message(
                "prodserver.E003",
                f"{setting} has unknown key(s) {', '.join(map(repr, unknown))}.",
                _suggest_keys(unknown),
                obj=name,
            )
        )
    backend, backend_messages = _import_backend(name, setting, raw.get("BACKEND"))
    messages += backend_messages
    secret_options = backend.secret_options if backend is not None else frozenset()
    args = raw.get("ARGS", {})
    try:
        translate_args(args)
    except ArgsTypeError as exc:
        secret = exc.key is not None and is_secret_option(exc.key, secret_options)
        detail = mask_text(exc.without_value if secret else exc.detail, secret_options)
        messages.append(
            check_message("prodserver.E010", f'{setting}["ARGS"]{detail}.', ARGS_HINT, obj=name)
        )
    app = raw.get("APP")
    if app is not None and (not isinstance(app, str) or not app):
        messages.append(
            check_message(
                "prodserver.E011",
                f'{setting}["APP"] must be a dotted path string, not {app!r}.',
                'Write it as "APP": "mysite.celery.app".',
                obj=name,
            )
        )
    if backend is None or messages:
        return None, messages
    return ProcessConfig(
        name=name, backend=backend, args=args if args is not None else {}, app=app
    ), []


def start_blockers(messages: Sequence[checks.CheckMessage]) -> list[checks.CheckMessage]:
    """The messages that stop ``prodserver NAME`` (errors, and warnings marked so)."""
    return [message for message in messages if blocks_start(message)]


#: The registry every part of the package uses.
processes = ProcessRegistry()


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING, "INSTALLED_APPS"):
        processes.reset()


setting_changed.connect(_reset)
