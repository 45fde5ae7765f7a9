"""What the numbers were measured on: machine, load, versions, date and commit."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
from importlib import metadata

import psutil  # type: ignore[import-untyped, unused-ignore]

from benchmarks.project import ROOT

PACKAGES = (
    "Django",
    "django-prodserver",
    "gunicorn",
    "uvicorn",
    "uvloop",
    "httptools",
    "a2wsgi",
    "granian",
    "waitress",
    "daphne",
    "hypercorn",
    "asgiref",
    "celery",
    "redis",
    "django-tasks",
    "django-tasks-db",
    "django-q2",
    "Sphinx",
    "myst-parser",
    "furo",
    "psutil",
)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _tool_version(argv: list[str], pattern: str) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    match = re.search(pattern, result.stdout + result.stderr)
    return match.group(1) if match else None


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=30
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def describe() -> dict[str, object]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["wrk"] = _tool_version(["wrk", "-v"], r"wrk (\S+)")
    versions["redis-server"] = _tool_version(["redis-server", "--version"], r"v=(\S+)")
    status = _git("status", "--porcelain")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "machine": {
            "cpu_model": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total,
            "system": f"{platform.system()} {platform.release()}",
            "load_average_at_start": list(os.getloadavg()),
        },
        "versions": versions,
    }
