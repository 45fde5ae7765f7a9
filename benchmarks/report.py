"""Turn one run's results into the JSON file, the SVG charts and the docs tables.

The docs page includes the Markdown written here, and the Markdown is made only from the JSON
results, so the published numbers cannot drift from the measured ones.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.compare import extremes
from benchmarks.project import ROOT
from benchmarks.svg import Series, bar_chart

DOCS_INCLUDE = ROOT / "docs" / "backends" / "benchmarks-results.inc"
DOCS_STATIC = ROOT / "docs" / "_static" / "benchmarks"
STATIC_URL = "/_static/benchmarks"
MIB = 1024 * 1024
#: Short names of the workloads, for chart files and the labels other pages link to
#: (``{ref}`benchmarks-sync-io``` and so on): keep them stable.
WORKLOAD_SLUGS = {
    "/": "plain",
    "/db/": "db",
    "/io/": "sync-io",
    "/async-io/": "async-io",
    "/async-db/": "async-db",
    "/page/": "page",
}

Results = Mapping[str, Any]


def write_json(results: Results, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    return path


# -- formatting --------------------------------------------------------------------------


def _num(value: Any, pattern: str = "{:.2f}") -> str:
    return pattern.format(value) if isinstance(value, (int, float)) else "n/a"


def _ms(value: Any) -> str:
    if isinstance(value, (int, float)) and value >= 1:
        return f"{value:.2f} s"
    return _num(value * 1000 if isinstance(value, (int, float)) else None, "{:.1f} ms")


def _ms2(value: Any) -> str:
    return _num(value * 1000 if isinstance(value, (int, float)) else None, "{:.2f} ms")


def _mib(value: Any) -> str:
    return _num(value / MIB if isinstance(value, (int, float)) else None, "{:.0f}")


def _measured(entries: Mapping[str, Any]) -> dict[str, Any]:
    return {name: e for name, e in entries.items() if isinstance(e, dict) and "error" not in e}


def _table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":--", "r": "--:"}
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(marks[a] for a in align) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _failures(entries: Mapping[str, Any]) -> list[str]:
    lines = []
    for name, entry in entries.items():
        if isinstance(entry, dict) and ("error" in entry or "skipped" in entry):
            reason = entry.get("skipped") or entry["error"].splitlines()[0]
            lines.append(f"- {entry.get('label', name)}: not measured ({reason}).")
    return lines


# -- charts ------------------------------------------------------------------------------


def charts(results: Results) -> dict[str, str]:
    """SVG documents by file name, for the parts of the run that produced numbers."""
    made: dict[str, str] = {}
    startup = results.get("startup") or {}
    if startup:
        labels = [e["label"] for e in startup.values()]
        made["startup.svg"] = bar_chart(
            "Start-up: process start to first HTTP 200 (median)",
            labels,
            [
                Series(
                    "manage.py prodserver", [e.get("prodserver_median") for e in startup.values()]
                ),
                Series("native command", [e.get("native_median") for e in startup.values()]),
            ],
            lambda v: f"{v:.2f} s",
        )
    load = _measured(results.get("load") or {})
    if load:
        labels = [e["label"] for e in load.values()]
        made["memory.svg"] = bar_chart(
            "Peak resident memory of the whole process tree (MiB)",
            labels,
            [
                Series(
                    "manage.py prodserver",
                    [e["peak_rss"]["prodserver"] / MIB for e in load.values()],
                ),
                Series("native command", [e["peak_rss"]["native"] / MIB for e in load.values()]),
            ],
            lambda v: f"{v:.0f} MiB",
        )
    compare = results.get("compare") or {}
    configs = _measured(compare.get("configs") or {})
    if configs:
        levels = compare["levels"]
        for path, description in compare["workloads"].items():
            made[chart_name(path)] = bar_chart(
                f"{path}: requests per second by connections (higher is better)",
                [e["label"] for e in configs.values()],
                [
                    Series(
                        f"{level} connections",
                        [
                            (e["cells"][path].get(str(level)) or {}).get("requests_per_second")
                            for e in configs.values()
                        ],
                    )
                    for level in levels
                ],
                lambda v: f"{v:,.0f}",
                note=f"{path}: {description}; all through manage.py prodserver",
            )
    workers = _measured(
        {k: v for k, v in (results.get("workers") or {}).items() if "skipped" not in v}
    )
    if workers:
        made["workers.svg"] = bar_chart(
            "Workers: tasks per second, burst of tiny tasks (higher is better)",
            [e["label"] for e in workers.values()],
            [Series("tasks/s", [e["tasks_per_second"] for e in workers.values()])],
            lambda v: f"{v:,.0f}/s",
        )
    return made


def chart_name(path: str) -> str:
    return f"compare-{WORKLOAD_SLUGS.get(path, path.strip('/') or 'plain')}.svg"


def write_charts(results: Results, out_dir: Path, docs: bool) -> list[str]:
    made = charts(results)
    for name, svg in made.items():
        (out_dir / name).write_text(svg)
        if docs:
            DOCS_STATIC.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out_dir / name, DOCS_STATIC / name)
    return sorted(made)


# -- the docs tables ---------------------------------------------------------------------


def _figure(name: str, alt: str, charts_made: list[str]) -> list[str]:
    if name not in charts_made:
        return []
    return ["", f"```{{image}} {STATIC_URL}/{name}", f":alt: {alt}", ":width: 100%", "```"]


def _section_startup(results: Results, charts_made: list[str]) -> list[str]:
    startup = results.get("startup") or {}
    if not startup:
        return []
    config = results["config"]
    rows = [
        [
            e["label"],
            _num(e.get("prodserver_median"), "{:.3f} s"),
            _num(e.get("native_median"), "{:.3f} s"),
            _num(e.get("ratio"), "**{:.3f}**"),
            _num(e.get("paired_ratio_median"), "{:.3f}"),
            str(len(e.get("prodserver", []))),
        ]
        for e in startup.values()
    ]
    return [
        "## Start-up",
        "",
        f"Time from starting the process to the first `200` answer on `/`, "
        f"{config['pairs']} alternating pairs per backend (plus one warm-up pair). "
        "*Ratio* is prodserver's median over the native median; *paired* is the median of "
        "the ratios of the two runs of each pair.",
        "",
        *_table(["Backend", "prodserver", "native", "ratio", "paired", "pairs"], rows),
        *_failures(startup),
        *_figure("startup.svg", "Bar chart of median start-up times per backend", charts_made),
        "",
    ]


def _section_gate(results: Results) -> list[str]:
    rows = [
        [
            e["label"],
            _num(e.get("prodserver_median"), "{:.3f} s"),
            _num(e.get("native_median"), "{:.3f} s"),
            _ms(_difference(e)),
            _num(e.get("ratio"), "**{:.3f}**"),
            _num(e.get("paired_ratio_median"), "{:.3f}"),
            str(len(e.get("prodserver", []))),
        ]
        for e in (results.get("gate") or {}).values()
    ]
    if not rows:
        return []
    return [
        "(benchmarks-gate)=",
        "### The start-up gate",
        "",
        "The same Gunicorn process with and without `WARMUP` (both through prodserver, "
        "alternating pairs as above): the difference is what the gate costs a start.",
        "",
        *_table(["Process", "with", "without", "difference", "ratio", "paired", "pairs"], rows),
        *_failures(results.get("gate") or {}),
        "",
    ]


def _difference(entry: Mapping[str, Any]) -> float | None:
    a, b = entry.get("prodserver_median"), entry.get("native_median")
    return a - b if isinstance(a, (int, float)) and isinstance(b, (int, float)) else None


def _section_load(results: Results, charts_made: list[str]) -> list[str]:
    load = results.get("load") or {}
    if not load:
        return []
    config = results["config"]
    measured = _measured(load)
    ab_rows = [
        [
            e["label"],
            *(
                cell
                for path in ("/", "/db/")
                for cell in (
                    _num(e[path]["prodserver_median"], "{:,.0f}"),
                    _num(e[path]["native_median"], "{:,.0f}"),
                    _num(e[path]["ratio"], "**{:.3f}**"),
                    _num(e[path]["paired_ratio_median"], "{:.3f}"),
                )
            ),
        ]
        for e in measured.values()
    ]
    cpu_rows = [
        [
            e["label"],
            *(
                cell
                for path in ("/", "/db/")
                for cell in (
                    _ms2(e[path]["cpu_per_request"]["prodserver_median"]),
                    _ms2(e[path]["cpu_per_request"]["native_median"]),
                    _num(e[path]["cpu_per_request"]["ratio"], "**{:.3f}**"),
                    _num(e[path]["cpu_per_request"]["paired_ratio_median"], "{:.3f}"),
                )
            ),
        ]
        for e in measured.values()
    ]
    memory_rows = [
        [
            e["label"],
            _mib(e["peak_rss"]["prodserver"]),
            _mib(e["peak_rss"]["native"]),
            _num(e["peak_rss"]["extra_bytes"] / MIB, "**{:+.1f}**"),
            _mib(e["pss_after_load"]["prodserver"]),
            _mib(e["pss_after_load"]["native"]),
            _num(e["pss_after_load"]["extra_bytes"] / MIB, "**{:+.1f}**"),
        ]
        for e in measured.values()
    ]
    errors = sum(
        e[path][f"{side}_errors"]
        for e in measured.values()
        for path in ("/", "/db/")
        for side in ("prodserver", "native")
    )
    wrk = (
        f"`wrk --threads={config['wrk_threads']} --connections={config['connections']} "
        f"--duration={config['duration']:g}s --latency`"
    )
    return [
        "## Throughput: prodserver against the native command",
        "",
        f"Requests per second (median of {config['rounds']} alternating rounds of {wrk} "
        "each), on `/` (a plain view) and `/db/` (one query on SQLite). Both servers run "
        "side by side with the same flags; *ratio* is prodserver's median over the native "
        "median, *paired* the median of the per-round ratios.",
        "",
        *_table(
            [
                "Backend",
                "`/` prodserver",
                "`/` native",
                "ratio",
                "paired",
                "`/db/` prodserver",
                "`/db/` native",
                "ratio",
                "paired",
            ],
            ab_rows,
        ),
        *_failures(load),
        "",
        f"wrk reported {errors} socket errors or non-2xx answers over all these runs.",
        "",
        "Requests per second drop whenever something else on the machine needs the CPU. The "
        "CPU time (user and system) that the server's whole process tree spent per request "
        "depends less on that, so it shows more reliably whether prodserver makes a "
        "request cost more (a ratio above 1 would mean it does):",
        "",
        *_table(
            [
                "Backend",
                "`/` prodserver",
                "`/` native",
                "ratio",
                "paired",
                "`/db/` prodserver",
                "`/db/` native",
                "ratio",
                "paired",
            ],
            cpu_rows,
        ),
        "",
        "## Memory: prodserver over the native command",
        "",
        "Memory of the whole process tree in MiB: the peak of the summed resident set (RSS) "
        "over the load phase, and the proportional set size (PSS) right after it, which "
        "counts pages that forked workers share with their parent only once.",
        "",
        *_table(
            [
                "Backend",
                "peak RSS prodserver",
                "native",
                "extra",
                "PSS prodserver",
                "native",
                "extra",
            ],
            memory_rows,
        ),
        *_figure("memory.svg", "Bar chart of peak memory per backend", charts_made),
        "",
    ]


def _level_cells(cell: Mapping[str, Any] | None) -> list[str]:
    if not cell:
        return ["n/a"] * 3
    return [
        _num(cell["requests_per_second"], "{:,.0f}"),
        _ms(cell["p50"]) if cell["requests"] else "n/a",
        _ms(cell["p99"]) if cell["requests"] else "n/a",
    ]


def _failed(entry: Mapping[str, Any], path: str, levels: list[int], key: str) -> str:
    return " / ".join(
        str((entry["cells"][path].get(str(level)) or {}).get(key, "n/a")) for level in levels
    )


def _section_compare(results: Results, charts_made: list[str]) -> list[str]:
    compare = results.get("compare") or {}
    if not compare:
        return []
    levels: list[int] = compare["levels"]
    configs = _measured(compare["configs"])
    top = max(levels)
    load = compare.get("load_average") or {}
    lines = [
        "(benchmarks-workloads)=",
        "## Which server for which site",
        "",
        f"Every configuration below ran under `manage.py prodserver`, all started once and "
        f"kept up side by side; each workload was sent to each configuration in turn, in an "
        f"order alternating forward and backward. `wrk --threads=1 --latency "
        f"--timeout={compare['timeout']:g}s` ran {compare['duration']:g} s per cell "
        f"({compare['top_duration']:g} s at {top} connections, longer than the timeout, so "
        f"that requests left waiting count as timeouts), after a "
        f"{compare['warmup']:g} s warm-up per configuration and workload. "
        "p50 and p99 cover answered requests only; *errors* are socket errors and non-2xx "
        "answers, *timeouts* requests unanswered after "
        f"{compare['timeout']:g} s, each given for {', '.join(str(n) for n in levels)} "
        "connections.",
        "",
    ]
    if load:
        lines += [
            "Load average (1 minute) of the machine when this part started and ended: "
            f"{load['start']:.2f} and {load['end']:.2f} on {results['meta']['machine']['cores']} "
            "cores. Compare configurations within this run; the absolute numbers move with "
            "the load.",
            "",
        ]
    header = ["Configuration"]
    for level in levels:
        header += [f"{level}: req/s", "p50", "p99"]
    header += ["errors", "timeouts"]
    for path, description in compare["workloads"].items():
        rows = [
            [
                e["label"],
                *(
                    cell
                    for level in levels
                    for cell in _level_cells(e["cells"][path].get(str(level)))
                ),
                _failed(e, path, levels, "errors"),
                _failed(e, path, levels, "timeouts"),
            ]
            for e in configs.values()
        ]
        lines += [
            f"(benchmarks-{WORKLOAD_SLUGS.get(path, path.strip('/'))})=",
            f"### `{path}`: {description}",
            "",
            *_table(header, rows),
            *_figure(
                chart_name(path),
                f"Bar chart of requests per second on {path} per configuration and "
                "number of connections",
                charts_made,
            ),
            "",
        ]
    lines += _failures(compare["configs"])
    level = 64 if 64 in levels else top
    cpu_rows = [
        [
            e["label"],
            *(
                _ms2((e["cells"][path].get(str(level)) or {}).get("cpu_per_request"))
                for path in compare["workloads"]
            ),
        ]
        for e in configs.values()
    ]
    lines += [
        "(benchmarks-cpu-per-request)=",
        f"### CPU time per request at {level} connections",
        "",
        "The CPU time (user and system) the configuration's whole process tree spent per "
        "answered request in the runs above. Other programs on the machine lower the "
        "requests per second but change this figure far less: it is what a request costs "
        "the server.",
        "",
        *_table(["Configuration", *(f"`{path}`" for path in compare["workloads"])], cpu_rows),
        "",
    ]
    memory_rows = [
        [
            e["label"],
            str(e["processes"]),
            _mib(e["peak_process_rss"]),
            _mib(e["peak_rss"]),
            _mib(e["pss_after"]),
        ]
        for e in configs.values()
    ]
    lines += [
        "(benchmarks-memory-per-worker)=",
        "### Memory per worker",
        "",
        "Sampled five times a second while the configuration was under load, over all "
        "workloads: the number of processes, the peak resident memory (RSS) of its largest "
        "process (a worker, where the server has workers), of the whole tree summed, and the "
        "tree's proportional set size (PSS) at the end, in MiB.",
        "",
        *_table(
            ["Configuration", "processes", "largest process", "tree RSS", "tree PSS"],
            memory_rows,
        ),
        "",
    ]
    best = extremes(compare, level)
    rows = [
        [
            f"`{path}`",
            pair["fastest"]["label"],
            _num(pair["fastest"]["rps"], "{:,.0f}"),
            _ms(pair["fastest"]["p99"]),  # None when nothing was answered
            pair["slowest"]["label"],
            _num(pair["slowest"]["rps"], "{:,.0f}"),
            _ms(pair["slowest"]["p99"]),
        ]
        for path, pair in best.items()
    ]
    lines += [
        "(benchmarks-fastest-slowest)=",
        f"### Fastest and slowest at {level} connections",
        "",
        *_table(
            ["Workload", "fastest", "req/s", "p99", "slowest", "req/s", "p99"],
            rows,
            align="llrrlrr",
        ),
        "",
    ]
    return lines


def _section_workers(results: Results, charts_made: list[str]) -> list[str]:
    workers = results.get("workers") or {}
    if not workers:
        return []
    measured = {k: v for k, v in _measured(workers).items() if "skipped" not in v}
    config = results["config"]
    rows = [
        [
            e["label"],
            _ms(e["latency_median"]),
            _ms(e["latency_max"]),
            _num(e["tasks_per_second"], "{:,.0f}"),
            _num(e["burst_enqueue_seconds"], "{:.2f} s"),
            f"{e['burst_done']}/{e['burst_tasks']}",
        ]
        for e in measured.values()
    ]
    commands = [f"- {e['label']}: `{e['command']}`" for e in measured.values()]
    lines = [
        "## Workers",
        "",
        f"Enqueue to done: median and worst of {config['latency_tasks']} tasks enqueued one "
        "at a time, each 0.1 to 1.1 s (at random) after the previous one finished. "
        f"Burst: {config['burst']:,} tiny tasks enqueued as fast as possible; "
        "tasks per second counts from the first enqueue to the last task done, so enqueueing "
        "is included.",
        "",
    ]
    if rows:
        lines += _table(
            ["Worker", "enqueue → done", "worst", "burst tasks/s", "enqueue time", "done"],
            rows,
        )
    lines += _failures(workers)
    if commands:
        lines += ["", "Commands (from `prodserver NAME --dry-run`):", "", *commands]
    lines += [*_figure("workers.svg", "Bar chart of tasks per second per worker", charts_made), ""]
    return lines


def _section_docs(results: Results) -> list[str]:
    docs = results.get("docs")
    if not docs:
        return []
    if "skipped" in docs:
        return ["## Documentation build", "", f"Not measured: {docs['skipped']}.", ""]
    return [
        "## Documentation build",
        "",
        f"`sphinx-build -b html {' '.join(docs['options'])}` (as `make docs`, without `-W`), "
        f"{docs['pages']} pages.",
        "",
        *_table(
            ["clean build", "per page", "nothing changed", "one page changed"],
            [
                [
                    _num(docs["clean_median"], "{:.1f} s"),
                    _ms(docs["per_page_median"]),
                    _num(docs["noop_median"], "{:.1f} s"),
                    _num(docs["one_page_median"], "{:.1f} s"),
                ]
            ],
            align="rrrr",
        ),
        "",
    ]


def _section_setup(results: Results) -> list[str]:
    meta = results["meta"]
    machine = meta["machine"]
    versions = meta["versions"]
    listed: dict[str, str] = {}
    for part in (results.get("startup") or {}, (results.get("compare") or {}).get("configs", {})):
        for entry in part.values():
            if entry.get("command") and entry["label"] not in listed:
                listed[entry["label"]] = entry["command"]
    commands = [f"- {label}: `{command}`" for label, command in listed.items()]
    version_rows = [[f"`{name}`", f"{version}"] for name, version in versions.items() if version]
    lines = [
        "## What was compared",
        "",
        "Each backend ran the example project (`DEBUG = False`, SQLite) with these native "
        "commands, shown with port 8000; `manage.py prodserver NAME` ran the same flags:",
        "",
        *commands,
        "",
        "## Versions",
        "",
        *_table(["Package", "Version"], version_rows, align="ll"),
        "",
        f"Load average when the run started: "
        f"{', '.join(f'{v:.2f}' for v in machine['load_average_at_start'])}.",
        "",
    ]
    return lines


def markdown(results: Results, charts_made: list[str]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    commit = (meta.get("git_commit") or "unknown")[:10]
    dirty = " plus uncommitted changes" if meta.get("git_dirty") else ""
    header = [
        "% Generated by `make bench` (benchmarks/report.py) from benchmarks/results/results.json.",
        "% Do not edit: run `make bench` again.",
        "",
        ":::{note}",
        f"Measured on {meta['date'][:10]} on {machine['cpu_model']} ({machine['cores']} cores, "
        f"{machine['memory_bytes'] / 1024**3:.0f} GiB RAM, {machine['system']}), "
        f"Python {meta['versions']['python']}, Django {meta['versions']['Django']}, "
        f"commit `{commit}`{dirty}; the whole run took "
        f"{results['elapsed_seconds'] / 60:.1f} minutes. Absolute numbers depend on the "
        "machine and what else runs on it; the ratios, measured side by side, are what "
        "carries over. Reproduce with `make bench`.",
        ":::",
        "",
    ]
    body = [
        *_section_startup(results, charts_made),
        *_section_gate(results),
        *_section_load(results, charts_made),
        *_section_compare(results, charts_made),
        *_section_workers(results, charts_made),
        *_section_docs(results),
        *_section_setup(results),
    ]
    return "\n".join(header + body).rstrip() + "\n"


def write_docs(results: Results, charts_made: list[str]) -> Path:
    DOCS_INCLUDE.parent.mkdir(parents=True, exist_ok=True)
    DOCS_INCLUDE.write_text(markdown(results, charts_made))
    return DOCS_INCLUDE
