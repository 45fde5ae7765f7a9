"""Every "ARGS -> command line" claim in the docs is what the code prints (issue 5, check 3).

Claims in console blocks, each run for real with the configuration the page shows just
before it (the nearest preceding Python block with ``PRODUCTION_PROCESSES``, together with
that block's other settings such as ``WSGI_APPLICATION`` or ``CELERY_*``):

* ``$ python manage.py prodserver NAME --dry-run`` and ``--list``, with their output: the
  output must equal, line for line and string for string, what ``prodserver`` prints;
* ``$ python manage.py prodserver NAME`` whose output starts with ``prodserver: starting``:
  that line must be what the command prints at start (checked with ``--dry-run`` added, which
  validates exactly as a start does and then prints the same command line);
* a ``prodserver`` command whose output is a ``ProdserverError:`` line: the same error.

Most claims run in this process (``call_command`` under ``override_settings``). A block that
sets ``INSTALLED_APPS``, ``DATABASES`` or ``CELERY_*`` (read once, at start-up, by the app
registry or the Celery app) runs in a subprocess instead, with a settings module made of the
example's settings followed by the block, exactly as the docs authors produced the output.

Claims in tables: each "ARGS entry | Command line" row is translated by the ARGS rule; each
"Backend class | native command" row is the backend's ``--dry-run`` with ``ARGS`` standing
for the options; each "Backend | Adds" row lists options the backend really adds.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils.module_loading import import_string

import docs_blocks
from django_prodserver.args import translate_args
from django_prodserver.backends import BUILTIN_BACKENDS
from django_prodserver.config import ProcessConfig
from django_prodserver.management.commands.prodserver import Command as ProdserverCommand

MANAGE_PY = docs_blocks.EXAMPLE_DIR / "manage.py"
ENV_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
COMPARED: set[str] = set()


# -- console claims -------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    command: docs_blocks.Command
    kind: str  # "dry-run", "list", "start" or "error"
    argv: tuple[str, ...]  # what is run (--dry-run added for "start" and "error")
    name: str | None
    expected: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # `export NAME=VALUE` lines before it in its block

    @property
    def config(self) -> docs_blocks.Block | None:
        return docs_blocks.config_before(self.command.block.path, self.command.block.start)


def parse_prodserver(argv: list[str]) -> Any:
    return ProdserverCommand().create_parser("manage.py", "prodserver").parse_args(argv)


def with_dry_run(argv: list[str]) -> tuple[str, ...]:
    cut = argv.index("--") if "--" in argv else len(argv)
    return (*argv[:cut], "--dry-run", *argv[cut:])


def console_claims() -> Iterator[Claim]:
    for block in docs_blocks.all_blocks():
        if block.language not in docs_blocks.SHELL_LANGUAGES | docs_blocks.WINDOWS_SHELL_LANGUAGES:
            continue
        exports: dict[str, str] = {}
        for command in docs_blocks.commands(block):
            if command.words[:1] == ["export"]:
                exports.update(word.split("=", 1) for word in command.words[1:] if "=" in word)
                continue
            argv = docs_blocks.prodserver_argv(command.text)
            # ``PORT=8000 python manage.py ...``: variables for this command only.
            env = dict(exports)
            for word in command.words:
                if not ENV_WORD.match(word):
                    break
                env.update([word.split("=", 1)])
            output = list(command.output)
            while output and not output[-1].strip():
                output.pop()
            if argv is None or not output:
                continue
            options = parse_prodserver(argv)
            if options.list_processes or options.dry_run:
                kind, run = ("list" if options.list_processes else "dry-run"), tuple(argv)
                expected = tuple(output)
            elif output[0].startswith(("ProdserverError: ", "CommandError: ")):
                kind, run, expected = "error", with_dry_run(argv), (output[0],)
            elif output[0].startswith("prodserver: starting "):
                kind, run, expected = "start", with_dry_run(argv), (output[0],)
            else:
                continue
            # The configuration block shown before the claim stands for the module that
            # --settings names (the page writes that block into that module).
            run = tuple(word for word in run if not word.startswith("--settings="))
            yield Claim(command, kind, run, options.name, expected, tuple(env.items()))


CLAIMS = list(console_claims())


def own_process_needed(namespace: dict[str, Any]) -> bool:
    return any(
        name in docs_blocks.PROCESS_WIDE_SETTINGS or name.startswith("CELERY_")
        for name in namespace
    )


def run_in_process(namespace: dict[str, Any], argv: tuple[str, ...]) -> list[str]:
    """``manage.py prodserver ARGV``'s stdout lines, then its error line if it failed."""
    stdout, stderr = io.StringIO(), io.StringIO()
    error: list[str] = []
    with override_settings(**docs_blocks.block_settings(namespace)):
        try:
            call_command("prodserver", *argv, stdout=stdout, stderr=stderr)
        except CommandError as exc:
            # What BaseCommand.run_from_argv prints for a CommandError.
            error = [f"{type(exc).__name__}: {exc}"]
    return stdout.getvalue().splitlines() + error


def run_in_subprocess(block: docs_blocks.Block, argv: tuple[str, ...], tmp: Path) -> list[str]:
    """The same, in a fresh interpreter whose settings are the example's plus the block."""
    settings = tmp / "docs_claim_settings.py"
    settings.write_text("from mysite.settings import *  # noqa: F403\n\n" + block.source)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="docs_claim_settings",
        PYTHONPATH=os.pathsep.join(
            [str(tmp), str(docs_blocks.EXAMPLE_DIR), *filter(None, [env.get("PYTHONPATH")])]
        ),
        DJANGO_DATABASE_PATH=str(tmp / "db.sqlite3"),
    )
    result = subprocess.run(
        [sys.executable, str(MANAGE_PY), "prodserver", *argv],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    lines = result.stdout.splitlines()
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        lines.append(errors[-1] if errors else f"exit status {result.returncode}")
    return lines


def actual_output(claim: Claim, tmp: Path) -> list[str]:
    config = claim.config
    assert config is not None, (
        f"{claim.command.where}: no Python block with PRODUCTION_PROCESSES before this "
        "claim on the page, so its output cannot be checked"
    )
    if config.skip:
        pytest.skip(
            f"{claim.command.where}: its configuration {config.where} is skipped: {config.skip}"
        )
    namespace = docs_blocks.run_block(config)
    if own_process_needed(namespace):
        lines = run_in_subprocess(config, claim.argv, tmp)
    else:
        lines = run_in_process(namespace, claim.argv)
    if claim.kind == "start" and lines and not lines[0].startswith(("ProdserverError", "Command")):
        name = claim.name or next(iter(namespace["PRODUCTION_PROCESSES"]))
        lines = [f'prodserver: starting "{name}": {lines[0]}']
    return lines


@pytest.mark.parametrize(
    "claim", [pytest.param(c, id=f"{c.command.where}-{c.kind}") for c in CLAIMS]
)
def test_console_claim(claim: Claim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for name, value in claim.env:
        monkeypatch.setenv(name, value)
    actual = actual_output(claim, tmp_path)
    assert list(claim.expected) == actual, (
        f"{claim.command.where}: the page (left) differs from what `{claim.command.text}` "
        f"prints (right) for the config at {claim.config.where if claim.config else '?'}"
    )
    COMPARED.add(f"console {claim.command.where}")


def test_console_claims_exist() -> None:
    kinds = {
        kind: sum(c.kind == kind for c in CLAIMS) for kind in ("dry-run", "list", "start", "error")
    }
    print(f"\nconsole claims: {len(CLAIMS)} {kinds}")
    assert kinds["dry-run"] > 0 and kinds["list"] > 0


def test_no_claim_hides_in_an_unchecked_block() -> None:
    """A ``$ ... manage.py prodserver`` line is a claim only a console block gets checked for."""
    hidden = [
        f"{block.where} ({block.language or 'no language'})"
        for block in docs_blocks.all_blocks()
        if block.language not in docs_blocks.COMMAND_LANGUAGES and not block.is_python
        for line in block.source.splitlines()
        if line.startswith("$ ") and docs_blocks.prodserver_argv(line) is not None
    ]
    assert hidden == [], f"make these console blocks, so their output is compared: {hidden}"


# -- claims in tables ----------------------------------------------------------------------

PLACEHOLDERS = {
    "<WSGI target>": "mysite.wsgi:application",
    "<ASGI target>": "mysite.asgi:application",
    "<APP>": "mysite.celery.app",
    "<temporary directory>": tempfile.gettempdir(),
    "<uid>": str(os.getuid()) if hasattr(os, "getuid") else "",
}


def fill_placeholders(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


@dataclass(frozen=True)
class Row:
    table: docs_blocks.Table
    line: int
    cells: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{docs_blocks.rel(self.table.path)}:{self.line}"

    def spans(self, column: int) -> list[str]:
        return docs_blocks.code_spans(self.table.path, self.cells[column])


def rows(*header_words: tuple[str, ...]) -> list[Row]:
    """Rows of every table that has a column for each group of header words."""
    found = []
    for path in docs_blocks.doc_files():
        for table in docs_blocks.tables(path):
            if all(table.column(*words) is not None for words in header_words):
                found += [Row(table, line, cells) for line, cells in table.rows]
    return found


def option_words(spans: list[str]) -> list[str]:
    """The command-line words of a cell: its code that starts with a dash, shell-split."""
    return [word for span in spans if span.startswith("-") for word in shlex.split(span)]


DICT_ENTRY = re.compile(r'^"\w+"\s*:')


def entries(row: Row) -> list[str]:
    """The cell's `"key": value` spans (other code in the cell, such as `ARGS`, is prose)."""
    spans = row.spans(row.table.column("ARGS entry") or 0)
    return [span for span in spans if DICT_ENTRY.match(span)]


TRANSLATION_ROWS = [
    row for row in rows(("ARGS entry",), ("command line", "becomes")) if entries(row)
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.where) for r in TRANSLATION_ROWS])
def test_args_translation_row(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`"max_requests": 1000` | `--max-requests=1000`: the ARGS rule gives exactly that.

    An `"APP"` row (a key of the process, beside ARGS) is checked against the command of the
    page's backends that take an APP.
    """
    monkeypatch.chdir(tmp_path)
    entry = ", ".join(entries(row))
    values = eval("{" + entry + "}", {"Path": Path, "__builtins__": {}})
    shown = option_words(row.spans(row.table.column("command line", "becomes") or 1))
    if "APP" in values:
        commands = [
            shlex.split(dry_run_of(path, {}, app=values["APP"]))
            for path in sorted(docs_blocks.page_backends(row.table.path))
            if import_string(path).requires_app
        ]
        assert commands, f"{row.where}: an APP row on a page without a backend that takes APP"
        assert any(set(shown) <= set(words) for words in commands), f"{row.where}: {commands}"
    else:
        assert translate_args(values) == shown, f"{row.where}: {entry}"
    COMPARED.add(f"table {row.where}")


def dry_run_of(backend_path: str, args: Any, app: str = "mysite.celery.app") -> str:
    """The native command prodserver prints for a process with this backend and ARGS."""
    backend_class = import_string(backend_path)
    app_or_none = app if backend_class.requires_app else None
    config = ProcessConfig(name="docs", backend=backend_class, args=args, app=app_or_none)
    return shlex.join(backend_class(config).native_command())


NATIVE_ROWS = [
    row
    for row in rows(("backend class", "BACKEND"), ("command", "starts"))
    if row.spans(row.table.column("backend class", "BACKEND") or 0)
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.where) for r in NATIVE_ROWS])
def test_native_command_row(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`...GunicornServer` | `gunicorn mysite.wsgi:application ARGS`: ARGS marks the options."""
    monkeypatch.chdir(tmp_path)
    backend = row.spans(row.table.column("backend class", "BACKEND") or 0)[0]
    shown = row.spans(row.table.column("command", "starts") or 1)[0]
    # A list ARGS passes through verbatim, so the word ARGS lands where the options go.
    assert dry_run_of(backend, ["ARGS"]) == fill_placeholders(shown), row.where
    COMPARED.add(f"table {row.where}")


def builtin_backend(class_name: str) -> str:
    matches = [path for path in BUILTIN_BACKENDS if path.rsplit(".", 1)[1] == class_name]
    assert matches, f"{class_name} is not a built-in backend"
    return matches[0]


DEFAULT_ROWS = rows(("backend",), ("adds",))


@pytest.mark.parametrize("row", [pytest.param(r, id=r.where) for r in DEFAULT_ROWS])
def test_backend_defaults_row(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`UvicornServer` | `--lifespan=off`: the backend's command has it when ARGS are empty."""
    monkeypatch.chdir(tmp_path)
    spans = [fill_placeholders(span) for span in row.spans(row.table.column("adds") or 1)]
    shown = option_words(spans)
    assert shown, f"{row.where}: no option shown"
    for class_name in row.spans(row.table.column("backend") or 0):
        words = shlex.split(dry_run_of(builtin_backend(class_name), {}))
        missing = [word for word in shown if word not in words]
        assert missing == [], f"{row.where}: {class_name} runs {shlex.join(words)}"
    COMPARED.add(f"table {row.where}")


def test_claims_were_compared() -> None:
    """The count for the record (meaningful when the whole module ran)."""
    total = len(CLAIMS) + len(TRANSLATION_ROWS) + len(NATIVE_ROWS) + len(DEFAULT_ROWS)
    print(
        f"\nclaims compared: {len(COMPARED)} of {total} "
        f"(console {len(CLAIMS)}, ARGS-translation rows {len(TRANSLATION_ROWS)}, "
        f"native-command rows {len(NATIVE_ROWS)}, backend-default rows {len(DEFAULT_ROWS)})"
    )
    assert total > 0
