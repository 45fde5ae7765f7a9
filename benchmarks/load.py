"""Throughput and latency under load with wrk, prodserver (A) against native (B).

For each backend, prodserver and the native command (from ``--dry-run``) run at the same time
on two ports; an idle server costs next to nothing, and keeping both up lets the rounds
alternate A and B without restarts. For each path, every round runs wrk once against each
(order AB, then BA, ...). A sampling thread records the peak resident memory of each whole
process tree over the whole phase, load included.

Requests per second fall whenever something else on the machine wants the CPU, so each run
also records the CPU time (user + system) the server's whole tree spent per request: what a
request costs the server, which the machine's load changes far less.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.procs import BenchError, Proc, RssSampler, free_port
from benchmarks.project import ProcessSpec, Project, native_argv
from benchmarks.stats import median, ratio, summary

PATHS = ("/", "/db/")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class WrkSettings:
    duration: float = 1.0
    warmup: float = 1.0
    connections: int = 8
    threads: int = 1
    timeout: float = 2.0  # wrk's default: a request unanswered after this long is a timeout


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50: float  # seconds
    p99: float  # seconds
    errors: int  # socket errors (connect, read, write) plus non-2xx/3xx answers
    requests: int
    timeouts: int = 0  # requests wrk gave up on (not in the latency figures)
    cpu_per_request: float = 0.0  # seconds of the server tree's CPU time, filled in by wrk()


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise BenchError(f"cannot read wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, p50, p99 and error counts from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (rps and p50 and p99):
        raise BenchError(f"unexpected wrk output:\n{output}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write) (\d+)", output))
    timeouts = sum(int(n) for n in re.findall(r"timeout (\d+)", output))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors += int(non2xx.group(1)) if non2xx else 0
    requests = re.search(r"(\d+) requests in", output)
    return WrkResult(
        float(rps.group(1)),
        _seconds(p50.group(1)),
        _seconds(p99.group(1)),
        errors,
        int(requests.group(1)) if requests else 0,
        timeouts,
    )


def wrk(server: Proc, port: int, path: str, duration: float, settings: WrkSettings) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise BenchError("wrk is not installed (Debian: apt-get install wrk)")
    argv = [
        binary,
        f"--threads={settings.threads}",
        f"--connections={settings.connections}",
        f"--duration={max(1, round(duration))}s",
        f"--timeout={settings.timeout:g}s",
        "--latency",
        f"http://127.0.0.1:{port}{path}",
    ]
    cpu_before = server.tree_cpu()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    cpu = server.tree_cpu() - cpu_before
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr}")
    parsed = parse_wrk(result.stdout)
    per_request = cpu / parsed.requests if parsed.requests else 0.0
    return dataclasses.replace(parsed, cpu_per_request=per_request)


def _start_pair(project: Project, spec: ProcessSpec) -> tuple[dict[str, Proc], dict[str, int], str]:
    ports = {"prodserver": free_port(), "native": free_port()}
    command_line = project.dry_run(spec.name, ports["native"])
    argv_b, env_b = native_argv(command_line)
    procs: dict[str, Proc] = {}
    try:
        procs["prodserver"] = project.start(
            project.manage_argv("prodserver", spec.name),
            project.env(ports["prodserver"]),
            f"{spec.name}-load-A",
        )
        procs["native"] = project.start(
            argv_b, project.env(ports["native"], env_b), f"{spec.name}-load-B"
        )
        for key, proc in procs.items():
            proc.wait_http(ports[key])
    except BaseException:
        for proc in procs.values():
            proc.stop()
        raise
    return procs, ports, command_line


def measure_backend(
    project: Project, spec: ProcessSpec, rounds: int, settings: WrkSettings
) -> dict[str, object]:
    procs, ports, command_line = _start_pair(project, spec)
    runs: dict[str, dict[str, list[WrkResult]]] = {
        path: {"prodserver": [], "native": []} for path in PATHS
    }
    try:
        with RssSampler(procs) as sampler:
            for path in PATHS:
                for key in procs:  # warm-up: every worker imports, connects, fills caches
                    wrk(procs[key], ports[key], path, settings.warmup, settings)
                for index in range(rounds):
                    order = ("prodserver", "native") if index % 2 == 0 else ("native", "prodserver")
                    for key in order:
                        runs[path][key].append(
                            wrk(procs[key], ports[key], path, settings.duration, settings)
                        )
            pss = {key: proc.tree_pss() for key, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.stop()
    result: dict[str, object] = {"label": spec.label, "command": command_line}
    for path in PATHS:
        a, b = runs[path]["prodserver"], runs[path]["native"]
        entry = summary([r.requests_per_second for r in a], [r.requests_per_second for r in b])
        for key, values in (("prodserver", a), ("native", b)):
            entry[f"{key}_p50_median"] = median([r.p50 for r in values])
            entry[f"{key}_p99_median"] = median([r.p99 for r in values])
            entry[f"{key}_errors"] = sum(r.errors + r.timeouts for r in values)
        entry["cpu_per_request"] = summary(
            [r.cpu_per_request for r in a], [r.cpu_per_request for r in b]
        )
        result[path] = entry
    result["peak_rss"] = {
        "prodserver": sampler.peak["prodserver"],
        "native": sampler.peak["native"],
        "extra_bytes": sampler.peak["prodserver"] - sampler.peak["native"],
        "ratio": ratio(sampler.peak["prodserver"], sampler.peak["native"]),
    }
    result["pss_after_load"] = {
        "prodserver": pss["prodserver"],
        "native": pss["native"],
        "extra_bytes": pss["prodserver"] - pss["native"],
    }
    return result


def run_load(
    project: Project,
    specs: Sequence[ProcessSpec],
    rounds: int,
    settings: WrkSettings,
    log: Callable[[str], None],
) -> dict[str, object]:
    results: dict[str, object] = {}
    for spec in specs:
        try:
            results[spec.name] = measure_backend(project, spec, rounds, settings)
        except BenchError as exc:
            results[spec.name] = {"label": spec.label, "error": str(exc)}
            log(f"  {spec.name}: FAILED: {exc}")
            continue
        entry = results[spec.name]
        assert isinstance(entry, dict)
        log(
            f"  {spec.name}: / ratio {_fmt(entry['/']['ratio'])}, "
            f"/db/ ratio {_fmt(entry['/db/']['ratio'])}"
        )
    return results


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"
