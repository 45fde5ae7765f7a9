"""The version matrix: the package as users install it, on the newest and the oldest stacks.

``make test`` runs the whole suite on the default interpreter (Python 3.11, Django 5.2 LTS) in
``.venv``, builds ``dist/`` (``make dist``), and then these sessions (``nox -s newest lowest``).
Each creates a fresh virtual environment with uv, installs the wheel from ``dist/`` (not the
source tree, not editable) with every extra plus the ``test`` dependency group, and runs the
tests of this checkout except the documentation's (servers, workers, configuration, checks,
the command, the package metadata):

* ``newest``: Python 3.13 and the newest Django 6.x, resolved when the session runs, so a new
  6.x release is tested without a change here. Every other package is its newest release.
* ``lowest``: Python 3.11 and the lowest version that the package allows of each of its direct
  requirements (``Django>=5.2`` gives 5.2, each extra's lower bound likewise), with their own
  dependencies at their newest, as a user pinning old releases gets them.
  ``tests/test_package.py`` checks that each one installed is exactly its lower bound.

The documentation's tests (``test_docs_*.py``, the troubleshooting page's reproducers and the
benchmark harness) need the docs tools and quote the output of the versions the docs were
written for, so they run only in the default environment.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
VERSION = PYPROJECT["project"]["version"]

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["newest", "lowest"]
# A missing interpreter must fail the run, not skip the leg.
nox.options.error_on_missing_interpreters = True
nox.options.download_python = "never"

#: Every test but the documentation's (new test files are included unless named test_docs_*).
TESTS = [
    "--ignore-glob=tests/test_docs_*.py",
    "--ignore=tests/test_troubleshooting.py",
    "--ignore=tests/test_benchmarks.py",
]


def interpreter(version: str) -> str:
    """Python ``version`` from pyenv if it has one (pyenv's shims only run the global version),
    else whatever nox finds on PATH."""
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run(
            [pyenv, "prefix", version], capture_output=True, text=True, check=False
        )
        python = Path(found.stdout.strip()) / "bin" / "python3"
        if found.returncode == 0 and python.exists():
            return str(python)
    return version


def wheel() -> Path:
    """The wheel that ``make dist`` built from this checkout."""
    found = sorted(DIST.glob(f"django_prodserver-{VERSION}-*.whl"))
    if len(found) != 1:
        raise SystemExit(f"expected one django_prodserver {VERSION} wheel in {DIST}: run make dist")
    return found[0]


def run_tests(session: nox.Session, leg: str, started: float) -> None:
    """Say which Django and Python run, run the tests, then the leg's wall time."""
    session.run(
        "python",
        "-c",
        "import django, sys; print('Django', django.get_version(), 'on Python', sys.version)",
    )
    # PRODSERVER_TEST_LEG tells tests/test_package.py what this environment must hold.
    # In parallel, as make test runs the default leg (see PYTEST_PARALLEL in the Makefile).
    parallel = ["-n", "4", "--dist", "loadgroup"]
    session.run("pytest", *parallel, *TESTS, *session.posargs, env={"PRODSERVER_TEST_LEG": leg})
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    session.log(f"{leg}: {minutes} min {seconds} s wall time, installation included")


@nox.session(python=interpreter("3.13"))
def newest(session: nox.Session) -> None:
    """Python 3.13, the newest Django 6.x and the newest release of every backend."""
    started = time.monotonic()
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    # --refresh-package: ask the index again, so a Django released since the last run is used.
    session.install("--refresh-package=django", f"{wheel()}[all]", "Django>=6,<7")
    run_tests(session, "newest", started)


@nox.session(python=interpreter("3.11"))
def lowest(session: nox.Session) -> None:
    """Python 3.11 and the lowest allowed version of each direct requirement."""
    started = time.monotonic()
    session.install(*nox.project.dependency_groups(PYPROJECT, "test"))
    # uv lowers only the requirements named on its command line ("direct"), not those of a
    # wheel given there, so pyproject.toml names them; the wheel is what gets installed.
    session.install(
        "--resolution=lowest-direct",
        f"{wheel()}[all]",
        "--requirements=pyproject.toml",
        "--all-extras",
    )
    run_tests(session, "lowest", started)
