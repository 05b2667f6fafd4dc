"""The Kubernetes manifests in deploy/kubernetes/: valid against the Kubernetes schemas, and right.

No cluster runs in CI: `kubernetes-validate` checks each document against the JSON schemas of the
Kubernetes API that the package bundles (strict: an unknown or misspelt field fails, no network is
used). The other tests read what a broken deployment would get wrong: probes, secrets written out,
selectors that match nothing, a disruption budget that blocks every drain, settings that do not exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.37"
SECRET_NAMES = ("SECRET_KEY", "PROXY_ENCRYPTION_KEY", "DATABASE_URL", "CACHE_URL")
"""Settings that carry a secret (a password in a URL counts): only ever from a Secret, by reference."""


def documents() -> list[dict]:
    return [doc for path in sorted(FOLDER.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def one(kind: str) -> dict:
    [found] = [doc for doc in documents() if doc["kind"] == kind]
    return found


def containers() -> list[dict]:
    return [c for kind in ("Deployment", "Job") for c in one(kind)["spec"]["template"]["spec"]["containers"]]


def test_the_folder_holds_every_kind_a_deployment_needs():
    kinds = sorted(doc["kind"] for doc in documents())
    expected = ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"]
    assert kinds == expected


@pytest.mark.parametrize("doc", documents(), ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}")
def test_each_manifest_is_valid_against_the_kubernetes_schema(doc):
    assert kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True) == KUBERNETES_VERSION


def test_the_validator_rejects_a_misspelt_probe_field_offline():
    broken = one("Deployment")
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGet"]["pth"] = container["readinessProbe"]["httpGet"].pop("path")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_pods_are_ready_and_alive_only_while_health_answers_on_the_served_port():
    [gateway] = one("Deployment")["spec"]["template"]["spec"]["containers"]
    [port] = gateway["ports"]
    config = one("ConfigMap")["data"]
    assert port["containerPort"] == int(config["PORT"]) and config["HOST"] == "0.0.0.0"
    for probe in ("readinessProbe", "livenessProbe"):
        assert gateway[probe]["httpGet"] == {"path": "/health", "port": port["name"]}, probe
    # A pod leaves the Service well before it is restarted: liveness is the more patient of the two.
    ready, alive = gateway["readinessProbe"], gateway["livenessProbe"]
    assert alive["periodSeconds"] * alive["failureThreshold"] > ready["periodSeconds"] * ready["failureThreshold"]


def test_the_job_migrates_and_the_pods_do_not():
    [migrate] = one("Job")["spec"]["template"]["spec"]["containers"]
    [gateway] = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert one("Job")["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert gateway["command"][:3] == ["python", "manage.py", "serve"] and "--no-migrate" in gateway["command"]
    assert migrate["image"] == gateway["image"]


def test_secrets_come_only_by_reference():
    assert "Secret" not in {doc["kind"] for doc in documents()}, "a Secret object would hold the values"
    for container in containers():
        for var in container.get("env", []):
            assert "value" not in var or not re.search(r"KEY|SECRET|TOKEN|PASSWORD|URL", var["name"]), var
            assert set(var) == {"name", "valueFrom"} and "secretKeyRef" in var["valueFrom"], var
        for source in container.get("envFrom", []):
            assert set(source) <= {"configMapRef", "secretRef"}, source
    assert not set(SECRET_NAMES) & set(one("ConfigMap")["data"]), "a secret in the ConfigMap"
    [gateway] = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert {var["name"] for var in gateway["env"]} >= set(SECRET_NAMES)


def env_names() -> set[str]:
    names = set(one("ConfigMap")["data"])
    for container in containers():
        names |= {var["name"] for var in container.get("env", [])}
        names |= {var["valueFrom"]["secretKeyRef"]["key"] for var in container.get("env", [])}
    return names


def test_every_setting_the_manifests_set_exists_in_settings_and_env_example():
    settings_text = (REPO / "proxy_site" / "settings.py").read_text()
    example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (REPO / ".env.example").read_text(), re.MULTILINE))
    names = env_names()
    assert {name for name in names if f'"{name}"' not in settings_text} == set()
    assert names - example == set()


def test_the_service_hpa_and_disruption_budget_reach_the_deployment_pods():
    deployment = one("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one("Service")["spec"]["selector"].items() <= labels.items()
    assert one("Service")["spec"]["ports"][0]["targetPort"] == "http"
    budget = one("PodDisruptionBudget")["spec"]
    assert budget["selector"]["matchLabels"].items() <= labels.items()
    # The Job's pods are not the server's: neither the Service nor the budget may select them.
    job_labels = one("Job")["spec"]["template"]["metadata"]["labels"]
    assert not one("Service")["spec"]["selector"].items() <= job_labels.items()
    target = one("HorizontalPodAutoscaler")["spec"]
    assert (target["scaleTargetRef"]["kind"], target["scaleTargetRef"]["name"]) == (
        "Deployment",
        deployment["metadata"]["name"],
    )
    # A drain may take a pod, but never the last one.
    assert target["minReplicas"] >= 2 and budget == {**budget, "maxUnavailable": 1}
    assert "minAvailable" not in budget
