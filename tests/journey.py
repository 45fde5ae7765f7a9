"""Following a guide as a reader does: the page is the script.

A ``Journey`` reads one page of ``docs/`` and does what it says, in page order, in a temporary
directory with a fresh virtualenv, as a new user would:

* ``$`` lines of console blocks (every line of bash blocks) run for real: ``mkdir``, ``cd``,
  ``source .venv/bin/activate`` and ``export`` change the session; ``pip install
  "django-prodserver[EXTRA]"`` installs the wheel of this checkout with that extra (the
  dependencies come from the package index); everything else runs in ``bash`` with the
  session's environment. Each output line the page shows must appear in the real output.
* ``python manage.py prodserver NAME`` without ``--dry-run``/``--list`` is a long-running
  process: it starts in the background (the reader's "second terminal") and runs until the
  page stops it: a section that says {kbd}`Ctrl+C` ends (SIGINT to its process group), the
  same NAME is started again, or the page ends (SIGTERM, what a service manager sends).
  Either way it must exit with status 0, and the log lines the page shows under the command
  must have appeared in its log (times, ids and paths masked).
* A Python block is added at the end of ``mysite/settings.py`` (the guides say "at the end of
  the file"), unless the prose before it says "Save this as `PATH`".
* Invisible marks (MyST ``%`` comments) say what the prose cannot:
  ``% journey: write PATH`` / ``% journey: append PATH`` (the next block is that file, or goes
  at its end), ``% journey: skip "why"`` (the next block is not run; the reason is reported),
  ``% journey: continues PAGE`` (first follow PAGE, in the same session),
  ``% journey: log NAME`` (the next block's lines appear in the log of the running process
  NAME, within 90 seconds).
* In a tab set the journey follows one tab: the one whose ``:sync:`` key the test prefers
  (the journeys prefer ``posix``: a Windows tab is read, never run),
  else the first.
* Commands that need what this machine does not have (a Docker engine, systemd as PID 1, a
  Kubernetes cluster, root on a server) go to the test's handlers, or are recorded as not
  executed with the reason from ``NOT_EXECUTABLE``; the test prints the list.

Loopback addresses are made safe for a shared machine, consistently in everything the journey
writes, runs and compares: ``0.0.0.0`` becomes ``127.0.0.1`` and every port the page uses
becomes a free one (or the test's own service, e.g. its ``redis-server``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

import docs_blocks
from conftest import descendants, kill_tree, wait_for_http

REQUIREMENT = re.compile(r"^django-prodserver(?P<extra>\[[\w,-]+\])?$")
SAVE_AS = re.compile(r"[Ss]ave\s+(?:this|it)\s+as\s+`(?P<path>[^`]+)`")
CTRL_C = re.compile(r"Ctrl\+C")
MARK = re.compile(r"^%[ \t]*journey:[ \t]*(?P<action>\w+)[ \t]*(?P<argument>.*?)[ \t]*$", re.M)
LITERALINCLUDE = re.compile(
    r"^```\{literalinclude\}[ \t]+(?P<path>\S+)[ \t]*\n(?P<options>(?::[^\n]*\n)*)```",
    re.MULTILINE,
)
TAB_SET = re.compile(
    r"^(?P<fence>:{4,})\{tab-set\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
TAB_ITEM = re.compile(
    r"^(?P<fence>:{3})\{tab-item\}[^\n]*\n(?::sync:[ \t]*(?P<sync>\S+)[ \t]*\n)?(?P<body>.*?)"
    r"^(?P=fence)[ \t]*$",
    re.M | re.S,
)
SETTINGS = Path("mysite") / "settings.py"
PRODSERVER_OWN = {"--dry-run", "--list", "--help", "-h", "--version"}

# Programs this machine cannot run for a reader, and why. A test may handle some itself.
NOT_EXECUTABLE = {
    "docker": "no Docker engine on this machine (only the client is installed)",
    "sudo": "needs root on a server with systemd as PID 1; this machine is a container",
    "systemctl": "systemd is not PID 1 here, so there is no service manager to talk to",
    "journalctl": "no journal: systemd is not running on this machine",
    "kubectl": "no Kubernetes cluster is reachable from this machine",
    "nginx": "nginx is not installed on this machine",
}


# What a worker logs once it is ready, by the program its native command runs.
READY = {
    " worker": r"\bready\.",
    " beat": r"beat: Starting",
    "db_worker": r"Starting worker",
    "qcluster": r"running\.",
    "wsgiref": r"serving on",
    "gunicorn": r"Booting worker",
}


# -- the page, as a list of steps -----------------------------------------------------------


@dataclass(frozen=True)
class Step:
    offset: int
    kind: str  # "heading", "block", "include"
    where: str
    block: docs_blocks.Block | None = None
    include: Path | None = None
    target: str | None = None  # the file the block is, or goes into
    append: bool = True
    skip: str | None = None


def tab_ranges(text: str, prefer: tuple[str, ...]) -> list[tuple[int, int]]:
    """Character ranges of the tabs the journey does not follow."""
    dropped = []
    for tab_set in TAB_SET.finditer(text):
        offset = tab_set.start("body")
        items = list(TAB_ITEM.finditer(tab_set.group("body")))
        keys = [item.group("sync") for item in items]
        chosen = next((keys.index(key) for key in prefer if key in keys), 0)
        dropped += [
            (offset + item.start(), offset + item.end())
            for index, item in enumerate(items)
            if index != chosen
        ]
    return dropped


def marks(text: str) -> list[tuple[int, str, str]]:
    """(end offset, action, argument) of every ``% journey:`` mark of the page."""
    found = []
    for match in MARK.finditer(text):
        argument = match.group("argument")
        with contextlib.suppress(ValueError, SyntaxError):
            if argument.startswith(('"', "'")):
                argument = str(eval(argument, {"__builtins__": {}}))
        found.append((match.end(), match.group("action"), argument))
    return found


def mark_before(text: str, start: int, found: list[tuple[int, str, str]]) -> tuple[str, str]:
    """The mark that ends right before ``start`` (blank lines allowed), or ("", "")."""
    cut = start
    while cut > 0 and text[cut - 1] in " \t\n":
        cut -= 1
    for end, action, argument in found:
        if end == cut:
            return action, argument
    return "", ""


def steps(page: Path, prefer: tuple[str, ...] = ()) -> list[Step]:
    text = docs_blocks.read(page)
    dropped = tab_ranges(text, prefer)
    page_marks = marks(text)

    def followed(offset: int) -> bool:
        return not any(start <= offset < end for start, end in dropped)

    found: list[Step] = [
        Step(start, "heading", title) for start, _, title in docs_blocks.headings(page)
    ]
    for block in docs_blocks.blocks(page):
        if followed(block.start):
            found.append(Step(block.start, "block", block.where, block=block))
    for match in LITERALINCLUDE.finditer(text):
        if ":pyobject:" in match.group("options") or ":lines:" in match.group("options"):
            continue  # an excerpt of a file shown in full elsewhere
        include = (page.parent / match.group("path")).resolve()
        where = f"{docs_blocks.rel(page)}:{docs_blocks.line_of(text, match.start())}"
        found.append(Step(match.start(), "include", where, include=include))
    found.sort(key=lambda step: step.offset)
    result, previous = [], 0
    for step in found:
        before = text[previous : step.offset]
        previous = step.offset
        if step.kind == "heading":
            result.append(step)
            continue
        action, argument = mark_before(text, step.offset, page_marks)
        save = SAVE_AS.search(before)
        target, append, skip = None, True, None
        if action in {"write", "append"}:
            target, append = argument, action == "append"
        elif action == "skip":
            skip = argument or "marked skip"
        elif action == "log":
            target, append = f"log:{argument}", False
        elif save:
            target, append = save.group("path"), False
        result.append(
            Step(step.offset, step.kind, step.where, step.block, step.include, target, append, skip)
        )
    return result


def continues(page: Path) -> tuple[Path, str | None] | None:
    """The page this one continues from, and the heading before which that page's journey
    ends (``% journey: continues PAGE`` or ``% journey: continues PAGE until "HEADING"``)."""
    for _, action, argument in marks(docs_blocks.read(page)):
        if action == "continues":
            name, _, until = argument.partition(" until ")
            title = eval(until, {"__builtins__": {}}) if until else None
            return docs_blocks.docs_root() / name, title
    return None


def section_texts(page: Path) -> list[tuple[int, int, str]]:
    """(start, end, text) of every section of the page."""
    text = docs_blocks.read(page)
    starts = [start for start, _, _ in docs_blocks.headings(page)] + [len(text)]
    return [(a, b, text[a:b]) for a, b in itertools.pairwise(starts)]


# -- addresses ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (connections in TIME_WAIT do not count, as for servers)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


PORT_PATTERNS = (
    r"(?:127\.0\.0\.1|0\.0\.0\.0|localhost):(\d{4,5})\b",
    r'"port":\s*(\d{4,5})\b',
    r"--port[= ](\d{4,5})\b",
    r"--publish (\d{4,5}):",
    r"containerPort: (\d{4,5})\b",
)


def page_ports(page: Path) -> set[str]:
    text = docs_blocks.read(page)
    return {port for pattern in PORT_PATTERNS for port in re.findall(pattern, text)}


# -- output comparison ----------------------------------------------------------------------

TIMESTAMP = re.compile(r"\[\d{4}-\d\d-\d\d [\d:.,]+(?: [+-]\d{4})?\]")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.])/(?!/)[^\s)]+")


def masked(line: str) -> str:
    """A log line with what differs between runs (times, ids, pids, paths) masked."""
    line = TIMESTAMP.sub("[TIME]", line)
    line = UUID.sub("ID", line)
    line = ABSOLUTE_PATH.sub("PATH", line)
    return re.sub(r"\d+(?:\.\d+)?(?:e-\d+)?", "N", line).strip()


# -- the session ----------------------------------------------------------------------------


@dataclass
class Server:
    """A long-running command the page started (a reader's other terminal)."""

    name: str
    proc: subprocess.Popen[str]
    log: Path
    command: str
    shown: tuple[str, ...]
    expected_status: int = 0
    native: str = ""  # the native command, from --dry-run
    #: How a signal reaches it, when not by the process started (PID 1 of a container).
    send: Callable[[int], None] | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


Handler = Callable[["Journey", docs_blocks.Command, list[str], tuple[str, ...]], bool]


class StandIn:
    """A handler that does what a program this machine lacks would do (docker, systemctl)."""

    text = ""

    def __call__(
        self,
        session: Journey,
        command: docs_blocks.Command,
        words: list[str],
        shown: tuple[str, ...],
    ) -> bool:
        self.text = session.sub(command.text)  # the command as the page shows it
        return self.handle(session, f"{command.where}: `{command.text}`", words, shown)

    def handle(
        self, session: Journey, where: str, words: list[str], shown: tuple[str, ...]
    ) -> bool:
        """Do the command; False lets the journey treat it as usual."""
        raise NotImplementedError


@dataclass
class Journey:
    """A shell session in a temporary directory, driven by a page's steps."""

    root: Path
    wheel: Path
    ports: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    prefer: tuple[str, ...] = ()
    handlers: dict[str, Handler] = field(default_factory=dict)
    #: Called after each command the journey ran to completion, with its words and result.
    after: Callable[[Journey, list[str], subprocess.CompletedProcess[str]], None] | None = None
    cwd: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    servers: dict[str, Server] = field(default_factory=dict)
    finished: list[Server] = field(default_factory=list)
    stopped: list[tuple[str, int]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)
    not_executed: list[str] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cwd = self.root
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "DJANGO_SETTINGS_MODULE"}
            and not key.startswith(("PYTEST", "DJANGO_", "CELERY_", "GUNICORN", "UVICORN"))
            and key not in {"WEB_CONCURRENCY", "PORT", "FORWARDED_ALLOW_IPS"}
        }
        ours = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != ours)
        xdg = self.root / "xdg-runtime"
        xdg.mkdir(mode=0o700, parents=True, exist_ok=True)
        env.update(XDG_RUNTIME_DIR=str(xdg), PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.env = env

    # -- helpers

    def sub(self, text: str) -> str:
        """The page's addresses made safe: 0.0.0.0 -> 127.0.0.1, page ports -> free ports,
        and the server paths the test maps (``/srv/mysite`` -> the project) moved."""
        for old in sorted(self.paths, key=len, reverse=True):
            text = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w.-])", self.paths[old], text)
        text = text.replace("0.0.0.0", "127.0.0.1")
        for old, new in self.ports.items():
            text = re.sub(rf"(?<![\d.]){old}(?!\d)", new, text)
        return text

    def log(self, line: str) -> None:
        self.transcript.append(line)

    def skipped(self, what: str, why: str) -> None:
        self.not_executed.append(f"{what}: {why}")
        self.log(f"# not executed: {what} ({why})")

    def shell_words(self, script: str, where: str) -> list[str]:
        """The NUL-separated words ``script`` prints, run by the shell of the session."""
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, f"{where}: {result.stderr}"
        return result.stdout.rstrip("\0").split("\0")

    def bash(
        self, command: str, *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        self.log(f"$ {command}")
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd or self.cwd,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=240,
            stdin=subprocess.DEVNULL,
        )
        self.log((result.stdout + result.stderr)[-2000:])
        return result

    # -- following pages

    def follow(self, page: Path, until: str | None = None) -> None:
        """Do every step of ``page`` (after the page it continues from, if any), up to the
        heading ``until`` if given."""
        previous = continues(page)
        if previous is not None and previous[0] not in self.pages:
            self.follow(*previous)
        self.pages.append(page)
        for old in sorted(page_ports(page)):
            self.ports.setdefault(old, str(free_port()))
        sections = section_texts(page)
        for step in steps(page, self.prefer):
            if step.kind == "heading" and self.servers:
                ended = [text for start, end, text in sections if start < step.offset <= end]
                if ended and CTRL_C.search(ended[-1]):
                    self.interrupt(f"{docs_blocks.rel(page)}: end of a section asking for Ctrl+C")
            if step.kind == "heading" and step.where == until:
                return
            self.do(step)
        if self.servers and CTRL_C.search(docs_blocks.read(page)):
            self.interrupt(f"{docs_blocks.rel(page)}: end of the page")

    def do(self, step: Step) -> None:
        if step.kind == "heading":
            return
        if step.skip:
            self.skipped(step.where, step.skip)
            return
        if step.kind == "include":
            assert step.target, f"{step.where}: the page does not say where this file goes"
            assert step.include is not None and step.include.is_file(), step.where
            self.write(step.target, step.include.read_text(), append=False)
            return
        block = step.block
        assert block is not None
        if step.target and step.target.startswith("log:"):
            # Lines the page says a running process logs (a worker running a task).
            name = step.target.removeprefix("log:")
            assert name in self.servers, f"{step.where}: no process {name!r} is running"
            lines = tuple(self.sub(line) for line in block.source.splitlines() if line.strip())
            self.wait_for_log(self.servers[name], lines)
        elif step.target:
            self.write(step.target, block.source, append=step.append)
        elif block.is_python:
            self.write(str(SETTINGS), block.source, append=True)
        elif block.language in docs_blocks.SHELL_LANGUAGES:
            self.shell_block(block)
        else:
            return  # an illustration: the page does not ask for a file
        self.executed.append(block.where)

    def write(self, target: str, source: str, *, append: bool) -> None:
        path = self.cwd / self.sub(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        source = self.sub(source)
        if append and path.exists() and path.stat().st_size:
            separator = "\n---\n" if path.suffix in {".yaml", ".yml"} else "\n\n\n"
            source = path.read_text().rstrip("\n") + separator + source
        if path.suffix == ".txt":
            # The package comes from the wheel of this checkout (as `pip install` does here;
            # PyPI's "django-prodserver" is another project).
            source = "\n".join(
                self.install_target(["install", line.strip()])[1] if line.strip() else line
                for line in source.splitlines()
            )
        path.write_text(source if source.endswith("\n") else source + "\n")
        self.log(f"# {'added to' if append else 'wrote'} {target}")

    def shell_block(self, block: docs_blocks.Block) -> None:
        commands = list(docs_blocks.commands(block))
        if not commands and block.source.strip() and block.language == "console":
            # Output with no command: the log of a server being stopped (Ctrl+C).
            self.interrupt(block.where, tuple(self.sub(block.source).splitlines()))
        for command in commands:
            self.command(command)

    def command(self, command: docs_blocks.Command) -> None:
        text = self.sub(command.text)
        words = shlex.split(text)
        shown = tuple(self.sub(line) for line in command.output)
        where = f"{command.where}: `{command.text}`"
        if words[0] == "sudo":
            # Root on a server: the journey runs as the user it is (and can be no other).
            user = words[words.index("-u") + 1] if "-u" in words else None
            words = words[words.index("-u") + 2 :] if user else words[1:]
            if user:
                self.deviations.append(f"{where}: run as the test's user, not as {user!r}")
        program = words[0]
        if program == "uv":
            return  # a "uv" tab repeats the "pip" tab beside it (only one tab is followed)
        handler = self.handlers.get(program)
        if handler is not None and handler(self, command, words, shown):
            return
        if program in NOT_EXECUTABLE:
            self.skipped(where, NOT_EXECUTABLE[program])
            return
        if program in {"mkdir", "cd", "touch", "source", ".", "export", "chmod"}:
            self.log(f"$ {text}")
        if program == "mkdir":
            for name in words[1:]:
                if not name.startswith("-"):
                    (self.cwd / name).mkdir(parents="-p" in words, exist_ok="-p" in words)
        elif program == "cd":
            self.cwd = (self.cwd / words[1]).resolve()
        elif program == "touch":
            for name in words[1:]:
                (self.cwd / name).touch()
        elif program in {"source", "."}:
            venv = (self.cwd / words[1]).resolve().parent.parent
            self.env["VIRTUAL_ENV"] = str(venv)
            self.env["PATH"] = os.pathsep.join([str(venv / "bin"), self.env["PATH"]])
        elif program == "export":
            # The shell expands the value (``$(...)`` included); its environment is kept.
            items = self.shell_words(f"{command.text} && env -0", where)
            self.env = dict(item.split("=", 1) for item in items if "=" in item)
        elif program == "chmod":
            mode, *names = words[1:]
            for name in names:
                (self.cwd / name).chmod(int(mode, 8))
        elif program == "curl":
            self.curl(words, shown, where)
        elif self.is_start(words, shown):
            self.start(words, shown, where)
        else:
            result = self.bash(shlex.join(self.install_target(words)))
            self.finish(result, shown, where)
            if self.after is not None:
                self.after(self, words, result)

    @staticmethod
    def is_start(words: list[str], shown: tuple[str, ...]) -> bool:
        argv = docs_blocks.prodserver_argv(shlex.join(words))
        if argv is None:
            return False
        own = argv[: argv.index("--")] if "--" in argv else argv
        if PRODSERVER_OWN & set(own):
            return False
        return not (shown and shown[0].startswith(("ProdserverError", "CommandError")))

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
        # The page's 0.0.0.0 became 127.0.0.1 in what was run; the same goes for what it
        # printed (``PORT`` binds 0.0.0.0 by itself).
        output = (result.stdout + result.stderr).replace("0.0.0.0", "127.0.0.1").splitlines()
        shows_error = any(line.startswith(("ProdserverError", "CommandError")) for line in shown)
        if shows_error:
            assert result.returncode != 0, f"{where}: the page shows an error, the command passed"
        else:
            assert result.returncode == 0, f"{where}: exit {result.returncode}:\n" + "\n".join(
                output[-30:]
            )
        missing = [line for line in shown if line not in output]
        assert missing == [], f"{where}: shown but not printed: {missing}; it printed:\n" + (
            "\n".join(output)
        )

    # -- long-running processes

    def start(
        self,
        words: list[str],
        shown: tuple[str, ...],
        where: str,
        *,
        name: str | None = None,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        expected_status: int = 0,
        ready: list[str] | None = None,
    ) -> Server:
        if name is None:
            args = docs_blocks.prodserver_argv(shlex.join(words)) or []
            name = next((word for word in args if not word.startswith("-")), "(first)")
        if name in self.servers:
            self.interrupt(f"{where}: started again", names=[name])
        log = self.root / f"server-{len(self.stopped)}-{len(self.servers)}.log"
        self.log(f"$ {shlex.join(words)} &")
        with log.open("w") as file:
            proc = subprocess.Popen(
                argv or ["bash", "-c", f"exec {shlex.join(words)}"],
                cwd=cwd or self.cwd,
                env={**(env or self.env), "PYTHONUNBUFFERED": "1"},
                stdout=file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
        server = Server(name, proc, log, where, shown, expected_status)
        self.servers[name] = server
        self.wait_until_ready(server, ready or words, env=env, cwd=cwd)
        return server

    def wait_until_ready(
        self,
        server: Server,
        words: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Wait as a reader does before the next step: until the server answers on its
        address (from the same command with ``--dry-run``), or a worker logs that it is ready.
        """
        argv = docs_blocks.prodserver_argv(shlex.join(words))
        if argv is None:
            return
        cut = argv.index("--") if "--" in argv else len(argv)
        dry_run = [*words[: len(words) - len(argv)], *argv[:cut], "--dry-run", *argv[cut:]]
        result = self.bash(shlex.join(dry_run), env=env or self.env, cwd=cwd)
        native = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        server.native = native
        port = re.search(r"--(?:bind|listen)=[\w.]+:(\d+)|--port=(\d+)", native)
        if port:
            url = f"http://127.0.0.1:{port.group(1) or port.group(2)}/"
            wait_for_http(url, server.proc, timeout=90)
            settle(server.proc)
            return
        for program, ready in READY.items():
            if program in native:
                deadline = time.monotonic() + 90
                while not re.search(ready, server.output()):
                    assert server.proc.poll() is None and time.monotonic() < deadline, (
                        f"{server.command}: never logged {ready!r}:\n{server.output()[-3000:]}"
                    )
                    time.sleep(0.1)
                return

    def wait_for_log(self, server: Server, lines: tuple[str, ...], timeout: float = 90) -> None:
        """Wait until every line is in the server's log (masked), or fail with the log."""
        deadline = time.monotonic() + timeout
        while True:
            logged = {masked(line) for line in server.output().splitlines()}
            missing = [line for line in lines if masked(line) not in logged]
            if not missing or server.proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert missing == [], f"{server.command}: log lines not seen: {missing}\n{server.output()}"

    def curl(self, words: list[str], shown: tuple[str, ...], where: str) -> None:
        url = next(word for word in words if word.startswith(("http://", "https://")))
        assert urlsplit(url).hostname in {"127.0.0.1", "localhost"}, f"{where}: not local"
        running = [server.proc for server in self.servers.values()]
        assert running, f"{where}: no server is running"
        wait_for_http(url, running[-1], timeout=90)
        result = self.bash(shlex.join(words))
        self.finish(result, shown, where)
        self.answered.append(result.stdout.strip())

    def interrupt(
        self,
        where: str,
        shown: tuple[str, ...] = (),
        names: list[str] | None = None,
    ) -> None:
        """Ctrl+C in the servers' terminals: SIGINT to each process group."""
        for name in names or list(self.servers):
            self.stop(name, where, signal.SIGINT, shown)

    def stop(
        self,
        name: str,
        where: str,
        sig: int = signal.SIGTERM,
        shown: tuple[str, ...] = (),
        *,
        group: bool = True,
        timeout: float = 60,
        send: Callable[[int], None] | None = None,
    ) -> int:
        """Stop one server and check how it ended: status, and the log lines the page shows."""
        server = self.servers.pop(name)
        expected = server.expected_status
        if sig == signal.SIGINT and re.match(r"celery \S+ worker\b", server.native):
            expected = 1  # Celery's own exit status after Ctrl+C (docs/backends/celery.md)
        assert server.proc.poll() is None, (
            f"{server.command}: exited with {server.proc.returncode} before the page stopped it:"
            f"\n{server.output()[-3000:]}"
        )
        try:
            self.wait_for_log(server, server.shown[1:] if server.shown else ())
        except AssertionError:
            kill_tree(server.proc.pid)  # no longer in self.servers: cleanup() would miss it
            raise
        send = send or server.send
        if send is not None:
            send(sig)  # e.g. to PID 1 of a container, a child of the process started
        elif group:
            os.killpg(server.proc.pid, sig)
        else:
            server.proc.send_signal(sig)
        try:
            status = server.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{where}: {name} did not stop within {timeout:.0f} s of "
                f"{signal.Signals(sig).name}:\n{server.output()[-3000:]}"
            ) from None
        finally:
            kill_tree(server.proc.pid)
        self.stopped.append((name, status))
        self.finished.append(server)
        output = server.output()
        self.log(output[-3000:])
        assert status == expected, f"{where}: {name} exited with {status}:\n{output[-3000:]}"
        lines = output.splitlines()
        if server.shown and server.shown[0].startswith("prodserver: starting"):
            # prodserver's own line is exact; the rest is the server's log, masked.
            assert server.shown[0] in lines, (
                f"{server.command}: {server.shown[0]!r} not in {output}"
            )
        logged = {masked(line) for line in lines}
        missing = [line for line in shown if masked(line) not in logged]
        assert missing == [], f"{where}: log lines not seen: {missing}\n{output}"
        return status

    def stop_all(self, where: str) -> None:
        """The end of the page: SIGTERM to each process still running, as a supervisor does."""
        for name in list(self.servers):
            self.stop(name, where, signal.SIGTERM, group=False)

    def cleanup(self) -> None:
        for server in self.servers.values():
            kill_tree(server.proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.proc.wait(timeout=10)
        self.servers.clear()

    def report(self) -> str:
        lines = [f"pages: {', '.join(docs_blocks.rel(p) for p in self.pages)}"]
        lines.append(f"blocks executed: {len(self.executed)}")
        lines += [f"not executed: {line}" for line in self.not_executed]
        lines += [f"executed differently: {line}" for line in self.deviations]
        return "\n".join(lines)


def settle(proc: subprocess.Popen[str], timeout: float = 30) -> None:
    """Wait until ``proc`` and its workers have finished starting: no CPU time spent by the
    whole tree for a while. A reader reads on for seconds before the next step; a journey
    does not, and a file the page then changes (``settings.py``) must not reach a worker that
    is still importing the project (each worker imports it itself, as natively)."""
    deadline = time.monotonic() + timeout

    def used() -> float:
        total = 0.0
        for process in [psutil.Process(proc.pid), *descendants(proc.pid)]:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    before = used()
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        now = used()
        if now - before < 0.02:
            return
        before = now


@contextlib.contextmanager
def explained(journey: Journey) -> Iterator[None]:
    """On failure, show the session so far after the assertion message."""
    try:
        yield
    except AssertionError as exc:
        transcript = "\n".join(journey.transcript[-80:])
        raise AssertionError(f"{exc}\n\n--- session so far ---\n{transcript}") from None
