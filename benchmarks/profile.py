"""Where prodserver's start-up time goes: ``python -m benchmarks.profile [NAME ...]``.

For each web backend (default: all six) it prints

* the time of each step inside ``manage.py prodserver NAME --dry-run`` (best of ``--runs``, so
  the machine's load matters less): Django's set-up, loading the command, the server's own
  argument parser, Django's system checks, and the whole process;
* the modules that prodserver imports before the first HTTP 200 and the native command does
  not (``-X importtime``, main process and workers together), with their own import time.

It is the tool behind the profile findings in the benchmark report; it measures, it does not
judge.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.procs import free_port, run
from benchmarks.project import EXAMPLE, WEB_BACKENDS, ProcessSpec, Project, native_argv

# Runs manage.py in this process with timers around the steps of the start path.
WRAPPER = """
import json, runpy, sys, time
START = time.perf_counter()
steps = {}
def timed(owner, attribute, label):
    original = getattr(owner, attribute)
    def wrapper(*args, **kwargs):
        begun = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            steps[label] = steps.get(label, 0.0) + time.perf_counter() - begun
    setattr(owner, attribute, wrapper)
import django, django.core.management as management
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string
timed(django, "setup", "django.setup()")
timed(management, "load_command_class", "import the prodserver command")
timed(BaseCommand, "check", "system checks")
backend = import_string(sys.argv[2])
timed(backend, "validate_args", "server's argument parser")
sys.argv = ["manage.py", "prodserver", sys.argv[1], "--dry-run"]
try:
    runpy.run_path("manage.py", run_name="__main__")
finally:
    steps["whole process (after interpreter start)"] = time.perf_counter() - START
    print("STEPS " + json.dumps(steps), file=sys.stderr)
"""

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)")


def steps(project: Project, spec: ProcessSpec, runs: int) -> dict[str, float]:
    wrapper = project.root / "profile_wrapper.py"
    wrapper.write_text(WRAPPER)
    best: dict[str, float] = {}
    for _ in range(runs):
        result = run(
            [sys.executable, str(wrapper), spec.name, spec.backend],
            env=project.env(8000),
            cwd=EXAMPLE,
        )
        line = next(x for x in result.stderr.splitlines() if x.startswith("STEPS "))
        for label, seconds in json.loads(line[6:]).items():
            best[label] = min(best.get(label, seconds), seconds)
    return best


def _imports(project: Project, argv: list[str], env: dict[str, str], port: int) -> dict[str, int]:
    env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = project.start(argv, env, "importtime")
    try:
        proc.wait_http(port)
        time.sleep(0.5)  # let the other workers finish importing too
    finally:
        proc.stop()
    found: dict[str, int] = {}
    for match in _IMPORT_LINE.finditer(proc.log_path.read_text(errors="replace")):
        found.setdefault(match.group(2), int(match.group(1)))
    return found


def import_difference(project: Project, spec: ProcessSpec) -> dict[str, int]:
    """Modules (with their own import time in µs) only prodserver imports."""
    port = free_port()
    argv_b, env_b = native_argv(project.dry_run(spec.name, port))
    native = _imports(project, argv_b, project.env(port, env_b), port)
    prodserver = _imports(
        project, project.manage_argv("prodserver", spec.name), project.env(port), port
    )
    return {name: us for name, us in prodserver.items() if name not in native}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("names", nargs="*", help="web backends (default: all six)")
    parser.add_argument("--runs", type=int, default=10, help="runs per backend (best is kept)")
    options = parser.parse_args()
    specs = [s for s in WEB_BACKENDS if not options.names or s.name in options.names]
    root = Path(tempfile.mkdtemp(prefix="prodserver-profile-"))
    try:
        project = Project(root, specs)
        project.migrate()
        for spec in specs:
            print(f"== {spec.name}: prodserver {spec.name} --dry-run, best of {options.runs}")
            for label, seconds in steps(project, spec, options.runs).items():
                print(f"   {label:<42} {seconds * 1000:7.1f} ms")
            only = import_difference(project, spec)
            total = sum(only.values()) / 1000
            print(f"   imported only by prodserver: {len(only)} modules, {total:.1f} ms own time")
            for name, us in sorted(only.items(), key=lambda item: -item[1])[:12]:
                print(f"      {us / 1000:6.1f} ms  {name}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
