"""The benchmark harness runs and writes well-formed results (no timing is asserted here).

``make bench`` is the measuring tool; this smoke run keeps it from rotting between runs: one
start-up pair of one backend, into a private output directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.server
def test_startup_smoke_run_writes_a_ratio(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "startup",
            "--backends",
            "waitress",
            "--pairs",
            "1",
            "--output",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["meta"], "the machine, versions and date are recorded"
    waitress = data["startup"]["waitress"]
    assert waitress["command"].startswith("waitress-serve ")
    assert len(waitress["prodserver"]) == len(waitress["native"]) == 1
    assert waitress["ratio"] > 0
