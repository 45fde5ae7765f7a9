"""What every built-in backend must have, checked for each entry of ``BUILTIN_BACKENDS``.

A new backend is covered here without editing this file: its class in the registry of
built-in backends, its extra in ``pyproject.toml``, its page in ``docs/backends/`` and the API
page are all looked up from the class itself. The same checks run on a throwaway backend to
show that nothing here names a backend.
"""

from __future__ import annotations

from typing import Any

import pytest
import tomllib
from django.utils.module_loading import import_string
from pytest_django.fixtures import Settings

from conftest import ROOT
from django_prodserver.backends import BUILTIN_BACKENDS
from django_prodserver.backends.base import BaseServerBackend
from django_prodserver.backends.parsers import ArgparseParser, ArgParser
from django_prodserver.processes import processes

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS: dict[str, list[str]] = PYPROJECT["project"]["optional-dependencies"]
DOC_PAGES = {path.name: path.read_text() for path in (ROOT / "docs" / "backends").glob("*.md")}
API_PAGE = (ROOT / "docs" / "api.md").read_text()


def assert_contract(path: str, settings: Settings, *, documented: bool = True) -> None:
    backend_class = import_string(path)
    assert issubclass(backend_class, BaseServerBackend)
    assert backend_class.program != BaseServerBackend.program, "program names the server"
    if documented:
        assert backend_class.extra in EXTRAS, f"extra {backend_class.extra!r} in pyproject"
        assert any(backend_class.extra in dep for dep in EXTRAS["all"]), "listed in [all]"
        assert [name for name, text in DOC_PAGES.items() if path in text], "a docs page"
        assert f"autoclass:: {path}" in API_PAGE, "in the API reference"
    process: dict[str, Any] = {"BACKEND": path}
    if backend_class.requires_app:
        process["APP"] = "mysite.celery.app"
    settings.PRODUCTION_PROCESSES = {"p": process}
    backend = processes.backend("p")
    assert backend.check() == [], "the example project's settings suit every backend"
    assert backend.native_command()[: len(backend.native_prefix())] == backend.native_prefix()
    options = backend.long_options()
    assert options, "the backend names its server's parser, which lists its options"
    for key in backend.default_args:
        assert f"--{key.replace('_', '-')}" in options, f"default {key} is a real option"


@pytest.mark.parametrize("path", BUILTIN_BACKENDS)
def test_builtin_backend_contract(path: str, settings: Settings) -> None:
    assert_contract(path, settings)


class ThrowawayServer(BaseServerBackend):
    """A backend nobody ships: the contract applies to it unchanged."""

    program = "throwaway"
    default_args = {"port": 8000}

    def arg_parser(self) -> ArgParser:
        import argparse

        def build() -> argparse.ArgumentParser:
            parser = argparse.ArgumentParser(prog=self.program)
            parser.add_argument("--port", type=int)
            return parser

        return ArgparseParser(build)


def test_a_throwaway_backend_meets_the_same_contract(settings: Settings) -> None:
    assert_contract(f"{__name__}.ThrowawayServer", settings, documented=False)
