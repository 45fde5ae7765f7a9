"""The ARGS rule (DESIGN.md, "The ARGS rule") and how a backend assembles its command line.

These are pure unit tests: the rule is a function from a settings value to a list of strings,
and BaseServerBackend.prep_server_args is the one place that orders the pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from django_prodserver.args import ArgsTypeError, mentions_option, option_name, translate_args
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.config import ProcessConfig
from django_prodserver.processes import processes

# -- every row of the table in DESIGN.md ------------------------------------------------

DESIGN_TABLE = [
    pytest.param(
        {"bind": "0.0.0.0:8000", "workers": 4},
        ["--bind=0.0.0.0:8000", "--workers=4"],
        id="string-and-int",
    ),
    pytest.param({"preload": True}, ["--preload"], id="true-is-bare-flag"),
    pytest.param({"preload": None}, ["--preload"], id="none-is-bare-flag"),
    pytest.param({"preload": False}, [], id="false-is-nothing"),
    pytest.param(
        {"bind": ["0.0.0.0:8000", "unix:/run/web.sock"]},
        ["--bind=0.0.0.0:8000", "--bind=unix:/run/web.sock"],
        id="list-repeats-flag",
    ),
    pytest.param({"max_requests": 1000}, ["--max-requests=1000"], id="underscores-to-dashes"),
]


@pytest.mark.parametrize(("args", "expected"), DESIGN_TABLE)
def test_design_table(args: dict[str, Any], expected: list[str]) -> None:
    assert translate_args(args) == expected


# -- beyond the table ---------------------------------------------------------------------


def test_list_args_pass_verbatim() -> None:
    args = ["--workers", "4", "-b", "unix:/run/web.sock", "--preload", "--max_requests=7"]
    assert translate_args(args) == args


def test_tuple_args_pass_verbatim_as_a_new_list() -> None:
    args = ("--workers=4",)
    result = translate_args(args)
    assert result == ["--workers=4"]
    assert isinstance(result, list)


def test_dict_order_is_kept() -> None:
    assert translate_args({"z": 1, "a": 2, "m": True}) == ["--z=1", "--a=2", "--m"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(4, "4"), (0, "0"), (-1, "-1"), (2.5, "2.5"), (0.1, "0.1"), (1e-05, "1e-05")],
)
def test_numbers_become_their_str(value: float, text: str) -> None:
    assert translate_args({"timeout": value}) == [f"--timeout={text}"]


def test_empty_string_value_keeps_the_equals_sign() -> None:
    # "--root-path=" is how a server is told "empty"; the rule must not turn it into a bare flag.
    assert translate_args({"root_path": ""}) == ["--root-path="]


def test_paths_become_filesystem_strings(tmp_path: Path) -> None:
    sock = tmp_path / "web.sock"
    assert translate_args({"bind": f"unix:{sock}", "chdir": tmp_path}) == [
        f"--bind=unix:{sock}",
        f"--chdir={tmp_path}",
    ]
    assert translate_args({"static_path_mount": [PurePosixPath("/srv/static"), Path("/x")]}) == [
        "--static-path-mount=/srv/static",
        "--static-path-mount=/x",
    ]


def test_empty_list_value_gives_no_flag() -> None:
    # "once per item" with no item: nothing, so a list built at runtime may be empty.
    assert translate_args({"bind": [], "workers": 2}) == ["--workers=2"]


def test_tuple_value_repeats_like_a_list() -> None:
    assert translate_args({"include": ("a", 1)}) == ["--include=a", "--include=1"]


def test_none_and_empty_args() -> None:
    assert translate_args(None) == []
    assert translate_args({}) == []
    assert translate_args([]) == []


def test_dashes_inside_a_key_are_kept() -> None:
    assert translate_args({"max-requests": 5}) == ["--max-requests=5"]
    assert option_name("max_requests_jitter") == "--max-requests-jitter"


# -- values and keys the rule refuses (every message says what and where) -------------------

BAD_ARGS = [
    pytest.param({"workers": {"count": 4}}, '["workers"] must be a string', id="nested-dict"),
    pytest.param({"bind": {"a", "b"}}, '["bind"] must be a string', id="set-value"),
    pytest.param({"bind": b"0.0.0.0:80"}, "not bytes", id="bytes-value"),
    pytest.param({"--workers": 4}, 'without the leading dashes: "workers"', id="leading-dashes"),
    pytest.param({"-w": 4}, 'without the leading dashes: "w"', id="short-option-key"),
    pytest.param({"": 1}, "is not an option name", id="empty-key"),
    pytest.param({"--": 1}, "is not an option name", id="only-dashes-key"),
    pytest.param({"_private": 1}, "is not an option name", id="leading-underscore"),
    pytest.param({"workers=4": True}, "is not an option name", id="equals-in-key"),
    pytest.param({"max requests": 4}, "is not an option name", id="space-in-key"),
    pytest.param({4: "x"}, "must be a string naming an option", id="int-key"),
    pytest.param({"bind": ["127.0.0.1:80", 8000, None]}, "not NoneType", id="none-in-list"),
    pytest.param({"bind": ["127.0.0.1:80", True]}, "not bool True", id="bool-in-list"),
    pytest.param({"bind": [["a"]]}, "not list", id="list-in-list"),
    pytest.param({"timeout": object()}, "not object", id="object-value"),
    pytest.param("--workers=4", "must be a dict of option names", id="args-string"),
    pytest.param(b"--workers=4", "must be a dict of option names", id="args-bytes"),
    pytest.param(4, "not int 4", id="args-int"),
    pytest.param({"--workers=4"}, "not set", id="args-set"),
    pytest.param(["--workers", 4], "must hold only strings, found int 4", id="list-with-int"),
    pytest.param(["--preload", True], "found bool True", id="list-with-bool"),
    pytest.param(["--bind", Path("/x")], "found PosixPath", id="list-with-path"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ARGS)
def test_bad_args_raise_a_clear_error(args: Any, message: str) -> None:
    with pytest.raises(ArgsTypeError) as info:
        translate_args(args)
    assert message in str(info.value)
    assert str(info.value).startswith("ARGS")
    # The detail reads on after the setting's name, as config.py prints it.
    assert str(info.value) == "ARGS" + info.value.detail
    assert "\n" not in str(info.value)


def test_args_type_error_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        translate_args(4)  # type: ignore[arg-type]


# -- mentions_option ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "key", "expected"),
    [
        (["--lifespan=on"], "lifespan", True),
        (["--lifespan", "on"], "lifespan", True),
        (["--workers=2"], "lifespan", False),
        (["--lifespan-x=1"], "lifespan", False),
        (["lifespan"], "lifespan", False),
        (["-lifespan"], "lifespan", False),
        (["--interface=wsgi"], "interface", True),
        (["--max-requests=5"], "max_requests", True),
        (["--max-requests=5"], "max-requests", True),
        # the --no-x twin overrides a default --x, and the other way round
        (["--no-access-log"], "access_log", True),
        (["--access-log"], "no_access_log", True),
        (["--no-access-log"], "no_access_log", True),
        (["--no-proxy-headers"], "access_log", False),
        ([], "lifespan", False),
    ],
)
def test_mentions_option(args: list[str], key: str, expected: bool) -> None:
    assert mentions_option(args, key) is expected


# -- BaseServerBackend.prep_server_args ------------------------------------------------------


class OrderBackend(BaseServerBackend):
    """A backend with every piece set, to see where each one lands."""

    program = "order"
    default_args = {"lifespan": "off", "interface": "asginl", "access_log": True}

    def leading_args(self) -> list[str]:
        return ["LEADING"]

    def trailing_args(self) -> list[str]:
        return ["TRAILING"]

    def start_server(self, *args: str) -> None:  # pragma: no cover - never started
        raise AssertionError("not started in these tests")


def backend(args: Any, extra: Sequence[str] = ()) -> OrderBackend:
    return OrderBackend(ProcessConfig(name="web", backend=OrderBackend, args=args), extra)


def test_prep_server_args_order() -> None:
    result = backend({"workers": 4, "preload": True}, ["--timeout=9"]).prep_server_args()
    assert result == [
        "LEADING",
        "--lifespan=off",
        "--interface=asginl",
        "--access-log",
        "--workers=4",
        "--preload",
        "--timeout=9",
        "TRAILING",
    ]


def test_default_overridden_by_args_disappears() -> None:
    result = backend({"lifespan": "on", "workers": 2}).prep_server_args()
    assert result == [
        "LEADING",
        "--interface=asginl",
        "--access-log",
        "--lifespan=on",
        "--workers=2",
        "TRAILING",
    ]
    assert result.count("--lifespan=off") == 0


def test_default_overridden_by_extra_arg_disappears() -> None:
    result = backend({"workers": 2}, ["--interface", "wsgi"]).prep_server_args()
    assert result == [
        "LEADING",
        "--lifespan=off",
        "--access-log",
        "--workers=2",
        "--interface",
        "wsgi",
        "TRAILING",
    ]


def test_default_overridden_by_its_no_twin_disappears() -> None:
    result = backend({"no_access_log": True}).prep_server_args()
    assert "--access-log" not in result
    assert result[-2:] == ["--no-access-log", "TRAILING"]


def test_default_overridden_in_list_args_disappears() -> None:
    result = backend(["--lifespan=auto", "--workers=3"]).prep_server_args()
    assert result == [
        "LEADING",
        "--interface=asginl",
        "--access-log",
        "--lifespan=auto",
        "--workers=3",
        "TRAILING",
    ]


def test_extra_args_come_after_args_so_the_last_wins() -> None:
    result = backend({"workers": 4}, ["--workers=8"]).prep_server_args()
    assert result.index("--workers=4") < result.index("--workers=8") < result.index("TRAILING")


def test_native_command_starts_with_the_program() -> None:
    assert backend({}).native_command() == [
        "order",
        "LEADING",
        "--lifespan=off",
        "--interface=asginl",
        "--access-log",
        "TRAILING",
    ]


def test_base_backend_start_server_must_be_implemented() -> None:
    plain = BaseServerBackend(ProcessConfig(name="p", backend=BaseServerBackend, args={}))
    assert plain.prep_server_args() == []
    with pytest.raises(NotImplementedError, match="must implement start_server"):
        plain.start_server()


def test_rule_applies_to_a_configured_builtin_backend(settings: Settings) -> None:
    """Through the real setting and a real backend: the rule, the target and the defaults."""
    settings.PRODUCTION_PROCESSES = {
        "web": {
            "BACKEND": "django_prodserver.backends.uvicorn.UvicornServer",
            "ARGS": {"host": "127.0.0.1", "port": 8001, "proxy_headers": False, "workers": 2},
        }
    }
    assert processes.backend("web").native_command() == [
        "uvicorn",
        "mysite.asgi:application",
        "--lifespan=off",
        "--host=127.0.0.1",
        "--port=8001",
        "--workers=2",
    ]
