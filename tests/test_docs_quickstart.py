"""The quickstart and the custom-backend guide, run end to end from their own pages (check 4).

Nothing here repeats the tutorial: a small interpreter reads ``docs/guides/quickstart.md`` and
does what it says, in page order, as a new user in an empty directory would:

* ``$`` lines of console blocks run for real (``mkdir``, ``cd``, ``python3 -m venv``,
  ``source .venv/bin/activate``, ``pip install``, ``django-admin startproject``,
  ``python manage.py ...``, ``curl``), in a fresh virtualenv in a temporary directory;
* ``pip install "django-prodserver[EXTRA]"`` installs a wheel of this checkout with that extra
  instead (nothing is on PyPI yet; the dependencies come from PyPI); a ``uv`` tab beside the
  ``pip`` one is not run twice;
* each Python block is appended to ``mysite/settings.py``, in order ("add them at the end of
  the file"), unless the text before it says "Save this as `PATH`", as the custom-backend
  guide does for its ``{literalinclude}`` module;
* a ``python manage.py prodserver NAME`` whose shown output starts with
  ``prodserver: starting`` is the server: it starts in the background (the page's "leave it
  running"), and the next ``curl`` waits until it answers;
* a console block with output but no command, or the end of a section that says
  {kbd}`Ctrl+C`, is the stop: SIGINT to the server's process group, as a terminal sends it;
  the server must exit with status 0.

Every output line the page shows must appear in the real output: exactly, or with digits,
timestamps and absolute paths masked for server logs. A port the page uses is replaced by a
free one only when something else already listens on it. The custom-backend guide continues
from the quickstart's project, as its note says.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import docs_blocks
from conftest import kill_tree, wait_for_http

# The page is a journey: its steps run in order, in one module-scoped session, on one worker.
pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.xdist_group("quickstart")]

QUICKSTART = docs_blocks.docs_root() / "guides" / "quickstart.md"
CUSTOM_BACKEND = docs_blocks.docs_root() / "guides" / "custom-backend.md"
REQUIREMENT = re.compile(r"^django-prodserver(?P<extra>\[[\w,-]+\])?$")
SAVE_AS = re.compile(r"Save (?:this|it) as `(?P<path>[^`]+)`")
CTRL_C = re.compile(r"Ctrl\+C")
LITERALINCLUDE = re.compile(
    r"^```\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n(?P<options>(?::[^\n]*\n)*)```",
    re.MULTILINE,
)
SETTINGS = Path("mysite") / "settings.py"


# -- the page, as a list of steps -----------------------------------------------------------


@dataclass(frozen=True)
class Step:
    offset: int
    kind: str  # "heading", "python", "console", "include"
    where: str
    block: docs_blocks.Block | None = None
    include: Path | None = None
    save_as: str | None = None
    text_before: str = ""


def steps(page: Path) -> list[Step]:
    text = docs_blocks.read(page)
    found: list[Step] = []
    for start, _, title in docs_blocks.headings(page):
        found.append(Step(start, "heading", title))
    for block in docs_blocks.blocks(page):
        if block.is_python:
            found.append(Step(block.start, "python", block.where, block=block))
        elif block.language in {"console", "shell-session"}:
            found.append(Step(block.start, "console", block.where, block=block))
    for match in LITERALINCLUDE.finditer(text):
        if ":pyobject:" in match.group("options") or ":lines:" in match.group("options"):
            continue  # an excerpt of a file shown in full elsewhere
        include = (page.parent / match.group("path")).resolve()
        where = f"{docs_blocks.rel(page)}:{docs_blocks.line_of(text, match.start())}"
        found.append(Step(match.start(), "include", where, include=include))
    found.sort(key=lambda step: step.offset)
    # The prose before each step (since the previous step) says where a file goes.
    result, previous = [], 0
    for step in found:
        before = text[previous : step.offset]
        save = SAVE_AS.search(before)
        result.append(
            Step(
                step.offset,
                step.kind,
                step.where,
                step.block,
                step.include,
                save.group("path") if save else None,
                before,
            )
        )
        previous = step.offset
    return result


def section_texts(page: Path) -> list[tuple[int, int, str]]:
    """(start, end, text) of every section of the page."""
    text = docs_blocks.read(page)
    starts = [start for start, _, _ in docs_blocks.headings(page)] + [len(text)]
    return [(a, b, text[a:b]) for a, b in itertools.pairwise(starts)]


# -- ports ----------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_map(page: Path) -> dict[str, str]:
    """The page's loopback ports that are taken right now, each mapped to a free one."""
    text = docs_blocks.read(page)
    ports = set(re.findall(r"127\.0\.0\.1:(\d{4,5})\b", text))
    ports |= set(re.findall(r'"port":\s*(\d{4,5})\b', text))
    return {port: str(free_port()) for port in sorted(ports) if not port_is_free(int(port))}


# -- running the steps ----------------------------------------------------------------------

TIMESTAMP = re.compile(r"\[\d{4}-\d\d-\d\d [\d:.]+(?: [+-]\d{4})?\]")
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?!/)[^\s)]+")


def masked(line: str) -> str:
    """A log line with what differs between runs (times, pids, paths) masked."""
    line = TIMESTAMP.sub("[TIME]", line)
    line = ABSOLUTE_PATH.sub("PATH", line)
    return re.sub(r"\d+", "N", line).strip()


@dataclass
class Server:
    proc: subprocess.Popen[str]
    log: Path
    command: str
    shown: tuple[str, ...]

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Session:
    """A shell session in a temporary directory, driven by a page's steps."""

    root: Path
    wheel: Path
    cwd: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    ports: dict[str, str] = field(default_factory=dict)
    server: Server | None = None
    stopped: list[int] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cwd = self.root
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"}
            and not key.startswith(("PYTEST", "DJANGO_PRODSERVER"))
        }
        ours = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
        xdg = self.root / "xdg-runtime"
        xdg.mkdir(mode=0o700)
        env.update(XDG_RUNTIME_DIR=str(xdg), PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.env = env

    # -- helpers

    def sub_ports(self, text: str) -> str:
        for old, new in self.ports.items():
            text = re.sub(rf"(?<!\d){old}(?!\d)", new, text)
        return text

    def which(self, program: str) -> str:
        found = shutil.which(program, path=self.env["PATH"])
        assert found, f"{program} is not on PATH"
        return found

    def run(self, words: list[str], where: str) -> subprocess.CompletedProcess[str]:
        self.transcript.append(f"$ {shlex.join(words)}")
        result = subprocess.run(
            [self.which(words[0]), *words[1:]],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=150,
            stdin=subprocess.DEVNULL,
        )
        self.transcript.append((result.stdout + result.stderr)[-2000:])
        return result

    # -- the steps

    def do(self, step: Step) -> None:
        if step.kind == "include":
            assert step.save_as, f"{step.where}: the page does not say where this file goes"
            assert step.include is not None and step.include.is_file(), step.where
            shutil.copyfile(step.include, self.cwd / step.save_as)
        elif step.kind == "python":
            assert step.block is not None
            source = self.sub_ports(step.block.source)
            target = self.cwd / (step.save_as or SETTINGS)
            with target.open("a") as file:
                file.write(("\n\n" if target.stat().st_size else "") + source + "\n")
        elif step.kind == "console":
            assert step.block is not None
            commands = list(docs_blocks.commands(step.block))
            if not commands and step.block.source.strip():
                self.stop(step.where, self.sub_ports(step.block.source).splitlines())
            for command in commands:
                self.command(command)

    def command(self, command: docs_blocks.Command) -> None:
        where = f"{command.where}: `{command.text}`"
        words = shlex.split(self.sub_ports(command.text))
        shown = tuple(self.sub_ports(line) for line in command.output)
        program = words[0]
        if program == "uv":
            return  # a "uv" tab repeats the "pip" tab next to it; the pip one is run
        if program == "mkdir":
            for name in words[1:]:
                (self.cwd / name).mkdir(parents="-p" in words)
        elif program == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
        elif program == "touch":
            for name in words[1:]:
                (self.cwd / name).touch()
        elif program in {"source", "."}:
            venv = (self.cwd / words[1]).resolve().parent.parent
            self.env["VIRTUAL_ENV"] = str(venv)
            self.env["PATH"] = os.pathsep.join([str(venv / "bin"), self.env["PATH"]])
        elif program == "curl":
            self.curl(words, shown, where)
        elif "prodserver" in words and shown and shown[0].startswith("prodserver: starting"):
            self.start(words, shown, where)
        else:
            self.finish(self.run(self.install_target(words), where), shown, where)

    def install_target(self, words: list[str]) -> list[str]:
        """``pip install "django-prodserver[gunicorn]"`` -> the wheel of this checkout."""
        if "install" not in words:
            return words
        result = []
        for word in words:
            match = REQUIREMENT.match(word)
            result.append(f"{self.wheel}{match.group('extra') or ''}" if match else word)
        return result

    def finish(
        self, result: subprocess.CompletedProcess[str], shown: tuple[str, ...], where: str
    ) -> None:
        output = (result.stdout + result.stderr).splitlines()
        shows_error = any(line.startswith(("ProdserverError", "CommandError")) for line in shown)
        if shows_error:
            assert result.returncode != 0, f"{where}: the page shows an error, the command passed"
        else:
            assert result.returncode == 0, f"{where}: exit {result.returncode}:\n" + "\n".join(
                output[-30:]
            )
        missing = [line for line in shown if line not in output]
        assert missing == [], f"{where}: shown but not printed; it printed:\n" + "\n".join(output)

    def start(self, words: list[str], shown: tuple[str, ...], where: str) -> None:
        assert self.server is None, f"{where}: a server is already running"
        log = self.root / f"server-{len(self.stopped)}.log"
        self.transcript.append(f"$ {shlex.join(words)} &")
        with log.open("w") as file:
            proc = subprocess.Popen(
                [self.which(words[0]), *words[1:]],
                cwd=self.cwd,
                env={**self.env, "PYTHONUNBUFFERED": "1"},
                stdout=file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        self.server = Server(proc, log, where, shown)

    def curl(self, words: list[str], shown: tuple[str, ...], where: str) -> None:
        url = next(word for word in words if word.startswith(("http://", "https://")))
        assert urlsplit(url).hostname in {"127.0.0.1", "localhost"}, f"{where}: not local"
        assert self.server is not None, f"{where}: no server is running"
        wait_for_http(url, self.server.proc, timeout=60)
        result = self.run(words, where)
        self.finish(result, shown, where)
        self.answered.append(result.stdout.strip())

    def stop(self, where: str, shown: list[str] | tuple[str, ...] = ()) -> None:
        """Ctrl+C: SIGINT to the foreground process group, then wait for a clean exit."""
        server = self.server
        assert server is not None, f"{where}: the page stops a server that is not running"
        os.killpg(server.proc.pid, signal.SIGINT)
        try:
            status = server.proc.wait(timeout=60)
        finally:
            kill_tree(server.proc.pid)
        self.server = None
        self.stopped.append(status)
        output = server.output()
        self.transcript.append(output[-3000:])
        assert status == 0, f"{where}: the server exited with {status}:\n{output[-3000:]}"
        lines = output.splitlines()
        # The start command's first line is prodserver's own: exact. The rest is the server's
        # log (and the stop's lines): compared with times, pids and paths masked.
        assert server.shown[0] in lines, f"{server.command}: {server.shown[0]!r} not in\n{output}"
        logged = {masked(line) for line in lines}
        missing = [line for line in (*server.shown[1:], *shown) if masked(line) not in logged]
        assert missing == [], f"{server.command}: log lines not seen:\n{output}"

    def cleanup(self) -> None:
        if self.server is not None:
            kill_tree(self.server.proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.proc.wait(timeout=10)
            self.server = None


def run_page(session: Session, page: Path) -> None:
    """Do every step of the page; a section that says Ctrl+C ends with the server stopped."""
    session.ports = port_map(page)
    sections = section_texts(page)
    for step in steps(page):
        if step.kind == "heading" and session.server is not None:
            ended = [text for start, end, text in sections if start < step.offset <= end]
            if ended and CTRL_C.search(ended[-1]):
                session.stop(f"{docs_blocks.rel(page)}: end of section asking for Ctrl+C")
        session.do(step)
    if session.server is not None and CTRL_C.search(docs_blocks.read(page)):
        session.stop(f"{docs_blocks.rel(page)}: end of the page")


# -- fixtures and tests ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart_session(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    session = Session(tmp_path_factory.mktemp("quickstart"), wheel)
    try:
        yield session
    finally:
        session.cleanup()


@pytest.mark.timeout(180)
def test_quickstart_page_runs_end_to_end(quickstart_session: Session) -> None:
    session = quickstart_session
    try:
        run_page(session, QUICKSTART)
    except AssertionError as exc:
        transcript = "\n".join(session.transcript)
        raise AssertionError(f"{exc}\n\n--- session so far ---\n{transcript}") from None
    assert session.answered == ["200"], "the page's curl must get 200 from the server it started"
    assert session.stopped == [0]


@pytest.mark.timeout(180)
def test_custom_backend_guide_runs_end_to_end(quickstart_session: Session) -> None:
    """The guide continues in the quickstart's project (``mysite``, with its ``web``)."""
    session = quickstart_session
    if session.stopped != [0]:
        pytest.fail("the quickstart did not complete, and this guide starts from its project")
    try:
        run_page(session, CUSTOM_BACKEND)
    except AssertionError as exc:
        transcript = "\n".join(session.transcript)
        raise AssertionError(f"{exc}\n\n--- session so far ---\n{transcript}") from None
    assert session.answered == ["200", "200"], "the wsgiref server must answer 200"
    assert session.stopped == [0, 0]
