"""The masking rule (``django_prodserver.masking``), case by case, in this process.

What must be masked (URL passwords, secret options in both forms, secret ``NAME=value``
pairs, options a backend declares) and, as carefully, what must not be (file options such as
``keyfile``, user names, ordinary options and values). The subprocess tests in
``test_secrets_in_output.py`` show the same rule at every place ``prodserver`` prints.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from django_prodserver.backends.base import BaseServerBackend, ConfigProblem, message_line
from django_prodserver.backends.gunicorn import GunicornServer
from django_prodserver.config import ProcessConfig
from django_prodserver.masking import (
    is_secret_option,
    mask_command,
    mask_text,
    mask_value,
    says_secret,
)
from django_prodserver.processes import load_entry

# -- names ----------------------------------------------------------------------------------

SECRET_NAMES = [
    "password",
    "--password",
    "passwd",
    "ssl_keyfile_password",
    "--ssl-keyfile-password",
    "ssl-passphrase",
    "basic_auth",
    "--basic-auth",
    "auth",
    "oauth",
    "api_key",
    "apikey",
    "--API-KEY",
    "keys",
    "secret",
    "cookie_secret",
    "client-secrets",
    "token",
    "access_token",
    "authtoken",
    "credential",
    "credentials",
    "SECRET_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "PGPASSWORD",
    "GITHUB_TOKEN",
    "apiKey",
    "db.password",
]
NOT_SECRET_NAMES = [
    "keyfile",
    "--keyfile",
    "certfile",
    "ssl-keyfile",
    "ssl_keyfile",
    "key-file",
    "key_path",
    "secrets_dir",
    "password-file",
    "SECRET_KEY_FILE",
    "workers",
    "bind",
    "keep-alive",
    "keep_alive",
    "keepalive",
    "author",
    "authority",
    "keyword",
    "tokenizer",
    "max-requests",
    "forwarded-allow-ips",
    "DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "autoscale",
    "",
    "--",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_names_that_say_secret(name: str) -> None:
    assert says_secret(name)


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_names_that_do_not(name: str) -> None:
    assert not says_secret(name)


@pytest.mark.parametrize(
    "declared", [{"dsn"}, {"--dsn"}, {"DSN"}, frozenset({"sentry_dsn", "dsn"})]
)
def test_declared_options_match_in_any_spelling(declared: set[str]) -> None:
    assert is_secret_option("--dsn", declared)
    assert is_secret_option("dsn", declared)
    assert not is_secret_option("--dsn-timeout", declared)
    assert not is_secret_option("--dsn")


# -- command lines --------------------------------------------------------------------------

#: id: (command line, masked command line, or SAME where nothing may be masked).
SAME = None
COMMANDS: dict[str, tuple[str, str | None]] = {
    "nothing-secret": ("gunicorn mysite.wsgi:application --bind=0.0.0.0:8000 --workers=4", SAME),
    "url-in-env-pair": (
        "gunicorn --env=DATABASE_URL=postgres://app:S3CRET@db/app",
        "gunicorn --env=DATABASE_URL=postgres://app:***@db/app",
    ),
    "secret-env-pair": (
        "gunicorn --env=SECRET_KEY=S3CRET --env=DJANGO_SETTINGS_MODULE=mysite.prod",
        "gunicorn --env=SECRET_KEY=*** --env=DJANGO_SETTINGS_MODULE=mysite.prod",
    ),
    "secret-env-pair-space-form": (
        "gunicorn --env API_TOKEN=S3CRET --env PORT=8000",
        "gunicorn --env API_TOKEN=*** --env PORT=8000",
    ),
    "file-env-pair": ("gunicorn --env=SSL_KEYFILE=/etc/tls/key.pem", SAME),
    "secret-option-equals-form": (
        "uvicorn --ssl-keyfile=/k.pem --ssl-keyfile-password=S3CRET --port=8443",
        "uvicorn --ssl-keyfile=/k.pem --ssl-keyfile-password=*** --port=8443",
    ),
    "secret-option-space-form": (
        "uvicorn --ssl-keyfile-password S3CRET --port 8443",
        "uvicorn --ssl-keyfile-password *** --port 8443",
    ),
    "secret-flag-then-an-option": ("x --auth --workers=2", SAME),
    "secret-options-any-spelling": (
        "x --ssl_keyfile_password=S3CRET --API-KEY=S3CRET --basic-auth=user:S3CRET",
        "x --ssl_keyfile_password=*** --API-KEY=*** --basic-auth=***",
    ),
    "file-options": ("x --keyfile=/k --certfile=/c --key-file=/k --keep-alive=5", SAME),
    "empty-or-masked-already": ("x --password= --token=***", SAME),
    "url-option": (
        "celery --broker=amqp://guest:S3CRET@rabbit:5672// worker",
        "celery --broker=amqp://guest:***@rabbit:5672// worker",
    ),
    "url-after-short-option-no-user": (
        "x -b redis://:S3CRET@redis:6379/0",
        "x -b redis://:***@redis:6379/0",
    ),
    "urls-without-password": ("x redis://u@redis:6379/0 https://e.com:8443/a?b=c@d", SAME),
    "url-password-with-at-sign": (
        "x --db=postgres://app:p@ss:w0rd@db:5432/app?x=a@b",
        "x --db=postgres://app:***@db:5432/app?x=a@b",
    ),
    "two-urls-in-one-value": (
        "x --brokers=redis://a:S1@h1/0,redis://b:S2@h2/0",
        "x --brokers=redis://a:***@h1/0,redis://b:***@h2/0",
    ),
    "addresses": ("x http://[::1]:8000/ unix:/run/web.sock 0.0.0.0:8000", SAME),
    "environment-prefix": ("DJANGO_PRODSERVER_WSGI_APPLICATION=mysite.wsgi.application x", SAME),
    "secret-environment-prefix": ("SECRET_KEY=S3CRET manage.py x", "SECRET_KEY=*** manage.py x"),
}


@pytest.mark.parametrize(("command", "expected"), COMMANDS.values(), ids=COMMANDS)
def test_mask_command(command: str, expected: str | None) -> None:
    expected = command if expected is SAME else expected
    assert mask_command(command.split()) == expected.split()
    assert mask_command(expected.split()) == expected.split()  # masking twice changes nothing


def test_mask_command_with_declared_options() -> None:
    words = ["sentry-relay", "--dsn=https://abc@o1.example.com/1", "--dsn", "https://abc@o"]
    assert mask_command(words, {"dsn"}) == ["sentry-relay", "--dsn=***", "--dsn", "***"]
    assert mask_command(words) == words  # a user name in a URL is not a password


def test_mask_command_does_not_change_its_input() -> None:
    words = ["x", "--password=S3CRET"]
    mask_command(words)
    assert words == ["x", "--password=S3CRET"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("postgres://app:S3CRET@db/app", "postgres://app:***@db/app"),
        ("sqla+postgresql://app:S3CRET@db/app", "sqla+postgresql://app:***@db/app"),
        ("redis://:**@127.0.0.1:6379/0", "redis://:**@127.0.0.1:6379/0"),  # kombu's own mask
        ("redis://user:@h/0", "redis://user:@h/0"),
        ("API_KEY=S3CRET", "API_KEY=***"),
        ("REDIS_URL=redis://:S3CRET@h/0", "REDIS_URL=redis://:***@h/0"),
        ("127.0.0.1:8000", "127.0.0.1:8000"),
        ("mysite.wsgi:application", "mysite.wsgi:application"),
        ("", ""),
    ],
)
def test_mask_value(value: str, expected: str) -> None:
    assert mask_value(value) == expected


# -- messages -------------------------------------------------------------------------------

#: id: (message, masked message, or SAME where nothing may be masked).
MESSAGES: dict[str, tuple[str, str | None]] = {
    "argparse-unrecognized-equals": (
        "unrecognized arguments: --api-token=S3CRET --x",
        "unrecognized arguments: --api-token=*** --x",
    ),
    "argparse-unrecognized-space": (
        "unrecognized arguments: --api-token S3CRET",
        "unrecognized arguments: --api-token ***",
    ),
    "argparse-bad-value-of-secret-option": (
        "argument --api-token: invalid int value: 'S3CRET'",
        "argument --api-token: invalid int value: '***'",
    ),
    "argparse-label-is-not-a-value": (
        "argument --ssl-keyfile-password: expected one argument",
        SAME,
    ),
    "click-bad-value-of-secret-option": (
        "Invalid value for '--api-token': 'S3CRET' is not a valid integer.",
        "Invalid value for '--api-token': '***' is not a valid integer.",
    ),
    "click-bad-value-of-ordinary-option": (
        "Invalid value for '--workers': 'many' is not a valid integer.",
        SAME,
    ),
    "click-no-such-option": ("No such option: --wokers (Possible options: --workers)", SAME),
    "gunicorn-config-value": (
        "invalid value for api_token: 'S3CRET'",
        "invalid value for api_token: '***'",
    ),
    "url-in-a-sentence": (
        "cannot reach the broker redis://app:S3CRET@redis:6379/0: refused.",
        "cannot reach the broker redis://app:***@redis:6379/0: refused.",
    ),
    "quoted-command-line": (
        "not str '--workers=4 --password=S3CRET'.",
        "not str '--workers=4 --password=***'.",
    ),
    "python-dict-repr": (
        "not dict {'SECRET_KEY': 'S3CRET', 'DEBUG': '1'}.",
        "not dict {'SECRET_KEY': '***', 'DEBUG': '1'}.",
    ),
    "python-tuple-repr": (
        "found tuple ('API_TOKEN', \"it's S3CRET\")",
        "found tuple ('API_TOKEN', \"***\")",
    ),
    "python-bytes-repr": ("found bytes b'--password=S3CRET'", "found bytes b'--password=***'"),
    "pair-in-quotes": (
        "key 'api_key=S3CRET' is not an option name",
        "key 'api_key=***' is not an option name",
    ),
    "ordinary-problem": (
        'PRODUCTION_PROCESSES["web"] has unknown key(s) \'WORKERS\'. Did you mean "ARGS"?',
        SAME,
    ),
    "whitespace-kept": ("a  --token=S3CRET\n\tb", "a  --token=***\n\tb"),
    "empty": ("", SAME),
}


@pytest.mark.parametrize(("text", "expected"), MESSAGES.values(), ids=MESSAGES)
def test_mask_text(text: str, expected: str | None) -> None:
    expected = text if expected is SAME else expected
    assert mask_text(text) == expected
    assert mask_text(expected) == expected


def test_mask_text_with_declared_options() -> None:
    assert mask_text("bad --dsn=https://k@o/1 given", {"dsn"}) == "bad --dsn=*** given"


# -- where the package uses it --------------------------------------------------------------


class DsnServer(BaseServerBackend):
    """A custom backend whose option --dsn is secret although its name does not say so."""

    program = "relay"
    secret_options: ClassVar[frozenset[str]] = frozenset({"dsn"})

    def start_server(self, *args: str) -> None:
        raise AssertionError("never started here")


def config(backend: type[BaseServerBackend], args: Any) -> ProcessConfig:
    return ProcessConfig(name="web", backend=backend, args=args)


def test_masked_command_uses_the_backend_declared_options() -> None:
    backend = DsnServer(config(DsnServer, {"dsn": "https://key@o1.example.com/1", "port": 1}))
    assert backend.native_command() == ["relay", "--dsn=https://key@o1.example.com/1", "--port=1"]
    assert backend.masked_command() == ["relay", "--dsn=***", "--port=1"]


def test_masked_command_of_a_builtin_backend() -> None:
    args = {"bind": "127.0.0.1:8000", "env": ["DATABASE_URL=postgres://a:S3CRET@db/a"]}
    backend = GunicornServer(config(GunicornServer, args))
    assert "S3CRET" in " ".join(backend.native_command())
    assert backend.masked_command()[-1] == "--env=DATABASE_URL=postgres://a:***@db/a"


@pytest.mark.parametrize(
    ("args", "shown", "hidden"),
    [
        ({"api_key": {"value": "S3CRET"}}, '["api_key"] must be a string', "S3CRET"),
        ({"env": {"SECRET_KEY": "S3CRET"}}, "not dict {'SECRET_KEY': '***'}", "S3CRET"),
        ({"password": b"S3CRET"}, '["password"] must be a string', "S3CRET"),
        ("--workers=2 --api-key=S3CRET", "'--workers=2 --api-key=***'", "S3CRET"),
    ],
    ids=["secret-key-dict", "env-as-dict", "secret-key-bytes", "args-a-string"],
)
def test_args_type_errors_hide_the_secret(args: Any, shown: str, hidden: str) -> None:
    path = "django_prodserver.backends.gunicorn.GunicornServer"
    _, problems = load_entry("web", {"BACKEND": path, "ARGS": args})
    (problem,) = problems
    assert problem.id == "prodserver.E010"
    assert shown in problem.msg
    assert hidden not in message_line(problem)


def test_args_type_error_hides_a_declared_secret_option() -> None:
    args = {"dsn": {"https://key@o1.example.com/1"}}
    _, problems = load_entry("web", {"BACKEND": f"{__name__}.DsnServer", "ARGS": args})
    (problem,) = problems
    assert problem.msg.startswith('PRODUCTION_PROCESSES["web"]["ARGS"]["dsn"] must be a string')
    assert problem.msg.endswith(", not set.")


def test_config_problem_masked() -> None:
    problem = ConfigProblem("rejected: --token=S3CRET", "use --dsn=https://k@o/1", id="x.E1")
    masked = problem.masked({"dsn"})
    assert (masked.msg, masked.hint, masked.id) == (
        "rejected: --token=***",
        "use --dsn=***",
        "x.E1",
    )


def all_server_options() -> dict[str, set[str]]:
    """Every long option of every built-in backend's server: option -> servers."""
    from celery.bin.celery import celery
    from django.core.management import load_command_class
    from granian.cli import cli as granian
    from gunicorn.config import Config
    from uvicorn.main import main as uvicorn
    from waitress.adjustments import Adjustments

    found: dict[str, set[str]] = {}

    def add(server: str, options: Any) -> None:
        for option in options:
            if option.startswith("--"):
                found.setdefault(option, set()).add(server)

    for action in Config().parser()._actions:
        add("gunicorn", action.option_strings)
    for server, command in (
        ("uvicorn", uvicorn),
        ("granian", granian),
        ("celery worker", celery.commands["worker"]),
        ("celery beat", celery.commands["beat"]),
    ):
        for param in command.params:
            add(server, [*param.opts, *getattr(param, "secondary_opts", [])])
    add("waitress-serve", [f"--{name.replace('_', '-')}" for name, _ in Adjustments._params])
    for app, name in (("django_tasks_db", "db_worker"), ("django_q", "qcluster")):
        for action in load_command_class(app, name).create_parser("manage.py", name)._actions:
            add(name, action.option_strings)
    return found


def test_the_rule_picks_only_real_secrets_among_the_servers_options() -> None:
    """Of the ~300 options of the built-in servers, only the key password says secret.

    So the rule hides nothing a user needs to read in a start line (``--keyfile``,
    ``--keep-alive``, ``--ssl-certfile`` stay visible).
    """
    options = all_server_options()
    assert len(options) > 200  # 242 at the lowest allowed versions, more at the newest
    secret = {option: sorted(servers) for option, servers in options.items() if says_secret(option)}
    assert secret == {"--ssl-keyfile-password": ["granian", "uvicorn"]}
