"""Reading and validating PRODUCTION_PROCESSES (the registry and the backends), in this process.

The same path feeds ``manage.py check``, ``--list`` and ``prodserver``; here each problem is
checked for its id and for words that tell the user what is wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from pytest_django.fixtures import Settings

from django_prodserver.backends.base import BaseServerBackend, message_line, sentence
from django_prodserver.backends.gunicorn import GunicornServer
from django_prodserver.config import ProcessConfig
from django_prodserver.errors import ProdserverError
from django_prodserver.processes import load_entry, processes, start_blockers

GUNICORN = "django_prodserver.backends.gunicorn.GunicornServer"
UVICORN = "django_prodserver.backends.uvicorn.UvicornServer"


class NotInstalledBackend(BaseServerBackend):
    """A backend whose server package does not exist anywhere."""

    program = "nothing"
    package = "definitely_not_installed_pkg"

    def start_server(self, *args: str) -> None:  # pragma: no cover - never started
        raise AssertionError("never started")


class NotInstalledWithExtra(NotInstalledBackend):
    extra = "nothing"


class NeedsApp(BaseServerBackend):
    requires_app = True
    program = "celery-like"


class NotABackend:
    """Any class that is not a BaseServerBackend."""


HERE = __name__


def load_process(name: str, raw: Any) -> tuple[ProcessConfig | None, list[checks.CheckMessage]]:
    """One entry as the registry loads it, then its backend's settings checks."""
    config, messages = load_entry(name, raw)
    if config is not None:
        messages = config.backend(config).check(parse=False)
    return (None if start_blockers(messages) else config), messages


def get_process(name: str | None) -> ProcessConfig:
    """What prodserver NAME starts, or the one-line error it stops with."""
    backend = processes.backend(name or processes.default_name())
    for message in start_blockers(backend.check(parse=False)):
        raise ProdserverError(message_line(message))
    return backend.config


def problem_of(backend: BaseServerBackend) -> checks.CheckMessage | None:
    messages = backend.check()
    return messages[0] if messages else None


# -- the setting as a whole ------------------------------------------------------------


def test_setting_missing(settings: Settings) -> None:
    del settings.PRODUCTION_PROCESSES
    problems = processes.setting_messages()
    assert [p.id for p in problems] == ["prodserver.W001"]
    assert "PRODUCTION_PROCESSES setting is not defined" in problems[0].msg
    assert "PRODUCTION_PROCESSES = {" in problems[0].hint


@pytest.mark.parametrize("value", [["web"], "web", 1, ("web", {})])
def test_setting_not_a_dict(settings: Settings, value: Any) -> None:
    settings.PRODUCTION_PROCESSES = value
    problems = processes.setting_messages()
    assert [p.id for p in problems] == ["prodserver.E001"]
    assert f"not {type(value).__name__}" in problems[0].msg


def test_setting_empty(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {}
    problems = processes.setting_messages()
    assert [p.id for p in problems] == ["prodserver.E002"]
    assert "no process to start" in problems[0].msg


@pytest.mark.parametrize("name", [1, None, "", "  ", "-web", ("web",)])
def test_process_name_that_cannot_be_typed(settings: Settings, name: Any) -> None:
    settings.PRODUCTION_PROCESSES = {"ok": {"BACKEND": GUNICORN}, name: {"BACKEND": GUNICORN}}
    problems = processes.setting_messages()
    assert [p.id for p in problems] == ["prodserver.E015"]
    assert repr(name) in problems[0].msg
    with pytest.raises(ProdserverError, match="cannot be typed"):
        get_process("ok")


# -- one process ------------------------------------------------------------------------

PROCESS_PROBLEMS = [
    pytest.param("gunicorn", "prodserver.E003", ["must be a dict", "not str"], id="not-a-dict"),
    pytest.param(None, "prodserver.E003", ["not NoneType"], id="none"),
    pytest.param({"ARGS": {}}, "prodserver.E004", ['has no "BACKEND"'], id="no-backend"),
    pytest.param({"BACKEND": ""}, "prodserver.E004", ['has no "BACKEND"'], id="empty-backend"),
    pytest.param(
        {"BACKEND": GunicornServer},
        "prodserver.E004",
        ["must be a dotted path string, not type"],
        id="class-object",
    ),
    pytest.param(
        {"BACKEND": "django_prodserver.backends.gunicorn.GunicornServr"},
        "prodserver.E005",
        ["cannot be imported", f'Did you mean "{GUNICORN}"?'],
        id="class-typo",
    ),
    pytest.param(
        {"BACKEND": "django_prodserver.backends.gunicron.GunicornServer"},
        "prodserver.E005",
        ["No module named", f'Did you mean "{GUNICORN}"?'],
        id="module-typo",
    ),
    pytest.param(
        {"BACKEND": "gunicorn"},
        "prodserver.E005",
        [f'Did you mean "{GUNICORN}"?'],
        id="bare-server-name",
    ),
    pytest.param(
        {"BACKEND": "myproject.GranianWSGIServer"},
        "prodserver.E005",
        ['Did you mean "django_prodserver.backends.granian.GranianWSGIServer"?'],
        id="bare-class-name",
    ),
    pytest.param(
        {"BACKEND": "no_such_pkg_xyz.backends.Server"},
        "prodserver.E005",
        ["No module named 'no_such_pkg_xyz'", "Use one of: " + GUNICORN],
        id="module-missing",
    ),
    pytest.param(
        {"BACKEND": f"{HERE}.NotABackend"},
        "prodserver.E006",
        ["is not a backend class", "subclass of django_prodserver.backends.base"],
        id="not-a-backend-class",
    ),
    pytest.param(
        {"BACKEND": "django.utils.module_loading.import_string"},
        "prodserver.E006",
        ["is not a backend class"],
        id="a-function",
    ),
    pytest.param(
        {"BACKEND": f"{HERE}.NeedsApp"},
        "prodserver.E007",
        ['needs "APP"', '"APP": "mysite.celery.app"'],
        id="app-required",
    ),
    pytest.param(
        {"BACKEND": f"{HERE}.NotInstalledBackend"},
        "prodserver.W002",
        ['"definitely_not_installed_pkg" package is not installed', "Install "],
        id="package-missing",
    ),
    pytest.param(
        {"BACKEND": f"{HERE}.NotInstalledWithExtra"},
        "prodserver.W002",
        ['pip install "django-prodserver[nothing]"'],
        id="package-missing-extra",
    ),
    pytest.param(
        {"BACKEND": GUNICORN, "ARGS": "--workers=4"},
        "prodserver.E010",
        ['["web"]["ARGS"] must be a dict', "--workers=4"],
        id="args-string",
    ),
    pytest.param(
        {"BACKEND": GUNICORN, "ARGS": {"workers": {"n": 4}}},
        "prodserver.E010",
        ['["web"]["ARGS"]["workers"] must be'],
        id="args-nested-dict",
    ),
    pytest.param(
        {"BACKEND": GUNICORN, "APP": 5},
        "prodserver.E011",
        ['["web"]["APP"] must be a dotted path string'],
        id="app-not-a-string",
    ),
    pytest.param(
        {"BACKEND": GUNICORN, "ARG": {"workers": 2}},
        "prodserver.E003",
        ["unknown key(s) 'ARG'", 'Did you mean "ARGS"?'],
        id="unknown-key-typo",
    ),
    pytest.param(
        {"backend": GUNICORN},
        "prodserver.E003",
        ["unknown key(s) 'backend'", 'Did you mean "BACKEND"?'],
        id="lowercase-key",
    ),
    pytest.param(
        {"BACKEND": GUNICORN, "workers": 4},
        "prodserver.E003",
        ["unknown key(s) 'workers'", 'server options belong inside "ARGS"'],
        id="option-outside-args",
    ),
]


@pytest.mark.parametrize(("process", "first_id", "words"), PROCESS_PROBLEMS)
def test_process_problem(process: Any, first_id: str, words: list[str]) -> None:
    config, problems = load_process("web", process)
    assert config is None
    assert problems[0].id == first_id
    line = message_line(problems[0])
    assert "\n" not in line
    assert 'PRODUCTION_PROCESSES["web"]' in line
    for word in words:
        assert word in line


def test_backend_module_that_raises_while_importing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "raising_backend_mod.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _, problems = load_process("web", {"BACKEND": "raising_backend_mod.Server"})
    assert problems[0].id == "prodserver.E005"
    assert "RuntimeError: boom at import" in problems[0].msg
    assert 'python -c "import raising_backend_mod"' in problems[0].hint


def test_every_problem_of_a_process_is_reported() -> None:
    _, problems = load_process("web", {"BACKEND": "nope.Nope", "ARGS": 3, "APP": 1, "X": 1})
    assert sorted(p.id for p in problems) == [
        "prodserver.E003",
        "prodserver.E005",
        "prodserver.E010",
        "prodserver.E011",
    ]


def test_sound_process() -> None:
    config, problems = load_process(
        "web", {"BACKEND": GUNICORN, "ARGS": None, "APP": "mysite.wsgi.application"}
    )
    assert problems == []
    assert config == ProcessConfig(
        name="web", backend=GunicornServer, args={}, app="mysite.wsgi.application"
    )


# -- what prodserver starts -----------------------------------------------


def test_get_process_defaults_to_the_first(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {
        "api": {"BACKEND": UVICORN},
        "web": {"BACKEND": GUNICORN},
    }
    assert get_process(None).name == "api"
    assert get_process("web").backend is GunicornServer


def test_unknown_process_lists_the_names(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": GUNICORN}, "api": {"BACKEND": UVICORN}}
    with pytest.raises(ProdserverError) as info:
        get_process("worker")
    assert str(info.value) == (
        'Unknown process "worker": PRODUCTION_PROCESSES defines "web", "api". '
        "Run one of those. manage.py prodserver --list shows them with their commands."
    )
    with pytest.raises(ProdserverError, match='Did you mean "web"\\?'):
        get_process("wbe")


def test_get_process_raises_the_first_problem_in_one_line(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {"web": {"BACKEND": GUNICORN, "ARGS": 4}}
    with pytest.raises(ProdserverError) as info:
        get_process("web")
    message = str(info.value)
    assert message.startswith('PRODUCTION_PROCESSES["web"]["ARGS"] must be a dict')
    assert "Write ARGS as a dict" in message
    assert "\n" not in message


def test_a_broken_other_process_does_not_stop_this_one(settings: Settings) -> None:
    settings.PRODUCTION_PROCESSES = {
        "web": {"BACKEND": GUNICORN},
        "worker": {"BACKEND": f"{HERE}.NotInstalledBackend"},
    }
    assert get_process("web").name == "web"
    with pytest.raises(ProdserverError, match="definitely_not_installed_pkg"):
        get_process("worker")


# -- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bad", "bad."),
        ("bad.", "bad."),
        (" bad ", "bad."),
        ("Did you mean '--workers'?", "Did you mean '--workers'?"),
        ("(Did you mean one of: '--workers'?)", "(Did you mean one of: '--workers'?)."),
    ],
)
def test_sentence(text: str, expected: str) -> None:
    assert sentence(text) == expected


def test_target_problem_when_wsgi_application_is_unset(settings: Settings) -> None:
    settings.WSGI_APPLICATION = None
    config = ProcessConfig(name="web", backend=GunicornServer, args={})
    problem = problem_of(GunicornServer(config))
    assert problem is not None
    assert problem.id == "prodserver.E009"
    assert "WSGI_APPLICATION setting is not set" in problem.msg
    config_with_app = ProcessConfig(
        name="web", backend=GunicornServer, args={}, app="mysite.wsgi.application"
    )
    assert problem_of(GunicornServer(config_with_app)) is None


def test_args_problem_blames_args_or_the_command_line() -> None:
    """The real Gunicorn parser decides; the message says which part to fix."""
    bad = ProcessConfig(name="web", backend=GunicornServer, args={"workerz": 2})
    good = ProcessConfig(name="web", backend=GunicornServer, args={"workers": 2})

    problem = problem_of(GunicornServer(bad))
    assert problem is not None
    assert problem.id == "prodserver.E012"
    assert problem.msg.startswith('PRODUCTION_PROCESSES["web"]["ARGS"] was rejected by gunicorn')
    assert "--workerz=2" in problem.msg

    problem = problem_of(GunicornServer(good, ["--timeout=soon"]))
    assert problem is not None
    assert problem.msg.startswith('The arguments after -- for process "web" were rejected')
    assert "soon" in problem.msg

    # Both bad: ARGS is named first, as it is fixed in the settings.
    problem = problem_of(GunicornServer(bad, ["--timeout=soon"]))
    assert problem is not None
    assert problem.msg.startswith('PRODUCTION_PROCESSES["web"]["ARGS"]')
    assert problem.obj == "web"

    assert problem_of(GunicornServer(good, ["--workers=3"])) is None
