"""``python -m benchmarks``: run every benchmark, write the results, the charts and the docs.

A full run (no options) writes ``benchmarks/results/`` and the docs page's tables and charts.
``--quick`` or any selection (``--only``, ``--backends``) is a smoke or partial run: it writes
to ``benchmarks/.work/`` unless ``--output`` says otherwise and leaves the docs alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.compare import LEVELS, CompareSettings, extremes, run_compare
from benchmarks.docs_build import run_docs
from benchmarks.load import WrkSettings, run_load
from benchmarks.machine import describe
from benchmarks.procs import BenchError
from benchmarks.project import COMPARED, GATED, ROOT, WEB_BACKENDS, Project
from benchmarks.startup import run_startup
from benchmarks.workers import run_workers

PARTS = ("startup", "gate", "load", "compare", "workers", "docs")
QUICK = {
    "pairs": 2,
    "rounds": 2,
    "duration": 1.0,
    "warmup": 1.0,
    "compare_duration": 1.0,
    "compare_warmup": 0.0,
    "levels": "8",
    "latency_tasks": 5,
    "burst": 100,
    "docs_rounds": 1,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: few pairs, short runs")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part")
    parser.add_argument("--backends", help="comma-separated configurations (default: all)")
    parser.add_argument("--pairs", type=int, default=6, help="start-up A/B pairs per backend")
    parser.add_argument("--rounds", type=int, default=4, help="wrk A/B rounds per path")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of wrk warm-up")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument(
        "--compare-duration", type=float, default=2.0, help="seconds per wrk run (compare)"
    )
    parser.add_argument(
        "--compare-warmup", type=float, default=1.0, help="seconds of warm-up (compare)"
    )
    parser.add_argument(
        "--levels",
        default=",".join(str(n) for n in LEVELS),
        help="comma-separated connection counts (compare)",
    )
    parser.add_argument("--latency-tasks", type=int, default=20, help="tasks timed one by one")
    parser.add_argument("--burst", type=int, default=1000, help="tasks in the burst")
    parser.add_argument("--docs-rounds", type=int, default=1, help="clean docs builds")
    parser.add_argument("--output", type=Path, help="results directory")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="measure nothing: redraw the charts and rewrite the docs tables from this file",
    )
    options = parser.parse_args(argv)
    if options.quick:
        for key, value in QUICK.items():
            if getattr(options, key) == parser.get_default(key):
                setattr(options, key, value)
    options.full = not (options.quick or options.only or options.backends)
    if options.output is None:
        options.output = (
            ROOT / "benchmarks" / "results" if options.full else ROOT / "benchmarks" / ".work"
        )
    return options


def log(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if options.render:
        results = json.loads(options.render.read_text())
        made = report.write_charts(results, options.render.parent, docs=True)
        log(f"docs tables: {report.write_docs(results, made).relative_to(ROOT)}")
        log(summary(results))
        return 0
    parts = options.only or list(PARTS)
    specs = list(WEB_BACKENDS)
    compared = list(COMPARED)
    if options.backends:
        wanted = options.backends.split(",")
        unknown = set(wanted) - {s.name for s in compared}
        if unknown:
            log(
                f"unknown backend(s) {', '.join(sorted(unknown))}; choose from "
                + ", ".join(s.name for s in compared)
            )
            return 2
        specs = [s for s in specs if s.name in wanted]
        compared = [s for s in compared if s.name in wanted]
    levels = tuple(int(n) for n in options.levels.split(","))
    if {"load", "compare"} & set(parts) and shutil.which("wrk") is None:
        log("wrk is not installed (Debian: apt-get install wrk).")
        if options.full:
            return 1  # a full run rewrites the docs: it must not silently lose a part
        log("The load and compare parts are skipped.")
        parts = [part for part in parts if part not in ("load", "compare")]
    # A plain SIGTERM (not only Ctrl-C) must run the clean-up below, or servers would outlive us.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": describe(),
        "config": {
            "pairs": options.pairs,
            "rounds": options.rounds,
            "duration": options.duration,
            "warmup": options.warmup,
            "connections": options.connections,
            "compare_duration": options.compare_duration,
            "compare_warmup": options.compare_warmup,
            "levels": list(levels),
            "wrk_threads": 1,
            "latency_tasks": options.latency_tasks,
            "burst": options.burst,
            "docs_rounds": options.docs_rounds,
            "quick": options.quick,
            "parts": parts,
        },
        "phase_seconds": {},
    }
    workdir = Path(tempfile.mkdtemp(prefix="prodserver-bench-"))
    log(f"run directory: {workdir}")
    try:
        if "gate" in parts and "gunicorn" not in {s.name for s in specs}:
            parts = [part for part in parts if part != "gate"]  # its baseline is not running
        web = Project(workdir / "web", [*compared, GATED])
        if {"startup", "gate", "load", "compare"} & set(parts):
            web.migrate()
        phases = {
            "startup": lambda: run_startup(web, specs, options.pairs, log),
            "gate": lambda: run_startup(web, [GATED], options.pairs, log, baseline="gunicorn"),
            "load": lambda: run_load(
                web,
                specs,
                options.rounds,
                WrkSettings(options.duration, options.warmup, options.connections),
                log,
            ),
            "compare": lambda: run_compare(
                web,
                compared,
                CompareSettings(
                    duration=options.compare_duration,
                    warmup=options.compare_warmup,
                    levels=levels,
                    top_duration=max(options.compare_duration, 3.0 if not options.quick else 1.0),
                ),
                log,
            ),
            "workers": lambda: run_workers(
                workdir / "workers", options.latency_tasks, options.burst, log
            ),
            "docs": lambda: run_docs(workdir / "docs", options.docs_rounds, log),
        }
        for part in PARTS:
            if part not in parts:
                continue
            log(f"== {part}")
            phase_started = time.monotonic()
            results[part] = phases[part]()
            results["phase_seconds"][part] = round(time.monotonic() - phase_started, 1)
            log(f"   ({results['phase_seconds'][part]:.0f} s)")
    except BenchError as exc:
        log(f"benchmark failed: {exc}")
        return 1
    finally:
        if options.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    out = options.output
    json_path = report.write_json(results, out)
    made = report.write_charts(results, out, docs=options.full)
    log(f"results: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
    if options.full:
        log(f"docs tables: {report.write_docs(results, made).relative_to(ROOT)}")
    else:
        (out / "benchmarks-results.inc").write_text(report.markdown(results, made))
    log(summary(results))
    return 0


def summary(results: dict[str, Any]) -> str:
    """The closing lines: every ratio, the memory overhead and the run time."""
    lines = ["", "== summary (ratio = prodserver / native)"]
    for name, entry in (results.get("startup") or {}).items():
        lines.append(
            f"start-up  {name:<13} ratio {_r(entry.get('ratio'))} "
            f"(paired {_r(entry.get('paired_ratio_median'))}; "
            f"{_r(entry.get('prodserver_median'))} s vs {_r(entry.get('native_median'))} s)"
        )
    for name, entry in (results.get("gate") or {}).items():
        lines.append(
            f"gate      {name:<13} ratio {_r(entry.get('ratio'))} against prodserver "
            f"{entry.get('baseline')} ({_r(entry.get('prodserver_median'))} s vs "
            f"{_r(entry.get('native_median'))} s)"
        )
    for name, entry in (results.get("load") or {}).items():
        if "error" in entry:
            lines.append(f"load      {name:<13} FAILED")
            continue
        rss, pss = entry["peak_rss"], entry["pss_after_load"]
        lines.append(
            f"load      {name:<13} / {_r(entry['/']['ratio'])} "
            f"(paired {_r(entry['/']['paired_ratio_median'])})  "
            f"/db/ {_r(entry['/db/']['ratio'])} "
            f"(paired {_r(entry['/db/']['paired_ratio_median'])})  "
            f"extra RSS {rss['extra_bytes'] / 2**20:+.1f} MiB, "
            f"PSS {pss['extra_bytes'] / 2**20:+.1f} MiB"
        )
        lines.append(
            f"          {'':<13} CPU per request: / {_r(entry['/']['cpu_per_request']['ratio'])} "
            f"(paired {_r(entry['/']['cpu_per_request']['paired_ratio_median'])})  "
            f"/db/ {_r(entry['/db/']['cpu_per_request']['ratio'])} "
            f"(paired {_r(entry['/db/']['cpu_per_request']['paired_ratio_median'])})"
        )
    compare = results.get("compare") or {}
    if compare:
        level = 64 if 64 in compare["levels"] else compare["levels"][-1]
        lines.append(f"== which server: per workload at {level} connections, fastest / slowest")
        for path, pair in extremes(compare, level).items():
            fast, slow = pair["fastest"], pair["slowest"]
            lines.append(
                f"compare   {path:<11} {fast['label']} {fast['rps']:,.0f} req/s, "
                f"p99 {_p99(fast['p99'])} / {slow['label']} {slow['rps']:,.0f} req/s, "
                f"p99 {_p99(slow['p99'])}"
            )
        for name, entry in compare["configs"].items():
            if "error" in entry:
                lines.append(f"compare   {name:<11} FAILED")
    for name, entry in (results.get("workers") or {}).items():
        if "latency_median" in entry:
            lines.append(
                f"worker    {name:<13} {entry['latency_median'] * 1000:.1f} ms, "
                f"{entry['tasks_per_second']:.0f} tasks/s"
            )
        else:
            lines.append(f"worker    {name:<13} {entry.get('skipped') or 'FAILED'}")
    docs = results.get("docs") or {}
    if "clean_median" in docs:
        lines.append(
            f"docs      clean {docs['clean_median']:.1f} s, {docs['pages']} pages, "
            f"no change {docs['noop_median']:.1f} s, one page {docs['one_page_median']:.1f} s"
        )
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in results.get("phase_seconds", {}).items())
    lines.append(f"total {results['elapsed_seconds'] / 60:.1f} min ({phases})")
    return "\n".join(lines)


def _p99(value: Any) -> str:
    return f"{value * 1000:.0f} ms" if isinstance(value, (int, float)) else "n/a"


def _r(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "n/a"


if __name__ == "__main__":
    sys.exit(main())
