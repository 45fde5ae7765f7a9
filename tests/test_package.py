"""The package as users install it: what the sdist and the wheel hold, and their metadata.

In the default environment the archives are built here, from a copy of this checkout (its
tracked and new files), so the checkout gets no ``build/`` or ``*.egg-info``. In the matrix
legs (``noxfile.py`` sets ``PRODSERVER_TEST_LEG``) the package was installed from the wheel:
these tests then check that the tests really import it from there, and in the ``lowest`` leg
that every requirement is installed at exactly its lower bound, which is what makes that leg
prove the bounds.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import django
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import django_prodserver
from conftest import ROOT

LEG = os.environ.get("PRODSERVER_TEST_LEG", "")
NAME = "django-prodserver"
VERSION = django_prodserver.__version__
MODULES = sorted(
    path.relative_to(ROOT / "src").as_posix()
    for path in (ROOT / "src" / "django_prodserver").rglob("*")
    if path.suffix in (".py", ".typed")
)

in_default_environment = pytest.mark.skipif(
    bool(LEG), reason="the default environment builds and checks the archives"
)


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(sdist, wheel) built by ``python -m build`` from a copy of this checkout."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    source = tmp_path_factory.mktemp("source")
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():  # deleted but not yet committed files are listed too
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


@in_default_environment
def test_sdist_has_what_a_user_or_packager_needs(archives: tuple[Path, Path]) -> None:
    sdist, _ = archives
    top = f"django_prodserver-{VERSION}/"
    with tarfile.open(sdist) as tar:
        names = {name.removeprefix(top) for name in tar.getnames()}
    for wanted in ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml"):
        assert wanted in names
    missing = [module for module in MODULES if f"src/{module}" not in names]
    assert missing == [], "modules (and py.typed) missing from the sdist"
    assert "src/django_prodserver/py.typed" in names
    # The test suite needs the whole checkout; a partial copy would only mislead.
    assert not [name for name in names if name.startswith(("tests/", "example/", "docs/"))]


@in_default_environment
def test_wheel_holds_the_package_and_its_licence_only(archives: tuple[Path, Path]) -> None:
    _, wheel = archives
    info = f"django_prodserver-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert {name.split("/")[0] for name in names} == {"django_prodserver", info}
    assert sorted(name for name in names if not name.startswith(info)) == MODULES
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert not [c for c in metadata.get_all("Classifier", []) if c.startswith("License ::")], (
        "PEP 639: the License-Expression replaces license classifiers"
    )


def installed_metadata() -> Message:
    return importlib.metadata.metadata(NAME)  # type: ignore[return-value]


def listed(prefix: str) -> set[str]:
    """The versions that classifiers ``PREFIX :: X.Y`` list."""
    classifiers = installed_metadata().get_all("Classifier", [])
    return {c.removeprefix(f"{prefix} :: ") for c in classifiers if c.startswith(f"{prefix} :: ")}


def test_classifiers_list_the_django_and_python_running_here() -> None:
    """Each leg checks its own versions, so the classifiers name every version CI tests.

    When a new Django 6.x is released the ``newest`` leg runs it and fails here until its
    classifier is added (and the one that no leg runs any more is removed).
    """
    running_django = f"{django.VERSION[0]}.{django.VERSION[1]}"
    running_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert running_django in listed("Framework :: Django"), (
        f'Django {running_django} runs here: add "Framework :: Django :: {running_django}"'
    )
    assert running_python in listed("Programming Language :: Python"), (
        f'Python {running_python} runs here: add "Programming Language :: Python :: '
        f'{running_python}"'
    )


def test_requires_python_starts_at_the_oldest_python_classifier() -> None:
    pythons = [v for v in listed("Programming Language :: Python") if v[:1].isdigit() and "." in v]
    oldest = min(pythons, key=Version)
    requires = SpecifierSet(installed_metadata()["Requires-Python"])
    assert requires == SpecifierSet(f">={oldest}")


@pytest.mark.skipif(not LEG, reason="the default environment installs the checkout (editable)")
def test_tests_use_the_installed_wheel() -> None:
    """Not the source tree: the package lives in site-packages, installed from a wheel."""
    location = Path(django_prodserver.__file__).resolve()
    assert location.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
    assert not location.is_relative_to(ROOT / "src")
    direct_url = importlib.metadata.distribution(NAME).read_text("direct_url.json")
    assert direct_url is not None
    source = json.loads(direct_url)
    assert source["url"].endswith(".whl"), source
    assert not source.get("dir_info", {}).get("editable", False)


def requirements() -> list[Requirement]:
    """What the installed package requires with every extra, without itself (``all``)."""
    extras = installed_metadata().get_all("Provides-Extra", [])
    found = []
    for line in importlib.metadata.requires(NAME) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        wanted = marker is None or any(marker.evaluate({"extra": extra}) for extra in extras)
        if wanted and requirement.name != NAME:
            found.append(requirement)
    return found


@pytest.mark.skipif(LEG != "lowest", reason="only the lowest leg installs the lower bounds")
def test_lowest_leg_runs_every_lower_bound() -> None:
    wrong = {}
    for requirement in requirements():
        (lower,) = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        installed = Version(importlib.metadata.version(requirement.name))
        if installed != lower:
            wrong[requirement.name] = f"{installed} installed, lower bound {lower}"
    assert wrong == {}


@pytest.mark.skipif(LEG != "newest", reason="only the newest leg runs Django 6")
def test_newest_leg_runs_django_6_on_python_3_13() -> None:
    assert django.VERSION[0] == 6
    assert sys.version_info[:2] == (3, 13)
