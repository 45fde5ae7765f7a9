"""Which server for which site: every configuration, every workload, three concurrency levels.

Every configuration runs under ``manage.py prodserver`` (the overhead part already compares
prodserver with the native commands). All of them start once, at the same time, on ports of
their own and stay up for the whole part; an idle server costs next to nothing. Then, for each
workload and each concurrency level, wrk loads each configuration in turn, in an order that
alternates (forward, then backward) from one cell to the next, so that the machine's drift
spreads over all of them alike. After each run the harness waits until the loaded server's CPU
use has settled (a server may still be working off requests wrk gave up on) before the next.

Memory is sampled only for the configuration under load: the peak resident memory of its whole
process tree, of its largest single process (a worker, for servers with workers), and the
tree's proportional set size (PSS) at the end.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from benchmarks.load import WrkResult, WrkSettings, wrk
from benchmarks.procs import BenchError, Proc, Sampler, free_port, http_status
from benchmarks.project import ProcessSpec, Project

#: The workloads: path and what the view does (example/mysite/views.py).
WORKLOADS: tuple[tuple[str, str], ...] = (
    ("/", "plain sync view, short text"),
    ("/db/", "sync view, one query"),
    ("/io/", "sync view that waits 50 ms"),
    ("/async-io/", "async def view that awaits 50 ms"),
    ("/async-db/", "async def view, one query through the async ORM"),
    ("/page/", "sync view, 22 kB HTML page from a template"),
)
LEVELS: tuple[int, ...] = (8, 64, 256)


@dataclass(frozen=True)
class CompareSettings:
    duration: float = 2.0  # seconds of wrk per cell
    # At the highest level (where requests queue longest) wrk runs longer than its timeout,
    # so that requests left waiting show up as timeouts.
    top_duration: float = 3.0
    warmup: float = 1.0  # seconds of wrk per configuration and workload, not recorded
    levels: tuple[int, ...] = LEVELS
    timeout: float = 2.0  # wrk gives up on a request after this long (wrk's default)


class TreeSampler(Sampler):
    """The memory of the process tree of the configuration under load (``active``)."""

    def __init__(self, procs: dict[str, Proc], interval: float = 0.2) -> None:
        super().__init__(procs, interval)
        self.active: str | None = None
        self.peak_tree = dict.fromkeys(procs, 0)
        self.peak_process = dict.fromkeys(procs, 0)
        self.processes = dict.fromkeys(procs, 0)

    def sample(self) -> None:
        key = self.active
        if key is not None:
            sizes = self.procs[key].process_rss()
            if sizes:
                self.peak_tree[key] = max(self.peak_tree[key], sum(sizes))
                self.peak_process[key] = max(self.peak_process[key], max(sizes))
                self.processes[key] = max(self.processes[key], len(sizes))


def settle(proc: Proc, port: int, limit: float = 30.0) -> float:
    """Wait until the server has worked off what wrk left behind; return the wait.

    When wrk stops, a server may still hold requests it accepted: sleeping ones (``/io/``
    behind two sync workers) use no CPU, so the first test is a probe on ``/`` that must be
    answered within 0.2 s (it queues behind the backlog where requests queue); the second,
    for CPU-bound backlogs, is that the tree uses under 5 % of a core.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit:
        begun = time.monotonic()
        with contextlib.suppress(OSError):
            http_status(port, "/", timeout=limit)
        if time.monotonic() - begun < 0.2:
            break
    while time.monotonic() - started < limit:
        before = proc.tree_cpu()
        time.sleep(0.2)
        if proc.tree_cpu() - before < 0.01:
            break
    return time.monotonic() - started


def _start_all(
    project: Project, specs: Sequence[ProcessSpec]
) -> tuple[dict[str, Proc], dict[str, int]]:
    procs: dict[str, Proc] = {}
    ports: dict[str, int] = {}
    try:
        for spec in specs:
            ports[spec.name] = free_port()
            procs[spec.name] = project.start(
                project.manage_argv("prodserver", spec.name),
                project.env(ports[spec.name]),
                f"{spec.name}-compare",
            )
        for name, proc in procs.items():
            proc.wait_http(ports[name], timeout=120)
    except BaseException:
        for proc in procs.values():
            proc.stop()
        raise
    return procs, ports


def _cell(result: WrkResult) -> dict[str, float | int]:
    return asdict(result)


def run_compare(
    project: Project,
    specs: Sequence[ProcessSpec],
    settings: CompareSettings,
    log: Callable[[str], None],
) -> dict[str, object]:
    """Load every configuration with every workload at every level; return the JSON part."""
    commands = {spec.name: project.dry_run(spec.name, 8000) for spec in specs}
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    procs, ports = _start_all(project, specs)
    log(f"  {len(procs)} configurations up in {time.monotonic() - started:.0f} s")
    cells: dict[str, dict[str, dict[str, object]]] = {
        spec.name: {path: {} for path, _ in WORKLOADS} for spec in specs
    }
    failures: dict[str, str] = {}
    names = [spec.name for spec in specs]
    cell_index = 0
    try:
        with TreeSampler(procs) as sampler:
            for path, _ in WORKLOADS:
                for name in names:  # warm-up: imports, connections, template cache
                    if name in failures or settings.warmup <= 0:
                        continue
                    sampler.active = name
                    try:
                        wrk(procs[name], ports[name], path, settings.warmup, _wrk(8, settings))
                    except BenchError as exc:
                        failures[name] = str(exc)
                        log(f"  {name}: FAILED: {exc}")
                    settle(procs[name], ports[name])
                for level in settings.levels:
                    order = names if cell_index % 2 == 0 else names[::-1]
                    cell_index += 1
                    duration = (
                        settings.top_duration
                        if level == max(settings.levels)
                        else settings.duration
                    )
                    for name in order:
                        if name in failures:
                            continue
                        sampler.active = name
                        try:
                            result = wrk(
                                procs[name], ports[name], path, duration, _wrk(level, settings)
                            )
                        except BenchError as exc:
                            failures[name] = str(exc)
                            log(f"  {name}: FAILED: {exc}")
                            continue
                        sampler.active = None
                        cells[name][path][str(level)] = {
                            **_cell(result),
                            "settle_seconds": round(settle(procs[name], ports[name]), 2),
                        }
                    log(f"  {path} at {level} connections: done")
            sampler.active = None
            pss = {name: proc.tree_pss() for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.stop()
    configs: dict[str, object] = {}
    for spec in specs:
        if spec.name in failures:
            configs[spec.name] = {"label": spec.label, "error": failures[spec.name]}
            continue
        configs[spec.name] = {
            "label": spec.label,
            "command": commands[spec.name],
            "processes": sampler.processes[spec.name],
            "peak_rss": sampler.peak_tree[spec.name],
            "peak_process_rss": sampler.peak_process[spec.name],
            "pss_after": pss[spec.name],
            "cells": cells[spec.name],
        }
    return {
        "workloads": dict(WORKLOADS),
        "levels": list(settings.levels),
        "duration": settings.duration,
        "top_duration": settings.top_duration,
        "warmup": settings.warmup,
        "timeout": settings.timeout,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "configs": configs,
    }


def _wrk(connections: int, settings: CompareSettings) -> WrkSettings:
    return WrkSettings(
        settings.duration, settings.warmup, connections, threads=1, timeout=settings.timeout
    )


def extremes(compare: dict[str, object], level: int = 64) -> dict[str, dict[str, object]]:
    """Per workload, the configurations with the most and the fewest requests per second."""
    configs = compare.get("configs") or {}
    assert isinstance(configs, dict)
    out: dict[str, dict[str, object]] = {}
    for path in compare.get("workloads") or {}:
        measured = [
            (entry["label"], entry["cells"][path][str(level)])
            for entry in configs.values()
            if "cells" in entry and str(level) in entry["cells"].get(path, {})
        ]
        if not measured:
            continue
        measured.sort(key=lambda item: item[1]["requests_per_second"])
        (slow_label, slow), (fast_label, fast) = measured[0], measured[-1]
        out[path] = {
            key: {
                "label": label,
                "rps": cell["requests_per_second"],
                "p99": cell["p99"] if cell["requests"] else None,
            }
            for key, label, cell in (
                ("fastest", fast_label, fast),
                ("slowest", slow_label, slow),
            )
        }
    return out
