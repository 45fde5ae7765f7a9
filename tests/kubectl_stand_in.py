"""What ``kubectl`` does with the Kubernetes guide's manifests, without a cluster.

A pod is a container of ``docker_stand_in`` (PID 1 of a new PID namespace) from the image the
page built, with the environment its manifest gives (``envFrom`` ConfigMaps and Secrets, then
``env``):

* ``kubectl create secret generic NAME --from-literal=KEY=VALUE`` stores the Secret (the shell
  expands the value first, as it would for kubectl);
* ``kubectl apply -f FILE``: the file is validated first, as ``kubectl`` does by default
  (``--validate=strict``: an unknown or misspelt field is an error), here offline with
  ``kubernetes-validate --strict``; then a Job runs its container to completion (status 0,
  as the Job's ``complete`` condition needs); a Deployment starts one pod whatever its
  ``replicas``, and is ready when its ``readinessProbe`` answers 200; its ``livenessProbe``
  must answer 200 too, and the same probe without its ``httpHeaders`` must not (the page
  says why it sets them);
* at the end, each pod is terminated as the kubelet does: the ``preStop`` command runs, then
  ``SIGTERM`` goes to PID 1, and the pod must exit with status 0 within what is left of
  ``terminationGracePeriodSeconds``.

Not carried out, and reported: Services, autoscalers and scaling (no cluster network, no
metrics), and the pods a test says it cannot run here.
"""

from __future__ import annotations

import http.client
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

import journey
from docker_stand_in import Container, Docker
from journey import Journey, StandIn


def kubernetes_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """``kubernetes-validate --strict`` of a manifest file: the schemas, offline."""
    beside_python = Path(sys.executable).parent / "kubernetes-validate"
    program = str(beside_python) if beside_python.is_file() else shutil.which("kubernetes-validate")
    if program is None:
        pytest.fail("kubernetes-validate is not installed (test dependency group)")
    return subprocess.run(
        [program, "--strict", "--no-warn", str(path)], capture_output=True, text=True, timeout=120
    )


def validate_strictly(path: Path, where: str) -> None:
    """``kubectl apply``'s own field validation, offline: fail on what the cluster refuses."""
    result = kubernetes_validate(path)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "ERROR" not in output, (
        f"{where}: kubectl refuses it:\n{output}"
    )


@dataclass
class Kubectl(StandIn):
    docker: Docker
    #: Deployment name -> why its pod cannot run on this machine.
    cannot_run: dict[str, str] = field(default_factory=dict)
    configmaps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> pod spec
    probed: list[str] = field(default_factory=list)

    def handle(
        self, session: Journey, where: str, words: list[str], shown: tuple[str, ...]
    ) -> bool:
        words = self.expanded(session, where)
        verb = words[1]
        if verb == "create" and words[2] == "secret":
            literals = [w.split("=", 1)[1] for w in words if w.startswith("--from-literal=")]
            self.secrets[words[4]] = dict(item.split("=", 1) for item in literals)
        elif verb == "apply":
            path = session.cwd / words[words.index("-f") + 1]
            validate_strictly(path, where)
            for manifest in yaml.safe_load_all(path.read_text()):
                self.apply(session, manifest, where)
        elif verb == "wait":
            kind, _, name = words[-2 if words[-1].startswith("--") else -1].partition("/")
            assert kind == "job" and self.jobs.get(name) == 0, f"{where}: {name} did not complete"
        elif verb == "rollout":
            name = words[-1].partition("/")[2]
            assert name in self.pods, f"{where}: no pod of {name} is ready"
        else:
            session.skipped(where, "no Kubernetes cluster here (scaling needs one)")
        return True

    def expanded(self, session: Journey, where: str) -> list[str]:
        """The command's words after the shell's expansions (``$(...)``)."""
        script = f"kubectl() {{ printf '%s\\0' kubectl \"$@\"; }}; {self.text}"
        return session.shell_words(script, where)

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env |= self.configmaps[source["configMapRef"]["name"]]
            if "secretRef" in source:
                env |= self.secrets[source["secretRef"]["name"]]
        env |= {item["name"]: item["value"] for item in container.get("env", [])}
        return env

    def apply(self, session: Journey, manifest: dict[str, Any], where: str) -> None:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind == "ConfigMap":
            self.configmaps[name] = {k: str(v) for k, v in manifest["data"].items()}
            return
        if kind not in {"Job", "Deployment"}:
            session.skipped(f"{where}: {kind} {name}", "no cluster network or metrics here")
            return
        if name in self.cannot_run:
            session.skipped(f"{where}: {kind} {name}", self.cannot_run[name])
            return
        spec = manifest["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        image = self.docker.images[container["image"]]
        env = self.docker.environment(
            image, {k: session.sub(v) for k, v in self.environment(container).items()}
        )
        pod = Container(
            f"pod {name}",
            image,
            None,
            [],
            float(spec.get("terminationGracePeriodSeconds", 30)),
            True,
            True,
        )
        for port in container.get("ports", []):
            # No network namespace: the pod's port must be free, or a probe could reach
            # another server.
            assert journey.port_is_free(int(session.sub(str(port["containerPort"])))), (
                f"{where}: port {port['containerPort']} of {name} is taken on this machine"
            )
        self.docker.launch(session, pod, container["command"], env, (), f"{where}: {kind} {name}")
        if kind == "Job":
            self.jobs[name] = pod.status or 0
            assert pod.status == 0, f"{where}: Job {name} failed"
            return
        self.pods[name] = spec
        for probe_name in ("readinessProbe", "livenessProbe"):
            probe = container.get(probe_name)
            if probe:
                self.probe(session, container, probe, where, probe_name)

    def probe(
        self,
        session: Journey,
        container: dict[str, Any],
        probe: dict[str, Any],
        where: str,
        probe_name: str,
    ) -> None:
        get = probe["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
        port = int(session.sub(str(port)))
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}

        def status(with_headers: dict[str, str]) -> int:
            connection = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=probe.get("timeoutSeconds", 1) + 5
            )
            connection.request("GET", get["path"], headers=with_headers)
            answer = connection.getresponse().status
            connection.close()
            return answer

        assert status(headers) == 200, f"{where}: the {probe_name} of the pod fails"
        if "Host" in headers:
            # What the kubelet sends without httpHeaders: the pod's IP address as Host.
            assert status({"Host": f"10.244.0.7:{port}"}) == 400, f"{where}: Host not needed?"
        self.probed.append(f"{probe_name} {get['path']}")

    def terminate_all(self, session: Journey) -> None:
        """Delete every pod as the kubelet does: preStop, then SIGTERM, within the grace."""
        for name, spec in list(self.pods.items()):
            (container,) = spec["containers"]
            grace = float(spec.get("terminationGracePeriodSeconds", 30))
            pod = self.docker.containers[f"pod {name}"]
            assert pod.server is not None
            started = time.monotonic()
            pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec")
            if pre_stop:
                result = session.bash(shlex.join(pre_stop["command"]))
                assert result.returncode == 0, result.stderr
            left = grace - (time.monotonic() - started)
            session.stop(pod.server.name, f"delete pod of {name}", signal.SIGTERM, timeout=left)
            pod.server = None
            del self.pods[name]
