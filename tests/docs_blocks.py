"""Reading the documentation as test input: pages, fenced blocks, skip marks, tables.

The docs tests execute and compare what the pages show, so they all need the same view of a
page. Blocks are found with sybil's own lexers (the ones its MyST and reST parsers use), so the
blocks these helpers see are the blocks sybil executes. What sybil does not provide is added
here: every block whatever its language, the page's headings and tables, the
``skip: next "reason"`` mark right before a block, the command lines of shell blocks, and an
independent raw count of the Python blocks (so a block sybil's lexers miss cannot go unnoticed).

``DOCS_ROOT`` in the environment points every docs test at another copy of the docs tree (used
to show that a deliberately broken page makes the suite fail).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import CodeType
from typing import Any
from unittest import mock

from sybil import Document, Region
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, FencedCodeBlockLexer
from sybil.parsers.myst.lexers import DirectiveInPercentCommentLexer
from sybil.parsers.myst.lexers import DirectiveLexer as MystDirectiveLexer
from sybil.parsers.rest.lexers import DirectiveInCommentLexer
from sybil.parsers.rest.lexers import DirectiveLexer as RestDirectiveLexer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DIR = ROOT / "example"

# Markdown pages, reST pages, and Markdown fragments pulled in with {include}.
MARKDOWN_SUFFIXES = (".md", ".inc")
REST_SUFFIXES = (".rst",)
CODE_DIRECTIVES = r"code-block|sourcecode|code"


def docs_root() -> Path:
    """The docs tree under test: ``$DOCS_ROOT`` if set, else this checkout's ``docs/``."""
    return Path(os.environ.get("DOCS_ROOT") or ROOT / "docs").resolve()


def doc_files(root: Path | None = None) -> list[Path]:
    """Every documentation source file, sorted (build output excluded)."""
    root = root or docs_root()
    return sorted(
        path
        for path in root.rglob("*")
        if path.suffix in MARKDOWN_SUFFIXES + REST_SUFFIXES
        and path.is_file()
        and not any(part.startswith(("_build", ".")) for part in path.relative_to(root).parts)
    )


def rel(path: Path | str) -> str:
    """A page's path relative to the docs root, for test ids and messages."""
    try:
        return Path(path).resolve().relative_to(docs_root()).as_posix()
    except ValueError:
        return str(path)


def is_rest(path: Path | str) -> bool:
    return Path(path).suffix in REST_SUFFIXES


@dataclass(frozen=True)
class Block:
    """One fenced code block (or code-block directive) of a page."""

    path: Path
    line: int  # 1-based line of the opening fence / directive
    source_line: int  # 1-based line of the block's first source line
    start: int  # character offsets in the page
    end: int
    language: str
    source: str
    skip: str | None = None  # the reason of a `skip: next "..."` mark right before it

    @property
    def where(self) -> str:
        return f"{rel(self.path)}:{self.line}"

    @property
    def is_python(self) -> bool:
        return self.language in {"python", "py", "python3"}


@dataclass(frozen=True)
class SkipMark:
    path: Path
    line: int
    start: int
    end: int
    action: str
    reason: str | None


# -- pages --------------------------------------------------------------------------------


@cache
def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _block_lexers(path: Path) -> list[object]:
    if is_rest(path):
        return [RestDirectiveLexer(directive=CODE_DIRECTIVES, arguments=".*")]
    return [
        FencedCodeBlockLexer(language=r"[^{\s][^\n]*|", mapping=None),
        MystDirectiveLexer(directive=CODE_DIRECTIVES, arguments=".*"),
    ]


def _skip_lexers(path: Path) -> list[object]:
    if is_rest(path):
        return [DirectiveInCommentLexer(directive="skip")]
    return [
        DirectiveInPercentCommentLexer(directive="skip"),
        DirectiveInHTMLCommentLexer(directive="skip"),
    ]


def _language(region: Region) -> str:
    lexemes = region.lexemes
    raw = lexemes.get("language") if "language" in lexemes else lexemes.get("arguments")
    words = str(raw or "").split()
    return words[0].lower() if words else ""


HEADING_MD = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
REST_ADORNMENT = re.compile(r"^([=\-`:'\"~^_*+#<>])\1{2,}[ \t]*$")


def headings(path: Path) -> list[tuple[int, int, str]]:
    """(offset, level, title) of every heading outside code blocks, in page order."""
    text = read(path)
    inside = [(b.start, b.end) for b in _raw_blocks(path)]

    def in_block(offset: int) -> bool:
        return any(start <= offset < end for start, end in inside)

    found: list[tuple[int, int, str]] = []
    if not is_rest(path):
        for match in HEADING_MD.finditer(text):
            if not in_block(match.start()):
                found.append((match.start(), len(match.group(1)), match.group(2).strip()))
        return found
    # reST: a title line followed by an underline (optionally also an overline); the level
    # is the order in which each adornment style first appears.
    lines = text.splitlines(keepends=True)
    styles: list[tuple[str, bool]] = []
    offset = 0
    offsets = []
    for line in lines:
        offsets.append(offset)
        offset += len(line)
    for i in range(len(lines) - 1):
        title, under = lines[i].rstrip("\n"), lines[i + 1].rstrip("\n")
        match = REST_ADORNMENT.match(under)
        if not match or not title.strip() or REST_ADORNMENT.match(title):
            continue
        if len(under.rstrip()) < len(title.rstrip()) or title.startswith((" ", "\t", "..")):
            continue
        if in_block(offsets[i]):
            continue
        over = i > 0 and lines[i - 1].rstrip("\n") == under
        style = (match.group(1), over)
        if style not in styles:
            styles.append(style)
        found.append(
            (offsets[i - 1] if over else offsets[i], styles.index(style) + 1, title.strip())
        )
    return found


def _raw_blocks(path: Path) -> list[Region]:
    document = Document(read(path), str(path))
    regions: list[Region] = []
    for lexer in _block_lexers(path):
        regions.extend(lexer(document))  # type: ignore[operator]
    regions.sort(key=lambda region: region.start)
    # A fence nested in another (a Markdown example inside a ````markdown block) is not a block.
    kept: list[Region] = []
    for region in regions:
        if kept and region.start < kept[-1].end:
            continue
        kept.append(region)
    return kept


@cache
def skip_marks(path: Path) -> tuple[SkipMark, ...]:
    """Every ``skip:`` mark of the page (``% skip: next "why"`` / ``.. skip: next "why"``)."""
    text = read(path)
    document = Document(text, str(path))
    marks = []
    for lexer in _skip_lexers(path):
        for region in lexer(document):  # type: ignore[operator]
            arguments = (region.lexemes.get("arguments") or "").strip()
            action, _, reason = arguments.partition(" ")
            marks.append(
                SkipMark(
                    path,
                    line_of(text, region.start),
                    region.start,
                    region.end,
                    action,
                    _literal(reason.strip()) if reason.strip() else None,
                )
            )
    return tuple(sorted(marks, key=lambda mark: mark.start))


def _literal(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


@cache
def blocks(path: Path) -> tuple[Block, ...]:
    """Every code block of one page, in page order, with its skip mark."""
    text = read(path)
    marks = {mark.end: mark for mark in skip_marks(path) if mark.action == "next"}
    result = []
    for region in _raw_blocks(path):
        lexeme = region.lexemes["source"]
        mark = _mark_before(text, region.start, marks)
        result.append(
            Block(
                path=path,
                line=line_of(text, region.start),
                source_line=line_of(text, region.start + lexeme.offset),
                start=region.start,
                end=region.end,
                language=_language(region),
                source=str(lexeme),
                skip=mark.reason if mark else None,
            )
        )
    return tuple(result)


def _mark_before(text: str, start: int, marks: dict[int, SkipMark]) -> SkipMark | None:
    """The ``skip: next`` mark that ends right before ``start`` (blank lines allowed)."""
    cut = start
    while cut > 0 and text[cut - 1] in " \t\n":
        cut -= 1
    # A mark region ends at the start of the line after it.
    for end in (cut, cut + 1):
        if end in marks:
            return marks[end]
    return None


def all_blocks(root: Path | None = None) -> list[Block]:
    return [block for path in doc_files(root) for block in blocks(path)]


def python_blocks(root: Path | None = None) -> list[Block]:
    return [block for block in all_blocks(root) if block.is_python]


# -- the independent raw count -------------------------------------------------------------

RAW_MD_PYTHON = re.compile(
    r"^[ \t>]*(?:[-*+]|\d+[.)])?[ \t]*(`{3,}|~{3,})[ \t]*"
    r"(?:\{(?:code-block|sourcecode|code)\}[ \t]+)?(?:python|py|python3)[ \t]*$",
    re.MULTILINE,
)
RAW_REST_PYTHON = re.compile(
    r"^[ \t]*\.\.[ \t]+(?:code-block|sourcecode|code)::[ \t]*(?:python|py|python3)[ \t]*$",
    re.MULTILINE,
)


def raw_python_block_lines(path: Path) -> list[int]:
    """Lines that open a Python block, found by a plain regex (not by sybil's lexers)."""
    text = read(path)
    pattern = RAW_REST_PYTHON if is_rest(path) else RAW_MD_PYTHON
    return [line_of(text, match.start()) for match in pattern.finditer(text)]


# -- settings and commands shown in blocks -------------------------------------------------


def mentions_processes(source: str) -> bool:
    return "PRODUCTION_PROCESSES" in source


def mentions_args(source: str) -> bool:
    return re.search(r"""["']ARGS["']""", source) is not None


@dataclass(frozen=True)
class Command:
    """One ``$ ...`` line of a console block, with the output lines that follow it."""

    block: Block
    line: int
    text: str
    output: tuple[str, ...]

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=False)

    @property
    def where(self) -> str:
        return f"{rel(self.block.path)}:{self.line}"


SHELL_LANGUAGES = {"console", "shell-session", "bash", "sh", "shell", "zsh", "powershell"}
# The Windows tab of an operating-system tab set: a cmd.exe session with "> " prompts. Its
# commands are parsed and their prodserver claims checked, but never run on this machine.
WINDOWS_SHELL_LANGUAGES = {"doscon"}
# Blocks that also hold command lines: Dockerfiles and systemd units.
COMMAND_LANGUAGES = (
    SHELL_LANGUAGES | WINDOWS_SHELL_LANGUAGES | {"dockerfile", "docker", "ini", "systemd"}
)
PROMPT = re.compile(r"^(?:\([^)]*\)\s*)?\$ ")
WINDOWS_PROMPT = re.compile(r"^(?:\([^)]*\)\s*)?> ")


def commands(block: Block) -> Iterator[Command]:
    """The commands of a block: prompt lines in console blocks (``>`` in doscon), every line
    in bash, exec-form ``CMD`` / ``ENTRYPOINT`` in Dockerfiles, ``Exec...=`` lines of systemd
    units (ini)."""
    lines = block.source.splitlines()
    first_line = block.line + 1
    if block.language in {"console", "shell-session", "doscon"}:
        prompt = WINDOWS_PROMPT if block.language == "doscon" else PROMPT
        i = 0
        while i < len(lines):
            match = prompt.match(lines[i])
            if not match:
                i += 1
                continue
            text, number = lines[i][match.end() :], first_line + i
            i += 1
            while text.endswith("\\") and i < len(lines):
                text = text[:-1] + " " + lines[i].strip()
                i += 1
            output = []
            while i < len(lines) and not prompt.match(lines[i]):
                output.append(lines[i])
                i += 1
            yield Command(block, number, text.strip(), tuple(output))
    elif block.language in {"dockerfile", "docker"}:
        # Exec-form CMD / ENTRYPOINT: a JSON list of words.
        for i, line in enumerate(lines):
            match = re.match(r"^\s*(?:CMD|ENTRYPOINT)\s+(\[.*\])\s*$", line)
            if match:
                with contextlib.suppress(ValueError):
                    words = json.loads(match.group(1))
                    yield Command(block, first_line + i, shlex.join(words), ())
    elif block.language in {"ini", "systemd"}:
        for i, line in enumerate(lines):
            match = re.match(r"^\s*Exec\w*\s*=\s*[-@:+!]*(.+)$", line)
            if match:
                yield Command(block, first_line + i, match.group(1).strip(), ())
    elif block.language in {"bash", "sh", "shell", "zsh"}:
        joined = ""
        start = 0
        for i, line in enumerate(lines):
            if not joined:
                start = i
            joined += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
            if line.endswith("\\"):
                continue
            if joined and not joined.startswith("#"):
                yield Command(block, first_line + start, joined.strip(), ())
            joined = ""


MANAGE_PRODSERVER = re.compile(r"(?:^|[\s;&|(])(?:\S*/)?manage\.py\s+prodserver\b(?P<rest>.*)$")


def prodserver_argv(text: str) -> list[str] | None:
    """The words after ``manage.py prodserver`` in a command line, or None if it has none.

    Only the prodserver command is taken: a following ``&&`` / ``;`` / ``|`` / ``&`` ends it.
    """
    match = MANAGE_PRODSERVER.search(text)
    if match is None:
        return None
    lexer = shlex.shlex(match.group("rest"), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = []
    for word in lexer:
        if word in {"&&", "||", ";", "|", "&", ">", ">>", "2>", "2>&1", "<"}:
            break
        words.append(word)
    return words


# -- running Python blocks -----------------------------------------------------------------

# Each block runs on its own, in a fresh namespace, as the docs conventions promise ("every
# python block is complete, valid Python that runs on its own"). ``__file__`` is the example
# project's settings module, since most blocks are fragments of a settings file.
SETTINGS_FILE = EXAMPLE_DIR / "mysite" / "settings.py"

# Settings a block may show but that the tests cannot swap in a running process: the app
# registry and the database connections are global. The example project's values stay.
PROCESS_WIDE_SETTINGS = frozenset({"INSTALLED_APPS", "DATABASES"})


def fresh_namespace() -> dict[str, Any]:
    return {"__name__": "docs_example", "__file__": str(SETTINGS_FILE)}


def compile_block(block: Block) -> CodeType:
    """Compile a block so that tracebacks name the page and its real line numbers."""
    padded = "\n" * (block.source_line - 1) + block.source
    return compile(padded, str(block.path), "exec", dont_inherit=True)


def run_block(block: Block) -> dict[str, Any]:
    """Execute ``block`` in a fresh namespace and return that namespace.

    Blocks are run again by each test that needs them (a block takes milliseconds), so no
    test sees values another test changed.
    """
    namespace = fresh_namespace()
    with process_state_kept():
        exec(compile_block(block), namespace)
    return namespace


@contextlib.contextmanager
def process_state_kept() -> Iterator[None]:
    """Undo what a block may change for the rest of the test session.

    Blocks are module bodies from the docs: ``os.environ.setdefault(...)`` in an ``asgi.py``,
    ``Celery("mysite")`` in a ``celery.py`` (which makes itself Celery's current app).
    """
    from celery import _state as celery_state

    current = getattr(celery_state._tls, "current_app", None)
    default = celery_state.default_app
    try:
        with mock.patch.dict(os.environ):
            yield
    finally:
        celery_state._tls.current_app = current
        celery_state.default_app = default


def block_settings(namespace: dict[str, Any]) -> dict[str, Any]:
    """The settings a block defines (UPPER_CASE names), minus the process-wide ones."""
    return {
        name: value
        for name, value in namespace.items()
        if name.isupper() and not name.startswith("_") and name not in PROCESS_WIDE_SETTINGS
    }


def config_blocks(path: Path) -> list[Block]:
    """The page's Python blocks that define PRODUCTION_PROCESSES, in page order."""
    return [b for b in blocks(path) if b.is_python and not b.skip and mentions_processes(b.source)]


def page_backends(path: Path) -> set[str]:
    """The built-in BACKEND paths that the page's configurations use."""
    from django_prodserver.backends import BUILTIN_BACKENDS, SHORT_NAMES

    found = set()
    for block in config_blocks(path):
        processes = run_block(block).get("PRODUCTION_PROCESSES") or {}
        found |= {p.get("BACKEND") for p in processes.values() if isinstance(p, Mapping)}
    found = {SHORT_NAMES.get(backend, backend) for backend in found}
    return {backend for backend in found if backend in BUILTIN_BACKENDS}


def config_before(path: Path, offset: int) -> Block | None:
    """The nearest Python block with PRODUCTION_PROCESSES before ``offset`` on the page (not
    one in another tab: a Windows tab's configuration is not the one its Linux tab runs)."""
    found = None
    for block in blocks(path):
        if (
            block.is_python
            and mentions_processes(block.source)
            and block.start < offset
            and same_tab(path, block.start, offset)
        ):
            found = block  # skip-marked ones too: the caller cannot use those, and says so
    return found


TAB_ITEM_SYNC = re.compile(
    r"^(?P<fence>:{3})\{tab-item\}[^\n]*\n:sync:[ \t]*(?P<sync>\S+)[ \t]*\n.*?^(?P=fence)[ \t]*$",
    re.M | re.S,
)


@cache
def _synced_tabs(path: Path) -> tuple[tuple[int, int, str], ...]:
    return tuple((m.start(), m.end(), m.group("sync")) for m in TAB_ITEM_SYNC.finditer(read(path)))


def sync_key_at(path: Path, offset: int) -> str | None:
    """The ``:sync:`` key of the tab item that holds ``offset`` (``posix``, ``pip``), if any."""
    return next((key for start, end, key in _synced_tabs(path) if start <= offset < end), None)


def same_tab(path: Path, first: int, second: int) -> bool:
    """False when the two offsets are in tab items with different ``:sync:`` keys."""
    keys = {sync_key_at(path, first), sync_key_at(path, second)} - {None}
    return len(keys) <= 1


# -- tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A Markdown pipe table or a reST list-table: header cells and (line, cells) rows."""

    path: Path
    line: int
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]

    def column(self, *words: str) -> int | None:
        """Index of the first header cell that contains one of ``words`` (case-insensitive)."""
        for index, cell in enumerate(self.header):
            if any(word.lower() in cell.lower() for word in words):
                return index
        return None


MD_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _split_row(line: str) -> tuple[str, ...]:
    """Split a pipe-table row on the pipes that are not inside a code span."""
    cells, cell, ticks = [], "", 0
    body = line.strip().removeprefix("|").removesuffix("|")
    i = 0
    while i < len(body):
        char = body[i]
        if char == "`":
            run = len(body[i:]) - len(body[i:].lstrip("`"))
            if not ticks:
                ticks = run  # a code span opens
            elif ticks == run:
                ticks = 0  # and closes with a run of the same length
            cell += "`" * run
            i += run
            continue
        if char == "|" and not ticks and not cell.endswith("\\"):
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    cells.append(cell.strip())
    return tuple(cells)


def _outside_blocks(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of the page's lines that are not inside a code block."""
    text = read(path)
    inside = {
        line
        for block in _raw_blocks(path)
        for line in range(line_of(text, block.start), line_of(text, block.end) + 1)
    }
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if n not in inside]


@cache
def tables(path: Path) -> tuple[Table, ...]:
    return tuple(_rest_tables(path) if is_rest(path) else _markdown_tables(path))


def _markdown_tables(path: Path) -> Iterator[Table]:
    lines = _outside_blocks(path)
    i = 0
    while i + 1 < len(lines):
        (number, line), (next_number, separator) = lines[i], lines[i + 1]
        if not (
            line.lstrip().startswith("|")
            and next_number == number + 1
            and MD_SEPARATOR.match(separator.strip())
        ):
            i += 1
            continue
        rows = []
        j = i + 2
        while j < len(lines) and lines[j][1].lstrip().startswith("|"):
            rows.append((lines[j][0], _split_row(lines[j][1])))
            j += 1
        yield Table(path, number, _split_row(line), tuple(rows))
        i = j


LIST_TABLE = re.compile(r"^(?P<indent>[ \t]*)\.\. list-table::")


def _rest_tables(path: Path) -> Iterator[Table]:
    """reST list-tables with one header row (the form configuration.rst uses)."""
    lines = read(path).splitlines()
    for i, line in enumerate(lines):
        match = LIST_TABLE.match(line)
        if not match:
            continue
        indent = len(match.group("indent"))
        rows: list[tuple[int, list[str]]] = []
        header_rows = 0
        for j in range(i + 1, len(lines)):
            text = lines[j]
            stripped = text.strip()
            if stripped and len(text) - len(text.lstrip()) <= indent:
                break
            if stripped.startswith(":header-rows:"):
                header_rows = int(stripped.split(":")[2])
            elif stripped.startswith("* - "):
                rows.append((j + 1, [stripped[4:]]))
            elif stripped.startswith("- ") and rows:
                rows[-1][1].append(stripped[2:])
            elif stripped and rows:
                rows[-1][1][-1] += " " + stripped
        if rows:
            header = tuple(rows[0][1]) if header_rows else ()
            body = rows[header_rows:]
            yield Table(path, i + 1, header, tuple((n, tuple(cells)) for n, cells in body))


def code_spans(path: Path, cell: str) -> list[str]:
    """The inline code of a table cell (``code`` in reST, `code` in Markdown)."""
    if is_rest(path):
        return re.findall(r"``(.+?)``", cell)
    return [match.group(2).strip() for match in re.finditer(r"(`+)(.+?)\1", cell)]


# -- the servers' own option names ---------------------------------------------------------


def known_long_options(backend: Any) -> frozenset[str] | None:
    """Every long option the backend's server accepts, spelled out in full.

    Parsers built on argparse and getopt also accept an unambiguous prefix (``--max-req``),
    so passing the parser is not proof that a name is real; this set is. The backend's own
    parser adapter answers; ``None`` for a backend without one (a custom one).
    """
    options: frozenset[str] | None = backend.long_options()
    return options
