"""Every guide, followed from top to bottom in a fresh project and virtualenv (issue 11).

Each test hands one page to ``journey.Journey`` (see its docstring for how a page is read and
run), then checks what the page says happens beyond the output it shows: the curl answers,
the worker that runs the task beat scheduled, the same answers from every server. The wheel
of this checkout is built once per session; every journey makes its own virtualenv and
installs the wheel with the extras its page names. ``-s`` shows each journey's report: the
blocks executed, the steps not executed here and why, and the wall time.
"""

from __future__ import annotations

import http.client
import re
import shlex
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import docs_blocks
import journey
from conftest import RedisServer, http_get
from docker_stand_in import Docker
from journey import Journey, StandIn
from kubectl_stand_in import Kubectl

pytestmark = [pytest.mark.slow, pytest.mark.server]

DOCS = docs_blocks.docs_root()


@pytest.fixture
def make_journey(wheel: Path, tmp_path: Path) -> Iterator[type[Journey]]:
    made: list[Journey] = []
    started = time.monotonic()

    def make(**kwargs: object) -> Journey:
        found = Journey(tmp_path / f"journey-{len(made)}", wheel, **kwargs)  # type: ignore[arg-type]
        made.append(found)
        return found

    try:
        yield make  # type: ignore[misc]
    finally:
        for item in made:
            item.cleanup()
            print(f"\n{item.report()}")
        print(f"journey wall time: {time.monotonic() - started:.1f} s")


def walk(session: Journey, *pages: str) -> None:
    with journey.explained(session):
        for page in pages:
            session.follow(DOCS / page)
        session.stop_all("end of the page")


# -- installation, quickstart, custom backend ----------------------------------------------


@pytest.mark.timeout(240)
@pytest.mark.parametrize("tab", ["wsgi", "asgi"])
def test_installation_first_server(make_journey: type[Journey], tab: str) -> None:
    """The installation page's steps, with the WSGI or the ASGI tab of its last step.

    The page ends with a ``--dry-run`` (its output compared); starting the server is the
    quickstart's, so nothing is started here.
    """
    session = make_journey(prefer=("posix", "pip", tab))
    walk(session, "installation.md")
    assert session.stopped == []
    assert any(where.startswith("installation.md") for where in session.executed)


@pytest.mark.timeout(240)
def test_quickstart_and_custom_backend(make_journey: type[Journey]) -> None:
    """The quickstart, then the custom-backend guide in its project (as that guide says)."""
    session = make_journey(prefer=("pip", "posix"))
    walk(session, "guides/quickstart.md")
    assert session.answered == ["200"], "the quickstart's curl must get 200 from its server"
    assert session.stopped == [("web", 0)]
    walk(session, "guides/custom-backend.md")
    assert session.answered == ["200", "200"], "the wsgiref server must answer 200"
    assert [status for _, status in session.stopped] == [0, 0]


# -- environment-configs --------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_environment_configs(make_journey: type[Journey]) -> None:
    """Both approaches, each with the environment variables the page exports."""
    session = make_journey(prefer=("pip", "posix"))
    walk(session, "guides/environment-configs.md")
    started = [name for name, _ in session.stopped]
    # The quickstart's web, approach 1 on staging values, approach 2 with production settings.
    assert started == ["web", "web", "web"], started


# -- multi-process --------------------------------------------------------------------------

REGISTERED = re.compile(r"^\[tasks\]\n((?:\s+\. \S+\n)+)", re.MULTILINE)


def beat_schedule_tasks(page: Path) -> list[str]:
    """The task names of the page's CELERY_BEAT_SCHEDULE."""
    for block in docs_blocks.blocks(page):
        if block.is_python and "CELERY_BEAT_SCHEDULE" in block.source:
            schedule = docs_blocks.run_block(block)["CELERY_BEAT_SCHEDULE"]
            return [entry["task"] for entry in schedule.values()]
    raise AssertionError(f"{docs_blocks.rel(page)} shows no CELERY_BEAT_SCHEDULE")


@pytest.mark.timeout(600)
def test_multi_process(make_journey: type[Journey], redis_server: RedisServer) -> None:
    """Web + worker + beat on a real redis-server, then Django Tasks, then Django-Q2.

    Beyond the log lines the page shows (the heartbeat that beat sends and a worker runs, the
    e-mail each queue's worker prints), every task the schedule names must be one the worker
    registered: a name the worker does not know would arrive as an unregistered task.
    """
    session = make_journey(prefer=("pip", "posix"), ports={"6379": str(redis_server.port)})
    walk(session, "guides/multi-process.md")
    workers = [
        server.output()
        for server in session.finished
        if "Task shop.tasks.heartbeat[" in server.output() and "succeeded" in server.output()
    ]
    assert workers, "no worker ran the heartbeat that beat scheduled"
    registered = REGISTERED.search(workers[-1])
    assert registered, workers[-1]
    names = {line.strip().removeprefix(". ") for line in registered.group(1).splitlines()}
    scheduled = beat_schedule_tasks(DOCS / "guides" / "multi-process.md")
    missing = [name for name in scheduled if name not in names]
    assert missing == [], f"beat schedules tasks the worker does not have: {missing} ({names})"
    assert "Received unregistered task" not in "".join(s.output() for s in session.finished)


# -- systemd --------------------------------------------------------------------------------


def unit_file(path: Path) -> dict[str, str]:
    """The [Service] directives of a unit file (the last value of each key)."""
    service: dict[str, str] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            service[key.strip()] = value.strip()
    return service


def environment_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {key: value for key, value in pairs if key and not key.startswith("#")}


class Systemd(StandIn):
    """What ``systemctl`` does with the page's units, without systemd (not PID 1 here).

    ``start`` runs ``ExecStart=`` in ``WorkingDirectory=`` with only ``EnvironmentFile=`` and a
    plain PATH (a service does not inherit a login shell's environment), after creating
    ``RuntimeDirectory=``/``StateDirectory=``; ``stop`` sends ``KillSignal=`` to the main
    process only (``KillMode=mixed``) and waits ``TimeoutStopSec=``; ``reload`` runs the
    signal of ``ExecReload=`` on the main process. ``User=`` and sandboxing are not applied.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reloaded: list[str] = []
        self.sockets: dict[str, int] = {}  # socket path -> permission bits, at start

    def unit(self, session: Journey, name: str) -> dict[str, str]:
        path = Path(session.sub(f"/etc/systemd/system/{name}.service"))
        assert path.is_file(), f"no unit {name}.service was written"
        return unit_file(path)

    def start(self, session: Journey, name: str, where: str) -> None:
        # What systemd would say about the unit when it loads it: any line means a directive
        # it ignores or refuses (``systemd-analyze verify`` exits 0 even then).
        path = session.sub(f"/etc/systemd/system/{name}.service")
        verified = subprocess.run(
            ["systemd-analyze", "verify", path], capture_output=True, text=True, timeout=60
        )
        printed = (verified.stdout + verified.stderr).strip()
        assert verified.returncode == 0 and printed == "", f"{where}: {name}.service:\n{printed}"
        service = self.unit(session, name)
        for key, base in (("RuntimeDirectory", "/run"), ("StateDirectory", "/var/lib")):
            if key in service:
                Path(session.sub(f"{base}/{service[key]}")).mkdir(parents=True, exist_ok=True)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        env |= {"LANG": "C.UTF-8", "HOME": str(self.root)}
        env |= environment_file(Path(service["EnvironmentFile"]))
        argv = shlex.split(service["ExecStart"])
        session.start(
            argv, (), where, name=name, argv=argv, env=env, cwd=Path(service["WorkingDirectory"])
        )
        if "RuntimeDirectory" in service:
            runtime = Path(session.sub(f"/run/{service['RuntimeDirectory']}"))
            for path in runtime.glob("*.sock"):
                self.sockets[str(path)] = stat.S_IMODE(path.stat().st_mode)

    def stop(self, session: Journey, name: str, where: str) -> None:
        service = self.unit(session, name)
        sig = getattr(signal, service.get("KillSignal", "SIGTERM"))
        assert service.get("KillMode") == "mixed", f"{name}: signal the main process only"
        timeout = float(service.get("TimeoutStopSec", "90"))
        session.stop(name, where, sig, group=False, timeout=timeout)

    def reload(self, session: Journey, name: str, where: str) -> None:
        service = self.unit(session, name)
        words = shlex.split(service["ExecReload"])
        assert words[0].endswith("kill") and words[-1] == "$MAINPID", service["ExecReload"]
        sig = getattr(signal, "SIG" + words[1].lstrip("-").removeprefix("SIG"))
        server = session.servers[name]
        server.proc.send_signal(sig)
        self.reloaded.append(name)
        session.log(f"# reload {name}: {sig.name} to {server.proc.pid}")

    def handle(
        self, session: Journey, where: str, words: list[str], shown: tuple[str, ...]
    ) -> bool:
        verb, *names = [word for word in words[1:] if not word.startswith("-")]
        if verb == "daemon-reload" or (names and names[0] == "nginx"):
            session.skipped(where, journey.NOT_EXECUTABLE["systemctl"])
            return True
        for name in names:
            if verb in {"enable", "start"}:
                assert verb == "start" or "--now" in words, where
                self.start(session, name, where)
            elif verb == "restart":
                self.stop(session, name, where)
                self.start(session, name, where)
            elif verb == "reload":
                self.reload(session, name, where)
            elif verb == "stop":
                self.stop(session, name, where)
            elif verb == "status":
                server = session.servers[name]
                assert server.proc.poll() is None, f"{where}: {name} is not running"
        return True


@pytest.mark.timeout(600)
def test_systemd(make_journey: type[Journey], redis_server: RedisServer, tmp_path: Path) -> None:
    """The systemd guide, its units run the way systemd would run them (see ``Systemd``)."""
    root = tmp_path / "server"
    systemd = Systemd(root)

    def not_a_clone(session: Journey, command: object, words: list[str], shown: object) -> bool:
        session.skipped(" ".join(words), "the project here is not a git clone; its code is current")
        return True

    session = make_journey(
        prefer=("pip", "posix"),
        ports={"6379": str(redis_server.port)},
        handlers={"systemctl": systemd, "git": not_a_clone},
    )
    project = session.root / "prodserver-quickstart" / "mysite"
    session.paths.update(
        {
            "/srv/mysite/.venv": str(session.root / "prodserver-quickstart" / ".venv"),
            "/srv/mysite": str(project),
            **{path: str(root / path.lstrip("/")) for path in SERVER_PATHS},
        }
    )
    walk(session, "guides/systemd.md")
    assert systemd.reloaded == ["mysite-web"]
    web = next(s for s in session.finished if s.name == "mysite-web")
    log = web.output()
    assert "Handling signal: hup" in log, log
    socket_path = root / "run" / "mysite" / "gunicorn.sock"
    # The page: Gunicorn creates the socket with mode 0777, so nginx's user can connect.
    assert systemd.sockets == {str(socket_path): 0o777}, systemd.sockets
    assert not socket_path.exists(), "Gunicorn removes its socket when it stops"
    started = [name for name, _ in session.stopped if name.startswith("mysite-")]
    # web: stopped at the end; worker and beat: restarted by the deploy, then stopped.
    assert sorted(started) == sorted(
        ["mysite-worker", "mysite-beat", "mysite-web", "mysite-worker", "mysite-beat"]
    )


SERVER_PATHS = (
    "/etc/mysite",
    "/etc/systemd/system",
    "/etc/nginx",
    "/run/mysite",
    "/var/lib/mysite",
)


# -- platforms ------------------------------------------------------------------------------


def procfile(path: Path) -> dict[str, str]:
    """``name: command`` lines of a Procfile, in order."""
    entries = (line.split(":", 1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): command.strip() for name, command in entries}


@pytest.mark.timeout(600)
def test_platforms(make_journey: type[Journey], redis_server: RedisServer) -> None:
    """The platform guide after the multi-process one, then its Procfile run as Heroku runs
    one: ``release`` first (it must succeed), then one process per line, each started by
    ``bash -c`` with ``PORT`` set (a platform sets it for every process; workers ignore it),
    and at the end ``SIGTERM`` to every process of each (its process group)."""
    session = make_journey(prefer=("pip", "posix"), ports={"6379": str(redis_server.port)})
    walk(session, "guides/platforms.md")
    lines = procfile(session.cwd / "Procfile")
    assert list(lines) == ["release", "web", "worker", "beat"], lines

    release = session.bash(lines["release"])
    assert release.returncode == 0, release.stdout + release.stderr
    ports = {name: journey.free_port() for name in ("web", "worker", "beat")}
    for name in ("web", "worker", "beat"):
        command = lines[name]
        session.start(
            shlex.split(command),
            (),
            f"Procfile {name}",
            name=name,
            argv=["bash", "-c", command],
            env={**session.env, "PORT": str(ports[name])},
        )
    web_log = session.servers["web"].output()
    assert f"--bind=0.0.0.0:{ports['web']} " in web_log, web_log
    assert 'prodserver: warmup of "web" passed' in web_log, web_log
    status, body = http_get(f"http://127.0.0.1:{ports['web']}/admin/login/")
    assert status == 200, body
    deadline = time.monotonic() + 60
    while not re.search(
        r"Task shop\.tasks\.heartbeat\[\S+\] succeeded", session.servers["worker"].output()
    ):
        assert time.monotonic() < deadline, session.servers["worker"].output()[-3000:]
        time.sleep(0.5)
    for name in ("web", "worker", "beat"):
        session.stop(name, f"Procfile {name}: the platform stops the process", group=True)
    worker_log = [s for s in session.finished if s.name == "worker"][-1].output()
    assert "Cold shutdown" in worker_log, worker_log


# -- backend-switching ----------------------------------------------------------------------

COMPARED_URLS = ("/", "/admin/", "/admin/login/", "/static/admin/css/base.css")
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def answers(port: str) -> list[tuple[int, str, str, str]]:
    """(status, content type, location, body) for each compared URL, without redirects."""
    found = []
    for url in COMPARED_URLS:
        connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=15)
        connection.request("GET", url, headers={"Host": "localhost"})
        response = connection.getresponse()
        body = CSRF_TOKEN.sub('name="csrfmiddlewaretoken" value="..."', response.read().decode())
        found.append(
            (
                response.status,
                response.getheader("Content-Type", ""),
                response.getheader("Location", ""),
                body,
            )
        )
        connection.close()
    return found


@pytest.mark.timeout(600)
def test_backend_switching(make_journey: type[Journey]) -> None:
    """Each configuration the page shows for a web process serves the same answers.

    After every ``--dry-run`` of a web process on the page (the configuration just added),
    that process is started as the page's own start command would, asked for the same URLs
    (a page, a redirect, the 404 of ``/``, a static file), and stopped with SIGTERM.
    """
    served: dict[str, list[tuple[int, str, str, str]]] = {}

    def try_it(session: Journey, words: list[str], result: object) -> None:
        argv = docs_blocks.prodserver_argv(shlex.join(words)) or []
        if "--dry-run" not in argv or not argv[0].startswith("web"):
            return
        native = session.bash(shlex.join(words)).stdout.strip()
        port = re.search(r"--(?:bind|listen)=[\w.]+:(\d+)|--port=(\d+)", native)
        assert port, native
        start = [word for word in words if word != "--dry-run"]
        session.start(start, (), f"(test) {native}", name=f"{argv[0]}: {native}")
        served[native] = answers(port.group(1) or port.group(2))
        session.stop(f"{argv[0]}: {native}", "(test) compared", signal.SIGTERM, group=False)

    session = make_journey(prefer=("pip", "posix"), after=try_it)
    walk(session, "guides/backend-switching.md")
    assert session.answered == ["200", "200"], "quickstart's curl, then the trial server's"
    programs = {native.split()[0] for native in served}
    assert programs == {"gunicorn", "uvicorn", "granian", "waitress-serve"}, sorted(served)
    first, *others = served.items()
    for native, found in others:
        for url, expected, actual in zip(COMPARED_URLS, first[1], found, strict=True):
            assert actual == expected, f"{url}: {first[0]} and {native} answer differently"
    print("\nsame answers from:\n" + "\n".join(served))


# -- docker-deployment ----------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_docker_deployment(make_journey: type[Journey], tmp_path: Path) -> None:
    """The Docker guide, its images built and run by the stand-in of ``docker_stand_in``."""
    docker = Docker(tmp_path / "docker")
    docker.base.mkdir()
    session = make_journey(prefer=("pip", "posix"), handlers={"docker": docker})
    try:
        walk(session, "guides/docker-deployment.md")
    finally:
        docker.cleanup()
    assert docker.built == 5, "simple, entrypoint, multi-stage, with /healthz/, split web image"
    assert {"mysite", "mysite-web"} <= set(docker.images)
    runs = [line for line in session.executed if "docker run" in line]
    assert len(runs) == 5, runs
    # Every server container stopped cleanly (Journey.stop checks the status).
    assert all(status == 0 for _, status in session.stopped)


# -- kubernetes -----------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_kubernetes(make_journey: type[Journey], tmp_path: Path) -> None:
    """The Kubernetes guide after the Docker guide: the image built, the Secret created, the
    migration Job run, the web pod probed and terminated as the kubelet does (see
    ``kubectl_stand_in``). The worker and beat pods are not run: this journey's image has no
    Celery set-up, which the page tells the reader to take from the multi-process guide."""
    docker = Docker(tmp_path / "docker")
    docker.base.mkdir()
    reason = "this journey's image has no Celery set-up (the page points to multi-process)"
    kubectl = Kubectl(docker, cannot_run={"mysite-worker": reason, "mysite-beat": reason})
    session = make_journey(prefer=("pip", "posix"), handlers={"docker": docker, "kubectl": kubectl})
    try:
        with journey.explained(session):
            previous = journey.continues(DOCS / "guides" / "kubernetes.md")
            assert previous is not None
            session.follow(*previous)
            # The cluster is not this machine: the Docker guide's containers do not run there.
            for name, container in list(docker.containers.items()):
                if container.server is not None:
                    docker.stop(session, name, "(test) before the cluster")
            session.follow(DOCS / "guides" / "kubernetes.md")
            assert kubectl.jobs == {"mysite-migrate-1-4-0": 0}
            assert sorted(kubectl.probed) == ["livenessProbe /healthz/", "readinessProbe /healthz/"]
            kubectl.terminate_all(session)
            session.stop_all("end of the page")
    finally:
        docker.cleanup()
    assert ("container pod mysite-web", 0) in session.stopped
