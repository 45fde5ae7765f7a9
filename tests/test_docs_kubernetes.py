"""Every Kubernetes manifest in the docs passes ``kubernetes-validate --strict``.

kubernetes-validate (test dependency group) checks each document against the Kubernetes API
schemas it bundles, offline; ``--strict`` also rejects fields the schema does not have, so a
misspelt field fails (the last test proves it on a copy of the guide's web Deployment). A YAML
block without ``apiVersion`` and ``kind`` is a fragment, and must appear word for word in one
of the page's manifests.

The timing rules the guide gives are checked on the manifests themselves: a web pod's grace
period covers its ``preStop`` pause plus the server's graceful timeout from the page's
settings; beat runs one replica with the ``Recreate`` strategy.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import docs_blocks
from kubectl_stand_in import kubernetes_validate

PAGE = docs_blocks.docs_root() / "guides" / "kubernetes.md"
YAML_BLOCKS = [
    b for path in docs_blocks.doc_files() for b in docs_blocks.blocks(path) if b.language == "yaml"
]


def documents(block: docs_blocks.Block) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(block.source) if doc is not None]


def is_manifest(block: docs_blocks.Block) -> bool:
    docs = documents(block)
    return bool(docs) and all(isinstance(d, dict) and "apiVersion" in d for d in docs)


MANIFESTS = [b for b in YAML_BLOCKS if is_manifest(b) and "kubernetes" in b.where]


def validate(source: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(source)
    return kubernetes_validate(manifest)


@pytest.mark.parametrize("block", [pytest.param(b, id=b.where) for b in MANIFESTS])
def test_manifest_passes_strict_validation(block: docs_blocks.Block, tmp_path: Path) -> None:
    result = validate(block.source, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{block.where}:\n{output}"
    assert "INFO" in output and "ERROR" not in output, output


def test_fragments_are_parts_of_a_manifest() -> None:
    fragments = [b for b in YAML_BLOCKS if b not in MANIFESTS and "kubernetes" in b.where]
    for fragment in fragments:
        line = fragment.source.strip()
        assert any(line in manifest.source for manifest in MANIFESTS), fragment.where


def test_the_page_has_the_manifests_it_promises() -> None:
    kinds = [(d["kind"], d["metadata"]["name"]) for b in MANIFESTS for d in documents(b)]
    for expected in [
        ("Deployment", "mysite-web"),
        ("Deployment", "mysite-worker"),
        ("Deployment", "mysite-beat"),
        ("Service", "mysite-web"),
        ("Job", "mysite-migrate-1-4-0"),
        ("HorizontalPodAutoscaler", "mysite-web"),
    ]:
        assert expected in kinds, kinds


def deployments() -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["name"]: d
        for b in MANIFESTS
        for d in documents(b)
        if d["kind"] == "Deployment"
    }


def page_processes() -> dict[str, Any]:
    for block in docs_blocks.blocks(PAGE):
        if block.is_python and docs_blocks.mentions_processes(block.source):
            return dict(docs_blocks.run_block(block)["PRODUCTION_PROCESSES"])
    raise AssertionError("the page shows no PRODUCTION_PROCESSES")


def test_grace_periods_cover_the_graceful_timeouts() -> None:
    processes = page_processes()
    for name, deployment in deployments().items():
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        process = name.removeprefix("mysite-")
        assert container["command"] == ["python", "manage.py", "prodserver", process]
        grace = spec["terminationGracePeriodSeconds"]
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {})
        pause = int(pre_stop["command"][1]) if pre_stop else 0
        args = processes[process].get("ARGS", {})
        limit = args.get("graceful_timeout", 0) or args.get("time_limit", 0)
        assert grace > pause + limit, f"{name}: {grace} s <= {pause} s pause + {limit} s"
    beat = deployments()["mysite-beat"]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"


def test_a_misspelt_field_fails(tmp_path: Path) -> None:
    (web,) = [b for b in MANIFESTS if "name: mysite-web\nspec:\n  replicas" in b.source]
    broken = web.source.replace("terminationGracePeriodSeconds:", "terminationGracePeriodSecond:")
    result = validate(broken, tmp_path)
    assert result.returncode != 0
    assert "terminationGracePeriodSecond" in result.stdout + result.stderr
