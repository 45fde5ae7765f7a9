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
from django_prodserver.errors import ArgsRejected, ProdserverError
from django_prodserver.masking import is_secret_option, mask_text

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
                # A warning: manage.py migrate or devserver must still work before the
                # production processes are configured; prodserver itself refuses to start.
                id="prodserver.W001",
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
    return raw, [problem for name in raw if (problem := _name_problem(name)) is not None]


def _name_problem(name: object) -> ConfigProblem | None:
    # A name is typed on the command line (manage.py prodserver NAME), so it must be a string
    # that argparse will not take for an option.
    if isinstance(name, str) and name.strip() and not name.startswith("-"):
        return None
    return ConfigProblem(
        f"{SETTING} has the process name {name!r}, which cannot be typed as "
        "manage.py prodserver NAME.",
        'Name each process with a string that does not start with "-", e.g. "web" or "worker".',
        id="prodserver.E015",
    )


def _suggest_backend(path: str) -> str:
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


def _load_backend(
    setting: str, path: object
) -> tuple[type[BaseServerBackend] | None, list[ConfigProblem]]:
    if path is None or path == "":
        return None, [
            ConfigProblem(
                f'{setting} has no "BACKEND".',
                'Add "BACKEND": "django_prodserver.backends.gunicorn.GunicornServer" '
                "(or another backend class).",
                id="prodserver.E004",
            )
        ]
    if not isinstance(path, str):
        return None, [
            ConfigProblem(
                f'{setting}["BACKEND"] must be a dotted path string, not '
                f"{type(path).__name__} {path!r}.",
                'Write it as a string, e.g. "django_prodserver.backends.gunicorn.GunicornServer".',
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
    except Exception as exc:  # a custom backend's module that fails while importing
        return None, [
            ConfigProblem(
                f'{setting}["BACKEND"] "{path}" cannot be imported: its module raised '
                f"{type(exc).__name__}: {exc}.",
                f'Fix the error in that module; python -c "import {path.rpartition(".")[0]}" '
                "shows where it is.",
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


def _suggest_keys(unknown: Sequence[object]) -> str:
    for key in unknown:
        close = difflib.get_close_matches(str(key).upper(), KNOWN_KEYS, n=1, cutoff=0.6)
        if close and close[0] != key:
            return f'Did you mean "{close[0]}"? Use only {", ".join(KNOWN_KEYS)}.'
    return f'Use only {", ".join(KNOWN_KEYS)}; server options belong inside "ARGS".'


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
                _suggest_keys(unknown),
                id="prodserver.E003",
            )
        )
    backend, backend_problems = _load_backend(setting, raw.get("BACKEND"))
    problems += backend_problems
    args = raw.get("ARGS", {})
    secret_options = backend.secret_options if backend is not None else frozenset()
    try:
        translate_args(args)
    except ArgsTypeError as exc:
        secret = exc.key is not None and is_secret_option(exc.key, secret_options)
        problems.append(
            ConfigProblem(
                f'{setting}["ARGS"]{exc.without_value if secret else exc.detail}.',
                'Write ARGS as a dict such as {"workers": 4, "preload": True} '
                "(keys are the server's long options without the dashes) or as a list of "
                'strings such as ["--workers=4"].',
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
        return None, [problem.masked(secret_options) for problem in problems]
    config = ProcessConfig(
        name=name, backend=backend, args=args if args is not None else {}, app=app
    )
    problems += backend.config_problems(config)
    return (None if problems else config), [problem.masked(secret_options) for problem in problems]


def get_process(name: str | None) -> ProcessConfig:
    """Return the named process (the first one when ``name`` is None) or raise one clear error."""
    raw, problems = configured_processes()
    if problems or raw is None:
        raise ProdserverError(problem_line(problems[0]))
    if name is None:
        name = next(iter(raw))
    if name not in raw:
        names = ", ".join(f'"{n}"' for n in raw)
        close = difflib.get_close_matches(name, [str(n) for n in raw], n=1)
        fix = f'Did you mean "{close[0]}"?' if close else "Run one of those."
        raise ProdserverError(
            f'Unknown process "{name}": {SETTING} defines {names}. '
            f"{fix} manage.py prodserver --list shows them with their commands."
        )
    config, problems = load_process(name, raw[name])
    if config is None:
        raise ProdserverError(problem_line(problems[0]))
    return config


def sentence(text: str) -> str:
    """End ``text`` with exactly one sentence mark (parsers end theirs with ".", "?" or none)."""
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def problem_line(problem: ConfigProblem) -> str:
    """One line for the terminal: what is wrong, then the fix, with any secret masked."""
    return mask_text(f"{sentence(problem.msg)} {problem.hint}".rstrip())


def rejected_args_problem(
    name: str, program: str, reason: str, *, command_line: bool = False
) -> ConfigProblem:
    """The problem reported when a server's own parser refuses a process's arguments.

    ``command_line`` says the culprit is what followed ``--`` on the command line, not ARGS.
    """
    if command_line:
        return ConfigProblem(
            f'The arguments after -- for process "{name}" were rejected by {program}: '
            + sentence(reason),
            f"Fix them; {program} --help lists its options.",
            id="prodserver.E012",
        )
    return ConfigProblem(
        f'{SETTING}["{name}"]["ARGS"] was rejected by {program}: ' + sentence(reason),
        f"Fix that ARGS entry: keys are {program}'s long options without the leading "
        f"dashes (see {program} --help).",
        id="prodserver.E012",
    )


def target_problem(backend: BaseServerBackend) -> ConfigProblem | None:
    """Whether the backend can build its command line (e.g. it finds the WSGI application)."""
    try:
        backend.prep_server_args()
    except ProdserverError as exc:
        check_id = getattr(exc, "check_id", "prodserver.E009")
        return ConfigProblem(str(exc), "", id=check_id).masked(backend.secret_options)
    return None


def args_problem(backend: BaseServerBackend) -> ConfigProblem | None:
    """Run the full command line through the server's own parser; say what it refused.

    When arguments from after ``--`` are present and ARGS alone passes, the blame goes to the
    command line, so the user is not sent to fix a setting that is fine.
    """
    try:
        backend.validate_args(backend.prep_server_args())
    except ArgsRejected as exc:
        command_line = False
        if backend.extra_args:
            alone = type(backend)(backend.config)
            try:
                alone.validate_args(alone.prep_server_args())
                command_line = True
            except ArgsRejected:
                pass
        problem = rejected_args_problem(
            backend.name, backend.program, str(exc), command_line=command_line
        )
        # The parser may quote what it refused, and that may be a secret.
        return problem.masked(backend.secret_options)
    return None


def all_process_names() -> Sequence[str]:
    """Names of every configured process, in settings order (empty if the setting is unusable)."""
    raw, _ = configured_processes()
    return [str(name) for name in raw] if raw else []
