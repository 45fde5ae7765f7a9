"""Start-up: from process start to the first HTTP 200, prodserver (A) against native (B).

Each backend gets one free port and the native command that ``prodserver NAME --dry-run``
prints for it, so both sides run identical server flags; prodserver's own "starting" line is
checked against that command on every run. The port is reused as soon as the previous run
is gone (the servers bind with ``SO_REUSEADDR``); if a start fails anyway, the pair is
retried once on a fresh port. Pairs alternate their order (AB, BA, AB, ...) and the backends
take turns inside each round, so the machine's drift spreads over both sides. One
unrecorded warm-up pair per backend fills the page cache and the bytecode caches first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.procs import BenchError, free_port
from benchmarks.project import ProcessSpec, Project, native_argv
from benchmarks.stats import summary

STARTING_PREFIX = "prodserver: starting "


@dataclass
class Target:
    """Where one backend runs during the start-up phase, and its native command there."""

    spec: ProcessSpec
    port: int = 0
    command_line: str = ""
    #: Compare with ``prodserver BASELINE`` instead of the native command (the gate's cost).
    baseline: str | None = None

    def refresh(self, project: Project) -> None:
        self.port = free_port()
        self.command_line = project.dry_run(self.spec.name, self.port)


def _time_to_200(
    project: Project, argv: list[str], env: dict[str, str], label: str, port: int
) -> tuple[float, str]:
    started = time.monotonic()
    proc = project.start(argv, env, label)
    try:
        answered = proc.wait_http(port)
        return answered - started, proc.log_path.read_text(errors="replace")
    finally:
        proc.stop()


def _pair(project: Project, target: Target, native_first: bool) -> tuple[float, float]:
    name, port, command_line = target.spec.name, target.port, target.command_line
    argv_b, env_b = native_argv(command_line)
    results: dict[str, float] = {}

    def run_a() -> None:
        argv = project.manage_argv("prodserver", name)
        seconds, log = _time_to_200(project, argv, project.env(port), f"{name}-A", port)
        if f'{STARTING_PREFIX}"{name}": {command_line}' not in log:
            raise BenchError(f"prodserver {name} did not run {command_line!r} (its --dry-run)")
        results["a"] = seconds

    def run_b() -> None:
        if target.baseline:
            argv = project.manage_argv("prodserver", target.baseline)
            env = project.env(port)
        else:
            argv, env = argv_b, project.env(port, env_b)
        results["b"] = _time_to_200(project, argv, env, f"{name}-B", port)[0]

    for step in (run_b, run_a) if native_first else (run_a, run_b):
        step()
    return results["a"], results["b"]


def measure_pair(project: Project, target: Target, native_first: bool) -> tuple[float, float]:
    """One A/B pair; return (prodserver seconds, native seconds)."""
    try:
        return _pair(project, target, native_first)
    except BenchError:
        target.refresh(project)  # the port may have been taken meanwhile: one more try
        return _pair(project, target, native_first)


def run_startup(
    project: Project,
    specs: Sequence[ProcessSpec],
    pairs: int,
    log: Callable[[str], None],
    baseline: str | None = None,
) -> dict[str, object]:
    """Measure ``pairs`` A/B pairs per backend; a backend that fails is reported, not fatal.

    With ``baseline``, B is ``prodserver BASELINE`` rather than the native command: that is
    how the start-up gate is timed against the same process without it.
    """
    times: dict[str, tuple[list[float], list[float]]] = {s.name: ([], []) for s in specs}
    errors: dict[str, str] = {}
    commands: dict[str, str] = {}
    targets = [Target(spec, baseline=baseline) for spec in specs]
    for target in targets:
        try:
            target.refresh(project)
            measure_pair(project, target, native_first=False)  # warm-up, not recorded
            commands[target.spec.name] = project.dry_run(target.spec.name, 8000)
        except BenchError as exc:
            errors[target.spec.name] = str(exc)
            log(f"  {target.spec.name}: FAILED during warm-up: {exc}")
    for index in range(pairs):
        for target in targets:
            name = target.spec.name
            if name in errors:
                continue
            try:
                a, b = measure_pair(project, target, native_first=index % 2 == 1)
            except BenchError as exc:
                errors[name] = str(exc)
                log(f"  {name}: FAILED in pair {index + 1}: {exc}")
                continue
            times[name][0].append(a)
            times[name][1].append(b)
        log(f"  pair {index + 1}/{pairs} done")
    results: dict[str, object] = {}
    for spec in specs:
        prodserver_times, native_times = times[spec.name]
        entry = summary(prodserver_times, native_times)
        entry.update(label=spec.label, command=commands.get(spec.name))
        if baseline:
            entry["baseline"] = baseline
        if spec.name in errors:
            entry["error"] = errors[spec.name]
        results[spec.name] = entry
    return results
