"""Documentation build times: clean, incremental with nothing changed, and one page changed.

Builds ``docs/`` as ``make docs`` does (same builder and options, minus ``-W``, so a warning in
a page being written does not hide the timing) into a temporary output directory, never
``docs/_build``. "One page changed" bumps the modification time of ``docs/index.md`` and puts
the original time back afterwards; the file's content is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.project import ROOT
from benchmarks.stats import median

DOCS = ROOT / "docs"
TOUCHED_PAGE = DOCS / "index.md"
OPTIONS = ["-n", "--keep-going", "-q"]


def _build(out: Path) -> tuple[float, int, int]:
    """One build; return (wall seconds, exit status, number of warnings)."""
    argv = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        *OPTIONS,
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(out / "html"),
    ]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600)
    seconds = time.monotonic() - started
    return seconds, result.returncode, result.stderr.count("WARNING")


def run_docs(workdir: Path, rounds: int, log: Callable[[str], None]) -> dict[str, object]:
    if not (DOCS / "conf.py").exists():
        return {"skipped": "docs/conf.py does not exist"}
    clean: list[float] = []
    noop: list[float] = []
    one_page: list[float] = []
    status, warnings, pages = 0, 0, 0
    for index in range(rounds):
        out = workdir / f"docs-{index}"
        seconds, status, warnings = _build(out)
        clean.append(seconds)
        pages = len(list((out / "doctrees").rglob("*.doctree")))
        noop.append(_build(out)[0])
        if TOUCHED_PAGE.exists():
            stat = TOUCHED_PAGE.stat()
            try:
                os.utime(TOUCHED_PAGE, None)
                one_page.append(_build(out)[0])
            finally:
                os.utime(TOUCHED_PAGE, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        log(f"  docs round {index + 1}/{rounds}: clean {seconds:.1f} s, {pages} pages")
    clean_median = median(clean)
    return {
        "pages": pages,
        "exit_status": status,
        "warnings": warnings,
        "options": OPTIONS,
        "clean": clean,
        "clean_median": clean_median,
        "per_page_median": clean_median / pages if clean_median and pages else None,
        "noop": noop,
        "noop_median": median(noop),
        "one_page": one_page,
        "one_page_median": median(one_page),
    }
