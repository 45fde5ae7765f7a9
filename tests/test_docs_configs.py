"""Every PRODUCTION_PROCESSES and ARGS in the documentation is valid (issue 5, check 2).

For each Python block that defines ``PRODUCTION_PROCESSES`` or mentions ``"ARGS"``, the block
is run (fresh namespace, as in test_docs_examples) and every process it defines goes through
exactly what ``prodserver`` does before starting, without starting anything:

* the settings validation (``load_entry``, then the backend's checks): ``BACKEND`` imports and
  is a backend class,
  ``ARGS`` translate by the ARGS rule, ``APP`` where Celery needs it, the backend's package is
  installed;
* the backend builds its command line (``prep_server_args``: it finds the application);
* the server's own parser accepts that command line (``validate_args``: gunicorn's argparse,
  the click commands of uvicorn, granian and celery, waitress's getopt, db_worker's and
  qcluster's parsers);
* every ARGS key is spelled exactly like one of the server's long options (argparse and getopt
  would also take an unambiguous prefix, which the docs must not teach).

The tables that name ARGS keys are checked the same way: a reference table's "ARGS key" must
become its option column by the ARGS rule and be a real option of the page's server, and a
table with one column per server (the backend-switching guide) may only show real keys.

The block's other settings (``WSGI_APPLICATION``, ``CELERY_*``, ``Q_CLUSTER``, ...) are applied
with ``override_settings`` while this runs; ``INSTALLED_APPS`` and ``DATABASES`` stay the
example project's (the app registry and connections are process-wide).

A block that mentions ``"ARGS"`` without defining ``PRODUCTION_PROCESSES`` fails: a loose ARGS
fragment cannot be checked, so it must be written as a full setting or marked
``% skip: next "why"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string

import docs_blocks
from django_prodserver.args import option_name
from django_prodserver.backends.base import BaseServerBackend, message_line
from django_prodserver.config import ProcessConfig
from django_prodserver.errors import ArgsRejected, ProdserverError
from django_prodserver.processes import load_entry

CASES = [
    pytest.param(block, id=block.where)
    for block in docs_blocks.python_blocks()
    if docs_blocks.mentions_processes(block.source) or docs_blocks.mentions_args(block.source)
]
VALIDATED: dict[str, list[str]] = {}


def process_problems(processes: Mapping[str, Any]) -> list[str]:
    """What prodserver would refuse in these processes, one line per problem (none: [])."""
    problems = []
    for name, raw in processes.items():
        config, found = load_entry(name, raw)
        if config is not None:
            found = config.backend(config).check(parse=False)
        if found:
            problems += [f"{name}: {message_line(problem)}" for problem in found]
            continue
        backend = config.backend(config)
        try:
            args = backend.prep_server_args()
            backend.validate_args(args)
        except ArgsRejected as exc:
            problems.append(f"{name}: {backend.program} rejected {args}: {exc}")
        except ProdserverError as exc:
            problems.append(f"{name}: {exc}")
        problems += [f"{name}: {problem}" for problem in unknown_keys(backend, config.args)]
    return problems


def unknown_keys(backend: BaseServerBackend, args: object) -> list[str]:
    """ARGS keys that are not spelled exactly like one of the server's long options.

    argparse and getopt accept any unambiguous prefix (``"max_req"`` passes as
    ``--max-requests``), so the parser alone would let a truncated name through.
    """
    known = docs_blocks.known_long_options(backend)
    if known is None or not isinstance(args, Mapping):
        return []
    return [
        f'ARGS key "{key}" is not an option of {backend.program}: {option_name(key)} is not in '
        f"its --help"
        for key in args
        if option_name(key) not in known
    ]


@pytest.mark.parametrize("block", CASES)
def test_documented_processes_are_accepted(
    block: docs_blocks.Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block.skip:
        pytest.skip(f"{block.where}: {block.skip}")
    monkeypatch.chdir(tmp_path)
    namespace = docs_blocks.run_block(block)
    processes = namespace.get("PRODUCTION_PROCESSES")
    assert isinstance(processes, Mapping) and processes, (
        f'{block.where} shows "ARGS" but defines no PRODUCTION_PROCESSES: write the full setting '
        '(or mark the block % skip: next "why")'
    )
    with override_settings(**docs_blocks.block_settings(namespace)):
        problems = process_problems(processes)
    assert problems == [], f"{block.where}:\n" + "\n".join(problems)
    VALIDATED[block.where] = list(processes)


def test_configs_were_validated() -> None:
    """The count for the record (it runs after the tests above, in file order)."""
    if not VALIDATED:
        pytest.skip("counts only when test_documented_processes_are_accepted ran first")
    count = sum(len(names) for names in VALIDATED.values())
    print(
        f"\nPRODUCTION_PROCESSES validated: {count} processes in {len(VALIDATED)} blocks "
        f"(of {len(CASES)} blocks that show PRODUCTION_PROCESSES or ARGS)"
    )
    assert count > 0


# -- ARGS keys in tables -------------------------------------------------------------------

SERVER_COLUMNS = {
    "gunicorn": "django_prodserver.backends.gunicorn.GunicornServer",
    "uvicorn": "django_prodserver.backends.uvicorn.UvicornServer",
    "granian": "django_prodserver.backends.granian.GranianASGIServer",
    "waitress": "django_prodserver.backends.waitress.WaitressServer",
}


def backend_for(path: str) -> BaseServerBackend:
    backend_class = import_string(path)
    app = "mysite.celery.app" if backend_class.requires_app else None
    return backend_class(ProcessConfig(name="docs", backend=backend_class, args={}, app=app))


def key_rows() -> list[tuple[docs_blocks.Table, int, tuple[str, ...]]]:
    return [
        (table, line, cells)
        for path in docs_blocks.doc_files()
        for table in docs_blocks.tables(path)
        if table.column("ARGS key") is not None
        and table.column("option", "command line") is not None
        for line, cells in table.rows
    ]


KEY_ROWS = key_rows()


@pytest.mark.parametrize(
    ("table", "line", "cells"),
    [pytest.param(*row, id=f"{docs_blocks.rel(row[0].path)}:{row[1]}") for row in KEY_ROWS],
)
def test_reference_table_key(
    table: docs_blocks.Table,
    line: int,
    cells: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`max_requests` | `--max-requests`: the rule joins them, and the server knows the option."""
    monkeypatch.chdir(tmp_path)
    where = f"{docs_blocks.rel(table.path)}:{line}"
    keys = docs_blocks.code_spans(table.path, cells[table.column("ARGS key") or 0])
    options = docs_blocks.code_spans(table.path, cells[table.column("option", "command line") or 1])
    assert keys and options, f"{where}: expected `key` | `--option`"
    key = keys[0].strip("\"'")
    option = option_name(key)
    # The cell may show an on/off pair: `--ws / --no-ws` or `--[no-]expose-tracebacks`.
    shown = {
        spelled.split("=", 1)[0].replace("[no-]", prefix)
        for text in options
        for spelled in text.split(" / ")
        for prefix in ("", "no-")
    }
    assert option in shown, f"{where}: ARGS key {key!r} becomes {option}, not {options[0]}"
    backends = [backend_for(path) for path in sorted(docs_blocks.page_backends(table.path))]
    known = [docs_blocks.known_long_options(backend) for backend in backends]
    if backends and all(k is not None for k in known):
        assert any(option in k for k in known if k), (
            f"{where}: {option} is not an option of "
            + " or ".join(sorted({b.program for b in backends}))
        )


def server_column_cells() -> list[tuple[str, str, str]]:
    """(where, backend path, ARGS key) for each key shown in a per-server table column."""
    found = []
    for path in docs_blocks.doc_files():
        for table in docs_blocks.tables(path):
            columns = {
                index: SERVER_COLUMNS[cell.strip().lower()]
                for index, cell in enumerate(table.header)
                if cell.strip().lower() in SERVER_COLUMNS
            }
            for line, cells in table.rows:
                for index, backend_path in columns.items():
                    for span in docs_blocks.code_spans(path, cells[index]):
                        match = re.match(r'^"(\w+)"(?:\s*:.*)?$', span)
                        if match:
                            where = f"{docs_blocks.rel(path)}:{line}"
                            found.append((where, backend_path, match.group(1)))
    return found


@pytest.mark.parametrize(
    ("where", "backend_path", "key"),
    [pytest.param(*cell, id=f"{cell[0]}-{cell[2]}") for cell in server_column_cells()],
)
def test_server_column_key(where: str, backend_path: str, key: str) -> None:
    """In a table with a column per server, each `"key"` is a real option of that server."""
    backend = backend_for(backend_path)
    known = docs_blocks.known_long_options(backend)
    assert known is not None
    assert option_name(key) in known, f"{where}: {backend.program} has no {option_name(key)}"
