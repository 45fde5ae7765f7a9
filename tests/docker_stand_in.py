"""What ``docker build`` / ``docker run`` / ``docker stop`` do with the Docker guide's files, on a
machine without a Docker engine (only the client is installed here).

Build: each Dockerfile instruction is carried out on a directory that stands for the image's
file system: ``FROM python:...`` becomes a fresh virtualenv of this machine's Python at
``/usr/local`` (the official image's Python lives there); ``ENV``, ``WORKDIR``, ``COPY`` (with
``.dockerignore``, ``--from=STAGE`` and ``--chmod``) and ``RUN`` are done for real, with the
image's absolute paths moved below that directory; ``ENTRYPOINT``, ``CMD``, ``HEALTHCHECK`` and
``STOPSIGNAL`` are kept for ``run``. Not carried out, and reported: pulling the base image,
``apt-get`` (it would change this machine's packages), ``useradd`` and ``USER`` (they would add
and switch to a user of this machine).

Run: the container's command (``ENTRYPOINT`` + ``CMD``, or the arguments after the image name)
runs as PID 1 of a new PID namespace (``unshare --pid --fork``), as in a container, in the
image's working directory with the image's environment plus ``--env``/``--env-file``. A server
container is ready when its published port answers; the image's ``HEALTHCHECK`` command then
runs in the container's environment and must pass. ``docker stop`` sends ``STOPSIGNAL`` to PID 1
and waits the stop timeout; the container must exit with status 0 within it. There is no
network namespace: the server listens on this machine's loopback (at the journey's free port
for the page's port), so two running containers cannot publish the same port, as with Docker.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

import docs_blocks
from journey import Journey, Server, StandIn

# The image's own directories that the guide's Dockerfiles use (the rest is this machine's).
IMAGE_PATHS = ("usr/local", "app", "venv", "build")


@dataclass
class Image:
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] | None = None
    stopsignal: str = "SIGTERM"

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def move(self, text: str) -> str:
        """The image's absolute paths in ``text``, moved below the image's directory."""
        for top in IMAGE_PATHS:
            text = re.sub(
                rf"(?<![\w.-])/{re.escape(top)}(?=[/\s:\"']|$)", f"{self.root}/{top}", text
            )
        return text


@dataclass
class Container:
    name: str
    image: Image
    server: Server | None
    ports: list[str]
    stop_timeout: float
    remove: bool
    detached: bool
    status: int | None = None


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


@dataclass
class Docker(StandIn):
    """The ``docker`` handler of a journey."""

    base: Path
    images: dict[str, Image] = field(default_factory=dict)
    containers: dict[str, Container] = field(default_factory=dict)
    built: int = 0

    # -- build

    def build(self, session: Journey, words: list[str], where: str) -> None:
        tag = words[words.index("--tag") + 1]
        target = words[words.index("--target") + 1] if "--target" in words else None
        context = session.cwd / words[-1]
        dockerfile = (context / "Dockerfile").read_text()
        ignore = [
            line.strip()
            for line in (context / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        self.built += 1
        stages: dict[str, Image] = {}
        image: Image | None = None
        for line in logical_lines(dockerfile):
            instruction, _, rest = line.partition(" ")
            instruction = instruction.upper()
            if instruction == "FROM":
                base, _, name = rest.partition(" AS ")
                if target is not None and target in stages:
                    break  # the target stage is complete
                if base.strip() in stages:
                    # A stage built on another goes on in its directory (one target per build).
                    image = stages[base.strip()]
                else:
                    image = self.base_image(session, base.strip(), len(stages), where)
                stages[name.strip() or str(len(stages))] = image
                continue
            assert image is not None, f"{where}: {instruction} before FROM"
            if instruction == "ENV":
                for item in shlex.split(rest):
                    key, _, value = item.partition("=")
                    known = dict(image.env)
                    image.env[key] = re.sub(
                        r"\$(\w+)|\$\{(\w+)\}",
                        lambda m, known=known: known.get(m[1] or m[2], ""),  # type: ignore[misc]
                        image.move(value),
                    )
            elif instruction == "WORKDIR":
                image.workdir = rest.strip()
                image.path(image.workdir).mkdir(parents=True, exist_ok=True)
            elif instruction == "COPY":
                self.copy(session, image, stages, context, ignore, shlex.split(rest))
            elif instruction == "RUN":
                self.run_step(session, image, rest, where)
            elif instruction in {"USER"}:
                session.skipped(
                    f"{where}: USER {rest}", "would switch to a user this machine lacks"
                )
            elif instruction in {"ENTRYPOINT", "CMD"}:
                value = json.loads(rest)
                setattr(image, instruction.lower(), value)
            elif instruction == "HEALTHCHECK":
                image.healthcheck = json.loads(rest[rest.index("CMD ") + 4 :])
            elif instruction == "STOPSIGNAL":
                image.stopsignal = rest.strip()
            elif instruction != "EXPOSE":
                raise AssertionError(f"{where}: the stand-in does not know {instruction}")
        assert image is not None
        self.images[tag] = image
        session.log(f"# built {tag} in {image.root}")

    def base_image(self, session: Journey, name: str, index: int, where: str) -> Image:
        assert re.match(r"python:3\.\d+-slim", name), f"{where}: unexpected base image {name}"
        root = self.base / f"image-{self.built}-{index}"
        (root / "usr").mkdir(parents=True)
        subprocess.run(
            [sys.executable, "-m", "venv", str(root / "usr/local")],
            check=True,
            capture_output=True,
        )
        session.skipped(
            f"{where}: FROM {name}",
            "no image pulled: this machine's Python in a fresh virtualenv at /usr/local",
        )
        path = f"{root}/usr/local/bin:/usr/bin:/bin"
        return Image(root, env={"PATH": path, "HOME": str(root)})

    def copy(
        self,
        session: Journey,
        image: Image,
        stages: dict[str, Image],
        context: Path,
        ignore: list[str],
        words: list[str],
    ) -> None:
        options = [word for word in words if word.startswith("--")]
        *sources, target = [word for word in words if not word.startswith("--")]
        source_image = next(
            (stages[o.split("=", 1)[1]] for o in options if o.startswith("--from=")), None
        )
        destination = image.path(target if target.startswith("/") else f"{image.workdir}/{target}")
        for source in sources:
            origin = source_image.path(source) if source_image else context / source
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    destination,
                    symlinks=True,
                    dirs_exist_ok=True,
                    ignore=None if source_image else self.ignored(context, ignore),
                )
            else:
                if target.endswith("/") or destination.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    destination = destination / origin.name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)
            for option in options:
                if option.startswith("--chmod="):
                    destination.chmod(int(option.split("=", 1)[1], 8))

    @staticmethod
    def ignored(context: Path, patterns: list[str]):  # type: ignore[no-untyped-def]
        def ignore(directory: str, names: list[str]) -> set[str]:
            relative = Path(directory).relative_to(context)
            return {
                name
                for name in names
                if any(
                    fnmatch.fnmatch((relative / name).as_posix().lstrip("./"), p)
                    or fnmatch.fnmatch(name, p)
                    for p in patterns
                )
            }

        return ignore

    def run_step(self, session: Journey, image: Image, command: str, where: str) -> None:
        parts = [part.strip() for part in command.split("&&")]
        kept = []
        for part in parts:
            program = shlex.split(part)[0]
            if program in {"apt-get", "rm"} or "apt-get" in command:
                session.skipped(f"{where}: RUN {part}", "would change this machine's packages")
            elif program == "useradd":
                session.skipped(f"{where}: RUN {part}", "would add a user to this machine")
            else:
                kept.append(image.move(part))
        if not kept:
            return
        result = session.bash(
            " && ".join(kept), env=self.environment(image), cwd=image.path(image.workdir)
        )
        assert result.returncode == 0, f"{where}: RUN {command}:\n{result.stdout}{result.stderr}"

    @staticmethod
    def environment(image: Image, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"LANG": "C.UTF-8", **image.env, **(extra or {})}

    # -- run and stop

    def run(self, session: Journey, words: list[str], shown: tuple[str, ...], where: str) -> None:
        options = {"env": [], "env-file": [], "publish": []}  # type: dict[str, list[str]]
        flags: set[str] = set()
        i = 2
        while words[i].startswith("-"):
            name = words[i].lstrip("-")
            if name in {"rm", "detach", "d", "init", "no-healthcheck"}:
                flags.add(name)
                i += 1
            else:
                options.setdefault(name, []).append(words[i + 1])
                i += 2
        image = self.images[words[i]]
        command = words[i + 1 :] or image.cmd
        env: dict[str, str] = {}
        for env_file in options["env-file"]:
            for line in (session.cwd / env_file).read_text().splitlines():
                if "=" in line and not line.startswith("#"):
                    key, _, value = line.partition("=")
                    env[key.strip()] = value.strip()
        env |= dict(item.split("=", 1) for item in options["env"])
        env = self.environment(image, env)
        name = (options.get("name") or [f"container-{len(self.containers)}"])[-1]
        old = self.containers.get(name)
        assert old is None or (old.server is None and old.remove), (
            f'{where}: Docker refuses: the container name "{name}" is already in use'
        )
        ports = [mapping.split(":")[0] for mapping in options["publish"]]
        for other in list(self.containers.values()):
            if other.server is None or not set(other.ports) & set(ports):
                continue
            assert not other.detached, f"{where}: port {ports} is already allocated by {other.name}"
            self.stop(session, other.name, where, signal.SIGINT)  # Ctrl+C in its terminal
        container = Container(
            name,
            image,
            None,
            ports,
            float((options.get("stop-timeout") or ["10"])[-1]),
            "rm" in flags,
            "detach" in flags or "d" in flags,
        )
        self.launch(session, container, command, env, shown, where)
        if container.server and image.healthcheck and "no-healthcheck" not in flags:
            check = [session.sub(image.move(word)) for word in image.healthcheck]
            result = session.bash(shlex.join(check), env=env, cwd=image.path(image.workdir))
            assert result.returncode == 0, f"{where}: HEALTHCHECK failed:\n{result.stderr}"
            session.log(f"# HEALTHCHECK of {name}: healthy")

    def launch(
        self,
        session: Journey,
        container: Container,
        command: list[str],
        env: dict[str, str],
        shown: tuple[str, ...],
        where: str,
    ) -> None:
        """Run the container's command as PID 1: to completion, or a server in the background."""
        image = container.image
        argv = [*image.entrypoint, *command]
        program = shutil.which(argv[0], path=env["PATH"])
        assert program, f"{where}: {argv[0]} is not on the image's PATH"
        workdir = image.path(image.workdir)
        wrapped = ["unshare", "--pid", "--fork", "--kill-child", program, *argv[1:]]
        self.containers[container.name] = container
        prodserver = docs_blocks.prodserver_argv(shlex.join(command))
        if prodserver is None or not Journey.is_start(command, shown):
            result = session.bash(shlex.join(wrapped), env=env, cwd=workdir)
            session.finish(result, shown, where)
            container.status = result.returncode
            return
        server = session.start(
            wrapped,
            shown,
            where,
            name=f"container {container.name}",
            argv=wrapped,
            env=env,
            cwd=workdir,
            ready=command,
        )
        container.server = server
        pid_1 = self.pid_1(server)
        server.send = pid_1.send_signal
        assert pid_1.name().startswith("python"), (
            f"{where}: PID 1 of the container is {pid_1.name()}, not the server: "
            "the stop signal would not reach it"
        )

    @staticmethod
    def pid_1(server: Server) -> psutil.Process:
        (child,) = psutil.Process(server.proc.pid).children()
        return child

    def stop(self, session: Journey, name: str, where: str, sig: int | None = None) -> None:
        container = self.containers[name]
        assert container.server is not None, f"{where}: {name} is not running"
        stopsignal = sig or getattr(signal, container.image.stopsignal)
        # Docker: the stop signal to PID 1, then SIGKILL after the stop timeout. The container
        # must be gone by then, with status 0 (checked by Journey.stop).
        status = session.stop(
            container.server.name,
            where,
            stopsignal,
            timeout=container.stop_timeout,
        )
        container.server = None
        container.status = status
        if container.remove:
            del self.containers[name]

    def handle(
        self, session: Journey, where: str, words: list[str], shown: tuple[str, ...]
    ) -> bool:
        verb = words[1]
        if verb == "build":
            self.build(session, words, where)
        elif verb == "run":
            self.run(session, words, shown, where)
        elif verb == "stop":
            timeout = words[words.index("--timeout") + 1] if "--timeout" in words else None
            name = words[-1]
            if timeout:
                self.containers[name].stop_timeout = float(timeout)
            self.stop(session, name, where)
        else:
            return False
        session.executed.append(where)
        return True

    def cleanup(self) -> None:
        for container in self.containers.values():
            if container.server is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.server.proc.pid, signal.SIGKILL)
