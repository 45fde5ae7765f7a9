"""Every ``manage.py prodserver ...`` command line in the docs is one that works (check 5).

Each command line in a shell block (``$`` lines of console blocks, every line of bash blocks,
including ``docker run ... python manage.py prodserver ...``), each exec-form ``CMD`` of a
Dockerfile and each ``ExecStart=`` of a systemd unit is parsed by the command's own
parser, ``Command().create_parser("manage.py", "prodserver")``. The process it names must
exist in a configuration the page documents (any Python block of the page that defines
``PRODUCTION_PROCESSES``) or in the example project (pages such as the Docker guide refer to
the multi-process configuration without repeating it).

Then the process's ARGS plus the arguments after ``--`` go through the server's own parser
with the configuration the page shows for that name (the nearest one before the command),
exactly as ``prodserver`` does before it starts, so ``-- --workers=8`` in a page is a real
option. A command whose shown output is an error is exempt from that second step: the error
is the point, and test_docs_dry_run checks it word for word.
"""

from __future__ import annotations

import ast
import contextlib
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError
from django.test import override_settings

import docs_blocks
from django_prodserver.backends.base import message_line
from django_prodserver.management.commands.prodserver import Command
from django_prodserver.processes import load_entry

PARSED: set[str] = set()


@dataclass(frozen=True)
class Case:
    command: docs_blocks.Command
    argv: tuple[str, ...]


CASES = [
    Case(command, tuple(argv))
    for block in docs_blocks.all_blocks()
    if block.language in docs_blocks.COMMAND_LANGUAGES
    for command in docs_blocks.commands(block)
    if (argv := docs_blocks.prodserver_argv(command.text)) is not None
]


def literal_process_names(block: docs_blocks.Block) -> set[str]:
    """Names in ``PRODUCTION_PROCESSES = {...}`` read without running the block."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(block.source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if "PRODUCTION_PROCESSES" in targets:
                names |= {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
    return names


def page_configs(path: Path) -> list[tuple[docs_blocks.Block, dict[str, Any]]]:
    """Each block of the page that defines PRODUCTION_PROCESSES, with its namespace."""
    configs = []
    for block in docs_blocks.blocks(path):
        if block.is_python and block.skip is None and docs_blocks.mentions_processes(block.source):
            namespace = docs_blocks.run_block(block)
            if isinstance(namespace.get("PRODUCTION_PROCESSES"), Mapping):
                configs.append((block, namespace))
    return configs


def config_for(case: Case, name: str | None) -> tuple[str, Mapping[str, Any], dict[str, Any]]:
    """Where the page defines process ``name`` (any process for None): the nearest config
    before the command, else the first after it, else the example project's settings."""
    path, start = case.command.block.path, case.command.block.start
    configs = [
        (block, namespace)
        for block, namespace in page_configs(path)
        if name is None or name in namespace["PRODUCTION_PROCESSES"]
    ]
    before = [
        item
        for item in configs
        if item[0].start < start and docs_blocks.same_tab(path, item[0].start, start)
    ]
    if before or configs:
        block, namespace = before[-1] if before else configs[0]
        processes = namespace["PRODUCTION_PROCESSES"]
        return block.where, processes, docs_blocks.block_settings(namespace)
    return "the example project", settings.PRODUCTION_PROCESSES, {}


def documented_names(path: Path) -> set[str]:
    names: set[str] = set()
    for block in docs_blocks.blocks(path):
        if block.is_python and docs_blocks.mentions_processes(block.source):
            names |= literal_process_names(block)
    for _, namespace in page_configs(path):
        names |= set(namespace["PRODUCTION_PROCESSES"])
    return names


def shows_error(command: docs_blocks.Command) -> bool:
    return any(line.startswith(("ProdserverError: ", "CommandError: ")) for line in command.output)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.command.where) for c in CASES])
def test_prodserver_command_line(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    where = f"{case.command.where}: `{case.command.text}`"
    parser = Command().create_parser("manage.py", "prodserver")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            options = parser.parse_args(list(case.argv))
    except CommandError as exc:
        pytest.fail(f"{where}: prodserver's parser refuses it: {exc}")
    except SystemExit as exc:  # --help prints and exits 0
        assert exc.code == 0, f"{where}: exit status {exc.code}"
        PARSED.add(case.command.where)
        return
    PARSED.add(case.command.where)
    if options.list_processes:
        return
    if options.name and options.name.startswith("%"):
        return  # a systemd template unit: the instance name (%i) is chosen per unit
    # Without NAME, prodserver runs the first process of the configuration.
    name = options.name or next(iter(config_for(case, None)[1]))
    known = documented_names(case.command.block.path) | set(settings.PRODUCTION_PROCESSES)
    assert name in known, (
        f'{where}: no process "{name}" in the configurations the page documents nor in the '
        f"example project ({', '.join(sorted(known))})"
    )
    if shows_error(case.command):
        return
    source, processes, block_settings = config_for(case, name)
    with override_settings(**block_settings):
        config, problems = load_entry(name, processes[name])
        assert config is not None, f"{where} ({source}): {message_line(problems[0])}"
        problems = config.backend(config, options.server_args).check()
    assert problems == [], f"{where} ({source}): {message_line(problems[0])}"


def test_commands_were_parsed() -> None:
    print(f"\nprodserver command lines in the docs: {len(CASES)}; parsed: {len(PARSED)}")
    assert CASES, "no manage.py prodserver command found in the docs"
