"""The benchmark harness runs and writes well-formed results (no timing is asserted here).

``make bench`` is the measuring tool; this smoke run keeps it from rotting between runs: one
start-up pair of one backend, into a private output directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the harness is a package of the repository, not installed
    sys.path.insert(0, str(ROOT))


def smoke_run(out: Path, *options: str) -> dict[str, Any]:
    """``python -m benchmarks --quick OPTIONS`` into ``out``; the results it wrote."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", *options, "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


@pytest.mark.server
def test_startup_smoke_run_writes_a_ratio(tmp_path: Path) -> None:
    data = smoke_run(tmp_path, "--only", "startup", "--backends", "waitress", "--pairs", "1")
    assert data["meta"], "the machine, versions and date are recorded"
    waitress = data["startup"]["waitress"]
    assert waitress["command"].startswith("waitress-serve ")
    assert len(waitress["prodserver"]) == len(waitress["native"]) == 1
    assert waitress["ratio"] > 0


WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/io/
  1 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   980.12ms  300.00ms   1.99s    70.00%
  Latency Distribution
     50%  1.01s
     75%  1.20s
     90%  1.60s
     99%  1.98s
  113 requests in 3.00s, 20.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 97
  Non-2xx or 3xx responses: 1
Requests/sec:     37.66
Transfer/sec:      6.67KB
"""


def test_wrk_timeouts_are_counted_apart_from_errors() -> None:
    from benchmarks.load import parse_wrk

    result = parse_wrk(WRK_OUTPUT)
    assert (result.requests, result.errors, result.timeouts) == (113, 3, 97)
    assert (result.p50, result.p99) == (1.01, 1.98)


@pytest.mark.server
def test_compare_smoke_run_covers_every_workload(tmp_path: Path) -> None:
    """One configuration, every workload, one level: the JSON and the docs tables it makes."""
    from benchmarks.compare import WORKLOADS

    data = smoke_run(
        tmp_path, "--only", "compare", "--backends", "gunicorn-gthread", "--levels", "8"
    )
    compare = data["compare"]
    entry = compare["configs"]["gunicorn-gthread"]
    assert "--worker-class=gthread" in entry["command"]
    assert entry["processes"] >= 2 and entry["peak_process_rss"] > 0
    assert set(entry["cells"]) == {path for path, _ in WORKLOADS}
    for path, cells in entry["cells"].items():
        cell = cells["8"]
        assert cell["requests"] > 0, path
        assert cell["errors"] == 0, path
    inc = (tmp_path / "benchmarks-results.inc").read_text()
    for label in ("benchmarks-workloads", "benchmarks-sync-io", "benchmarks-fastest-slowest"):
        assert f"({label})=" in inc
    assert "### `/async-db/`" in inc
