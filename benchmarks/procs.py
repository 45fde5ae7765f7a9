"""Starting, watching and stopping the processes a benchmark runs.

Each process starts in its own session, so everything it forks stays findable by session id
even after a parent dies; stopping kills that session and nothing else. The memory figure is
the resident set of the whole tree (main process plus every worker), summed.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

import psutil  # type: ignore[import-untyped, unused-ignore]


class BenchError(RuntimeError):
    """A measurement could not be taken (a server did not start, a tool failed)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(port: int, path: str = "/", timeout: float = 2.0) -> int:
    """GET ``path`` on 127.0.0.1; return the status, raise OSError when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Proc:
    """One started process and the session it leads."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self._members: dict[int, psutil.Process] = {}
        self._members_at = 0.0

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def session(self) -> list[psutil.Process]:
        """Every living process of this session (our process and all it started)."""
        found = []
        for proc in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
                if os.getsid(proc.pid) == self.pid:
                    found.append(proc)
        return found

    def tree_rss(self) -> int:
        """Resident memory of the whole tree in bytes (membership refreshed once a second)."""
        now = time.monotonic()
        if now - self._members_at > 1.0:
            self._members = {p.pid: p for p in self.session()}
            self._members_at = now
        total = 0
        for pid, proc in list(self._members.items()):
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                del self._members[pid]
        return total

    def process_rss(self) -> list[int]:
        """Resident memory of each living process of the session, in bytes."""
        sizes = []
        for proc in self.session():
            with contextlib.suppress(psutil.Error):
                sizes.append(proc.memory_info().rss)
        return sizes

    def tree_cpu(self) -> float:
        """CPU seconds (user + system) spent so far by the living processes of the tree."""
        total = 0.0
        for proc in self.session():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        return total

    def tree_pss(self) -> int:
        """Proportional set size of the whole tree: shared pages split between sharers.

        Unlike summed RSS this counts a page that forked workers share with their parent
        once in total, so it is the tree's real share of memory. Reading it is slow
        (``/proc/PID/smaps``), so it is sampled once, not continuously.
        """
        total = 0
        for proc in self.session():
            with contextlib.suppress(psutil.Error):
                total += proc.memory_full_info().pss
        return total

    def wait_http(self, port: int, path: str = "/", timeout: float = 60.0) -> float:
        """Poll until ``path`` answers 200; return the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise BenchError(
                    f"{self.argv[0]} exited with {self.popen.returncode} before answering:\n"
                    + self.log_tail()
                )
            try:
                status = http_status(port, path)
            except OSError:
                time.sleep(0.005)
                continue
            if status == 200:
                return time.monotonic()
            raise BenchError(f"GET {path} answered {status}, not 200:\n{self.log_tail()}")
        raise BenchError(f"no answer on port {port} within {timeout} s:\n{self.log_tail()}")

    def stop(self, *, graceful: bool = False, timeout: float = 10.0) -> None:
        """End the session: SIGTERM first when ``graceful``, SIGKILL whatever is left."""
        if graceful and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        leftovers = self.session()
        for proc in leftovers:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.popen.wait(timeout=timeout)
        _wait_dead(leftovers, timeout)


def _wait_dead(procs: Sequence[psutil.Process], timeout: float) -> None:
    """Wait until each process is gone or a zombie (dead; only its parent's reaping remains).

    Orphans are reaped by PID 1, which in a container may take its time; a zombie holds no
    port, memory or CPU, so waiting for the reaping would only slow the benchmark down.
    """
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        still = []
        for proc in pending:
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    still.append(proc)
        pending = still
        if pending:
            time.sleep(0.01)
    if pending:
        raise BenchError(f"processes {[p.pid for p in pending]} outlived SIGKILL")


class Sampler:
    """Call :meth:`sample` every ``interval`` seconds in a thread, inside a ``with`` block.

    Memory peaks come from sampling while the load runs: the load generator must not wait.
    """

    def __init__(self, procs: Mapping[str, Proc], interval: float) -> None:
        self.procs = dict(procs)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class RssSampler(Sampler):
    """The tree RSS of some processes; keeps each one's peak."""

    def __init__(self, procs: Mapping[str, Proc], interval: float = 0.1) -> None:
        super().__init__(procs, interval)
        self.peak = dict.fromkeys(self.procs, 0)

    def sample(self) -> None:
        for key, proc in self.procs.items():
            self.peak[key] = max(self.peak[key], proc.tree_rss())


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion and return its output; a failure becomes BenchError."""
    result = subprocess.run(
        list(argv),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited with {result.returncode}:\n{result.stderr[-2000:]}"
        )
    return result
